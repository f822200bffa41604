"""What every process of one collector (`serve --workers N`) must see alike, kept in memory
the processes share: made before they are forked, so each inherits the same pages.

- the database errors /metrics counts: a counter Prometheus scrapes from whichever process
  answers must not go up and down between scrapes (it would read as a reset);
- the outcome of the last write, for /healthz: a monitor polling it must not see the store
  failing from one process and healthy from the next;
- the moment of the last admin change (readcache.py): after an admin forgets or accepts a
  host, the next read shows it whichever process answers.

Each process writes only its own slot, and a reader combines them all (the sum of the
counters, the latest of the moments). So no lock is held between processes: a worker killed
in the middle of a write (kill -9, the OOM killer) leaves nothing the others wait for, and its
replacement takes over its slot, counts included. The threads of one process share a thread
lock. Times are time.monotonic(): CLOCK_MONOTONIC is one clock for every process on the
machine, and 0.0 is "never" (it counts from boot, so any real moment is later).

A collector of one process (`--workers 1`, the tests' apps) keeps the same arrays in its own
memory: it then needs no shared memory from the system (/dev/shm) at all.
"""

import ctypes
import threading
from typing import Any, Tuple

FAILURE_NAME_BYTES = 64


class Shared:
    def __init__(self, processes: int = 1) -> None:
        """processes > 1: made before forking that many workers, each of which then calls
        use_slot() with its index."""
        if processes > 1:
            import multiprocessing

            array: Any = multiprocessing.get_context("fork").RawArray
        else:  # the same ctypes arrays, in this process's memory

            def array(code: str, size: int) -> Any:
                kind: Any = {"q": ctypes.c_longlong, "d": ctypes.c_double, "c": ctypes.c_char}
                return (kind[code] * size)()

        self._store_errors = array("q", processes)
        self._write_failed_at = array("d", processes)
        self._write_succeeded_at = array("d", processes)
        self._write_failures = array("c", processes * FAILURE_NAME_BYTES)
        self._admin_changed_at = array("d", processes)
        self._slot = 0
        self._lock = threading.Lock()  # this process's threads writing its slot

    def use_slot(self, index: int) -> None:
        """In worker `index`, after the fork: the slot this process writes."""
        self._slot = index
        self._lock = threading.Lock()  # not one a thread of the parent held at the fork

    @property
    def store_errors(self) -> int:
        return int(sum(self._store_errors))

    def count_store_error(self) -> None:
        with self._lock:
            self._store_errors[self._slot] += 1

    def write_failed(self, at: float, failure: str) -> None:
        name = failure.encode("ascii", "replace")[:FAILURE_NAME_BYTES]
        start = self._slot * FAILURE_NAME_BYTES
        with self._lock:
            self._write_failures[start : start + FAILURE_NAME_BYTES] = name.ljust(
                FAILURE_NAME_BYTES, b"\0"
            )
            self._write_failed_at[self._slot] = at

    def write_succeeded(self, at: float) -> None:
        with self._lock:
            self._write_succeeded_at[self._slot] = at

    def last_writes(self) -> Tuple[float, float, str]:
        """(the latest failed write, the latest acknowledged one, the failure's name), of any
        process; 0.0 where none happened."""
        failed = list(self._write_failed_at)
        slot = failed.index(max(failed))
        start = slot * FAILURE_NAME_BYTES
        name = bytes(self._write_failures[start : start + FAILURE_NAME_BYTES]).rstrip(b"\0")
        return failed[slot], max(self._write_succeeded_at), name.decode("ascii", "replace")

    def admin_changed(self, at: float) -> None:
        with self._lock:
            self._admin_changed_at[self._slot] = max(self._admin_changed_at[self._slot], at)

    @property
    def admin_changed_at(self) -> float:
        return float(max(self._admin_changed_at))
