"""What every process of one collector (`serve --workers N`) must see alike, kept in memory
the processes share: made before they are forked, so each inherits the same pages.

- the database errors /metrics counts: a counter Prometheus scrapes from whichever process
  answers must not go up and down between scrapes (it would read as a reset);
- the outcome of the last write, for /healthz: a monitor polling it must not see the store
  failing from one process and healthy from the next;
- the moment of the last admin change (readcache.py): after an admin forgets or accepts a
  host, the next read shows it whichever process answers.

Times are time.monotonic(): CLOCK_MONOTONIC is one clock for every process on the machine.
A collector of one process (`--workers 1`, the tests' apps) keeps the same values in its own
memory: it then needs no shared memory or semaphore from the system (/dev/shm) at all.
"""

import ctypes
import threading
from typing import Any

FAILURE_NAME_BYTES = 64


class Shared:
    _lock: Any  # a multiprocessing or a threading lock: both are context managers

    def __init__(self, across_processes: bool = False) -> None:
        """across_processes: made before a fork, for every process forked after."""
        if across_processes:
            import multiprocessing

            context = multiprocessing.get_context("fork")
            self._lock = context.Lock()
            self._store_errors = context.RawValue("q", 0)
            # 0.0 is "never": CLOCK_MONOTONIC counts from boot, so any real moment is later.
            self._write_failed_at = context.RawValue("d", 0.0)
            self._write_succeeded_at = context.RawValue("d", 0.0)
            self._write_failure = context.RawArray("c", FAILURE_NAME_BYTES)
            self._admin_changed_at = context.RawValue("d", 0.0)
        else:  # the same ctypes values, in this process's memory
            self._lock = threading.Lock()
            self._store_errors = ctypes.c_longlong(0)
            self._write_failed_at = ctypes.c_double(0.0)
            self._write_succeeded_at = ctypes.c_double(0.0)
            self._write_failure = ctypes.create_string_buffer(FAILURE_NAME_BYTES)
            self._admin_changed_at = ctypes.c_double(0.0)

    def lock(self) -> Any:
        """One lock for the values below (held for a few assignments only)."""
        return self._lock

    @property
    def store_errors(self) -> int:
        return int(self._store_errors.value)

    def count_store_error(self) -> None:
        with self._lock:
            self._store_errors.value += 1

    def write_failed(self, at: float, failure: str) -> None:
        with self._lock:
            self._write_failed_at.value = at
            self._write_failure.value = failure.encode("ascii", "replace")[: FAILURE_NAME_BYTES - 1]

    def write_succeeded(self, at: float) -> None:
        with self._lock:
            self._write_succeeded_at.value = at

    def last_writes(self) -> tuple[float, float, str]:
        """(failed at, succeeded at, the failure's name); 0.0 where none happened."""
        with self._lock:
            return (
                self._write_failed_at.value,
                self._write_succeeded_at.value,
                self._write_failure.value.decode("ascii", "replace"),
            )

    def admin_changed(self, at: float) -> None:
        with self._lock:
            self._admin_changed_at.value = max(self._admin_changed_at.value, at)

    @property
    def admin_changed_at(self) -> float:
        return float(self._admin_changed_at.value)
