"""Group commit: the reports that wait while a transaction commits are stored together.

A report's commit is durable before it is acknowledged (an fsync on SQLite, a WAL flush on
PostgreSQL with synchronous_commit on). Taken one report after the other, ingest waits on one
of those per report, and on PostgreSQL also pays the transaction's own round trips (BEGIN, the
locks, the generation token, COMMIT) every time. So a report joins a queue; whoever holds the
batch lock next takes every report queued by then and stores them in one transaction, each in
its own savepoint (a report refused or failing leaves nothing of itself and changes nothing
for the others), and one commit acknowledges them all. A report is done (result or error)
only once that commit returned, or the transaction was rolled back.
"""

import threading
from typing import Any, Callable, List, Optional


class Job:
    """A report waiting for a transaction: the host it touches, its write, what became of it."""

    __slots__ = ("done", "error", "host", "result", "write")

    def __init__(self, host: str, write: Callable[[Any], Any]):
        self.host = host
        self.write = write
        self.done = False
        self.result: Any = None
        self.error: Optional[Exception] = None


class GroupCommit:
    """The queue of reports for the next transaction, and the lock one batch holds at a time."""

    def __init__(self, lock: Any, write_together: Callable[[List[Job]], None]):
        self._lock = lock  # SQLite: the store's one write lock; PostgreSQL: the lane's own
        self._write_together = write_together
        self._waiting: List[Job] = []
        self._waiting_lock = threading.Lock()

    def write(self, host: str, write: Callable[[Any], Any]) -> Any:
        """write(conn) stored in a transaction with whatever else waits, committed before this
        returns; its exception (or the transaction's) is raised here."""
        job = Job(host, write)
        with self._waiting_lock:
            self._waiting.append(job)
        with self._lock:
            # When this one's turn comes, an earlier holder may have committed it already.
            if not job.done:
                with self._waiting_lock:
                    jobs, self._waiting = self._waiting, []
                try:
                    self._write_together(jobs)
                except BaseException as exc:
                    failure = exc if isinstance(exc, Exception) else RuntimeError("write stopped")
                    for other in jobs:  # nothing of any of them is stored
                        other.result = None
                        other.error = other.error or failure
                    if failure is not exc:
                        raise
                finally:
                    for other in jobs:
                        other.done = True
        if job.error is not None:
            raise job.error
        return job.result
