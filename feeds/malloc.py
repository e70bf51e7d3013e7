"""The daemon's malloc arenas: with a thread per continuous feed (up to a thousand), glibc opens up to eight arenas
per core and the process's RSS creeps up as they fragment; two arenas make it grow less (docs/performance.md, Soak)."""

from __future__ import annotations

import ctypes
import os
import platform

M_ARENA_MAX = -8  # glibc's malloc.h
ARENAS = 2


def cap_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas before the daemon starts its threads, unless `MALLOC_ARENA_MAX` already says how
    many; True if this call set the cap. Other C libraries are left as they are."""
    if "MALLOC_ARENA_MAX" in os.environ or platform.libc_ver()[0] != "glibc":
        return False
    return ctypes.CDLL(None).mallopt(M_ARENA_MAX, arenas) == 1
