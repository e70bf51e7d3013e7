"""The daemon's heap. Under glibc, with a thread per continuous feed (up to a thousand), glibc opens up to
eight arenas per core, and pages freed inside them stay in the process's RSS; capping the arenas at two and
trimming them once a minute keeps the RSS where the live heap is (docs/performance.md, Soak). Python's cyclic
garbage collector pauses every thread while it scans a generation; once the start-up tick has filled the caches
(plans, settings, balance checkpoints, accounts), `settle` takes them out of its scans."""

from __future__ import annotations

import ctypes
import gc
import os
import platform
from pathlib import Path

M_ARENA_MAX = -8  # glibc's malloc.h
ARENAS = 2
TRIM_INTERVAL = 60.0  # seconds between trims in the daemon's control loop


def _glibc() -> ctypes.CDLL | None:
    return ctypes.CDLL(None) if platform.libc_ver()[0] == "glibc" else None


def cap_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas before the daemon starts its threads, unless `MALLOC_ARENA_MAX` already says how
    many; True if this call set the cap. Other C libraries are left as they are."""
    libc = None if "MALLOC_ARENA_MAX" in os.environ else _glibc()
    return libc is not None and libc.mallopt(M_ARENA_MAX, arenas) == 1


def trim() -> bool:
    """Give the free pages of every malloc arena back to the OS (glibc's `malloc_trim(0)`); True if any were."""
    libc = _glibc()
    return libc is not None and libc.malloc_trim(0) == 1


def rss_mb(pid: int | str = "self") -> float | None:
    """A process's resident set now (`VmRSS`, not the peak) in MB to 0.1, from /proc; None where it cannot be
    read."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    kb = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), None)
    return None if kb is None else round(kb / 1024, 1)


def settle() -> None:
    """Collect once, then move every object alive now into the collector's permanent generation (`gc.freeze`):
    later full collections scan only what came after, so they no longer pause every thread (an AMQP standing
    request in hand among them) for as long as scanning the whole heap takes."""
    gc.collect()
    gc.freeze()
