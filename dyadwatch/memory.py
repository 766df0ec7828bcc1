"""Give the memory a long run has freed back to the operating system.

CPython frees big objects (page texts, records) with ``free``, but glibc keeps freed heap
memory for reuse, so a process that stored 10,000 articles stays as large as its busiest
moment, and fragmentation makes each busy moment a little larger than the last.
``malloc_trim`` returns the free pages at once. Elsewhere than glibc this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def _libc() -> Any:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


def release() -> bool:
    """Return freed heap memory to the system; whether that was possible here."""
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True
