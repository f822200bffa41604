"""The SQLite store's writers in different processes take turns here.

SQLite lets one writer in at a time (BEGIN IMMEDIATE). A writer of another process that finds
the database locked sleeps in SQLite's busy handler and tries again (after 1, 2, 5, 10 ... up to
100 ms), so two processes of one collector (workers.py) would lose time asleep after the lock
is free. An exclusive flock on a file beside the database wakes the next writer as soon as the
lock is let go. Within a process the store's thread lock is held first: a flock belongs to the
open file, which all of a process's threads share.

The file is `<database>-writer`. flock, not fcntl: SQLite holds POSIX locks on the database's
own files, and a process that closes any descriptor of a file drops every POSIX lock it holds
on that file. The file only saves time: SQLite's own lock keeps the writers apart without it.
So a file this process cannot open (made by root's `integrity` beside a service's database, a
symbolic link, which is never followed) is logged once and the writes go on without it.
"""

import contextlib
import logging
import os
from typing import Iterator, Optional

log = logging.getLogger("wire_preflight_collector")


class WriterTurns:
    def __init__(self, database: str):
        # SQLite's in-memory database is one connection's own: no other process writes it.
        self.path = None if database in ("", ":memory:") else database + "-writer"
        self._fd: Optional[int] = None
        self._pid: Optional[int] = None

    @contextlib.contextmanager
    def turn(self) -> Iterator[None]:
        """This process's turn to write; call it with the store's thread lock held."""
        fd = self._file()
        if fd is None:
            yield
            return
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def _file(self) -> Optional[int]:
        # After a fork the inherited descriptor is the parent's open file, and so its flock:
        # each process opens its own (or finds once that it cannot).
        if self.path is None or self._pid == os.getpid():
            return self._fd
        self._pid = os.getpid()
        try:
            # Not through a symbolic link: one planted there would have the collector create
            # (as its user, perhaps root) whatever file the link names.
            flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
            self._fd = os.open(self.path, flags, 0o600)
        except OSError as exc:
            self._fd = None
            log.warning(
                "cannot use the writers' lock %s (%s): this process's writes wait in SQLite's "
                "own lock instead, slower with --workers but as safe",
                self.path,
                exc.strerror,
            )
        return self._fd
