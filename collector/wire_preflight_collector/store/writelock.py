"""The SQLite store's writers in different processes take turns here.

SQLite lets one writer in at a time (BEGIN IMMEDIATE). A writer of another process that finds
the database locked sleeps in SQLite's busy handler and tries again (after 1, 2, 5, 10 ... up to
100 ms), so two processes of one collector (workers.py) would lose time asleep after the lock
is free. An exclusive flock on a file beside the database wakes the next writer as soon as the
lock is let go. Within a process the store's thread lock is held first: a flock belongs to the
open file, which all of a process's threads share.

The file is `<database>-writer`. flock, not fcntl: SQLite holds POSIX locks on the database's
own files, and a process that closes any descriptor of a file drops every POSIX lock it holds
on that file.
"""

import contextlib
import fcntl
import os
import sqlite3
from typing import Iterator, Optional


class WriterTurns:
    def __init__(self, database: str):
        # SQLite's in-memory database is one connection's own: no other process writes it.
        self.path = None if database in ("", ":memory:") else database + "-writer"
        self._fd: Optional[int] = None
        self._pid: Optional[int] = None

    @contextlib.contextmanager
    def turn(self) -> Iterator[None]:
        """This process's turn to write; call it with the store's thread lock held."""
        if self.path is None:
            yield
            return
        fd = self._file()
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def _file(self) -> int:
        assert self.path is not None
        # After a fork the inherited descriptor is the parent's open file, and so its flock:
        # each process opens its own.
        if self._fd is None or self._pid != os.getpid():
            try:
                # Not through a symbolic link: one planted there would have the collector
                # create (as its user, perhaps root) whatever file the link names.
                flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
                self._fd = os.open(self.path, flags, 0o600)
            except OSError as exc:
                # An error of the store's (503, nothing written), as SQLite's own would be.
                raise sqlite3.OperationalError(
                    f"cannot open the writers' lock {self.path}: {exc.strerror}"
                ) from None
            self._pid = os.getpid()
        return self._fd
