"""The C library, for the few calls Python does not wrap: glibc's ``renameat2`` (an atomic exchange of two run
folders) and ``malloc_trim`` (freed heap memory back to the system)."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools


@functools.cache
def libc() -> ctypes.CDLL | None:
    """This process's C library (errno kept for the caller), or None where it cannot be loaded."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None


def release_freed_memory() -> None:
    """Hand the heap memory the C library keeps after frees back to the system (glibc only; nothing elsewhere).

    A long-lived worker that builds and drops one county model after another keeps the freed memory of each in
    fragmented heap arenas: 30 lean county final tasks of the 1M instance in one process grew its resident memory
    by 11.3–11.5 MB a county, and by 1.1–1.6 MB with this call after each (two runs; ``bench/README.md``)."""
    trim = getattr(libc(), "malloc_trim", None)
    if trim is not None:
        trim(0)
