"""Freed heap memory goes back to the system when a run asks for it."""

from __future__ import annotations

import os
import sys

import pytest

from dyadwatch import memory


def rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc and /proc only")
def test_release_returns_freed_heap_memory() -> None:
    # Many medium-sized blocks (below glibc's mmap threshold, like page texts) of which
    # one in ten stays alive: the free ones are holes inside the heap that ``free`` alone
    # never gives back.
    blocks = [bytes(40_000) + bytes([i % 256]) for i in range(3_000)]
    kept = blocks[::10]
    del blocks
    before = rss_mb()
    assert memory.release()
    after = rss_mb()
    assert before - after > 50, (before, after)
    del kept
