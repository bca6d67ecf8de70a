"""Memory the daemon gives back: large buffers straight from the kernel.

glibc raises its mmap threshold each time a large block is freed, so after
the first 25 MB mail every later one comes from the heap, and each thread's
arena keeps what it once held: six large mails in a row leave the daemon at
their sum. A fixed threshold of 1 MiB (which also stops the raising) returns
every large buffer to the kernel when it is freed. Other C libraries: nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger("maildesk.malloc")
M_MMAP_THRESHOLD = -3  # from glibc's malloc.h
THRESHOLD = 1024 * 1024


def return_large_buffers() -> bool:
    """True when glibc took the setting."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others have no mallopt
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    taken = bool(mallopt(M_MMAP_THRESHOLD, THRESHOLD))
    log.debug("malloc: buffers over %d bytes are mapped: %s", THRESHOLD, taken)
    return taken
