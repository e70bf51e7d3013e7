import platform

import pytest

from feeds.malloc import cap_arenas

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the cap is glibc's")


def test_the_daemon_caps_glibcs_arenas(monkeypatch):
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert cap_arenas() is True


def test_an_operators_malloc_arena_max_is_left_to_glibc(monkeypatch):
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert cap_arenas() is False
