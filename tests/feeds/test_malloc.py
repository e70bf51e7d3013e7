import platform
import threading

import pytest

from feeds.malloc import cap_arenas, rss_mb, trim

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the cap and the trim are glibc's")


def test_the_daemon_caps_glibcs_arenas(monkeypatch):
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert cap_arenas() is True


def test_an_operators_malloc_arena_max_is_left_to_glibc(monkeypatch):
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert cap_arenas() is False


def test_trim_gives_pages_freed_in_a_threads_arena_back():
    """80 MB of malloc'd blocks made and freed in a thread, every 100th kept so the arena cannot shrink from its
    top: the freed pages stay in the RSS until the trim."""
    kept = []

    def churn():
        blocks = [bytearray(4000) for _ in range(20000)]
        kept.extend(blocks[::100])

    thread = threading.Thread(target=churn)
    thread.start()
    thread.join()
    before = rss_mb()
    assert trim() is True
    assert before - rss_mb() > 40
