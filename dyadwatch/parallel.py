"""A process pool for the CPU-bound steps (page extraction and detection), so every core works.

Fetching is I/O and runs in threads; trafilatura and detection are pure Python and hold the
GIL, so one process would use one core however many threads it has. The pool is created on
first use and only for runs with enough pages to pay for it (:data:`MIN_PAGES`); its workers
are forked from a fork server that loaded dyadwatch and the gazetteer once (never from this
process, whose threads could hold locks), it is shared by every task of the process, and it
is replaced if a worker dies.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None

# Below this many new pages in a run, pages are processed in the fetching threads: starting
# the fork server (about 3 s: importing trafilatura and loading the gazetteer) would cost
# more than the second core saves.
MIN_PAGES = 100


def workers() -> int:
    """How many worker processes: one per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


# Pages fetched but not yet extracted, per worker: enough to keep every worker busy, few
# enough that the fetching threads (much faster than extraction) cannot pile thousands of
# pages' HTML up in memory, waiting for the pool.
BACKLOG_PER_WORKER = 8
_backlog: threading.BoundedSemaphore | None = None


def backlog() -> threading.BoundedSemaphore:
    """The process-wide limit on pages waiting for the pool: acquire it before fetching a
    page for the pool, release it when the pool is done with the page."""
    global _backlog
    with _lock:
        if _backlog is None:
            _backlog = threading.BoundedSemaphore(workers() * BACKLOG_PER_WORKER)
        return _backlog


def shared_pool() -> ProcessPoolExecutor:
    """The process pool of this process, created (or re-created after a crash) on demand."""
    global _pool
    with _lock:
        if _pool is None or getattr(_pool, "_broken", False):
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["dyadwatch.worker"])
            _pool = ProcessPoolExecutor(
                max_workers=workers(),
                mp_context=context,
                initializer=watch_parent,
                initargs=(os.getpid(),),
            )
        return _pool


def watch_parent(pid: int) -> None:
    """In a worker: exit when the process that owns the pool is gone. A run killed with
    SIGKILL cannot stop its workers, and they would otherwise wait for work forever."""

    def watch() -> None:
        while True:
            time.sleep(2)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                os._exit(0)
            except PermissionError:
                pass

    threading.Thread(target=watch, name="dyadwatch-parent-watch", daemon=True).start()


def shutdown() -> None:
    """Stop the pool's workers (at exit, or when a run is over)."""
    global _pool
    with _lock:
        if _pool is not None:
            _pool.shutdown(wait=True, cancel_futures=True)
            _pool = None


atexit.register(shutdown)
