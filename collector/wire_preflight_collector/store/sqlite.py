"""The SQLite store (the default `--db`, a file): WAL, `synchronous=FULL`, one writer at a time.

A report is acknowledged only after its commit is on disk, so neither SIGKILL nor a power cut
loses an acknowledged report. One fsync per report made SQLite's ingest wait on the disk, one
report after the other (bench/README.md): so reports are committed in groups (groupcommit.py),
under the same lock as every other write.
"""

import contextlib
import sqlite3
import threading
from typing import Iterator, List, Optional, Tuple

from wire_preflight_collector.store.base import IDENTITY_UPGRADE, Store
from wire_preflight_collector.store.groupcommit import GroupCommit, Job
from wire_preflight_collector.store.writelock import WriterTurns

TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS reports (
    id INTEGER PRIMARY KEY,
    report_id TEXT NOT NULL UNIQUE,
    hostname TEXT NOT NULL,
    machine_id TEXT NOT NULL,
    generated_at TEXT,
    received_at REAL NOT NULL,
    status TEXT NOT NULL,
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS reports_by_host ON reports (hostname, received_at);
CREATE TABLE IF NOT EXISTS hosts (
    hostname TEXT NOT NULL,
    machine_id TEXT NOT NULL,
    last_report INTEGER NOT NULL REFERENCES reports (id),
    generated_at TEXT,
    last_seen REAL NOT NULL,
    summary TEXT NOT NULL,
    PRIMARY KEY (hostname, machine_id)
);
"""


# Version 1 (the first collector) had no facts dedupe, drift or baselines.
MIGRATIONS = {
    2: """
ALTER TABLE reports ADD COLUMN facts_hash TEXT;
ALTER TABLE hosts ADD COLUMN snapshot TEXT;
ALTER TABLE hosts ADD COLUMN stale INTEGER NOT NULL DEFAULT 0;
ALTER TABLE hosts ADD COLUMN baseline TEXT;
ALTER TABLE hosts ADD COLUMN baseline_at REAL;
CREATE TABLE facts_blobs (hash TEXT PRIMARY KEY, body BLOB NOT NULL);
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    hostname TEXT NOT NULL,
    kind TEXT NOT NULL,
    at REAL NOT NULL,
    before TEXT,
    after TEXT,
    detail TEXT NOT NULL,
    open INTEGER NOT NULL DEFAULT 1,
    accepted_at REAL
);
CREATE INDEX events_by_time ON events (at);
CREATE INDEX events_open ON events (open, kind);
""",
    3: """
ALTER TABLE hosts ADD COLUMN observed_at REAL;
CREATE TABLE host_keys (
    machine_id TEXT PRIMARY KEY,
    key_hash TEXT NOT NULL UNIQUE,
    hostname TEXT NOT NULL,
    product_uuid TEXT,
    enrolled_at REAL NOT NULL,
    last_used REAL
);
""",
    # Retention deletes old reports by age, keeps every host's newest, and then the facts
    # blobs no report references: each of those looks needs its index.
    4: """
CREATE INDEX reports_by_time ON reports (received_at);
CREATE INDEX reports_by_facts ON reports (facts_hash);
CREATE INDEX hosts_by_report ON hosts (last_report);
""",
    5: """
CREATE TABLE names (
    name TEXT PRIMARY KEY,
    machine_id TEXT NOT NULL,
    product_uuid TEXT,
    claimed_at REAL NOT NULL,
    rekey_code_hash TEXT,
    rekey_until REAL
);
CREATE INDEX names_by_machine ON names (machine_id);
CREATE TABLE pending (
    id INTEGER PRIMARY KEY,
    machine_id TEXT NOT NULL UNIQUE,
    hostname TEXT NOT NULL,
    product_uuid TEXT,
    key_hash TEXT NOT NULL UNIQUE,
    holder TEXT,
    address TEXT,
    state TEXT NOT NULL DEFAULT 'pending',
    requested_at REAL NOT NULL,
    last_seen REAL NOT NULL
);
ALTER TABLE host_keys ADD COLUMN bound_at REAL;
"""
    + IDENTITY_UPGRADE,
}


class SqliteStore(Store):
    """The SQLite store: one file, WAL, writes serialised by a thread lock in a process, a
    lock file between processes (store/writelock.py) and SQLite's own (BEGIN IMMEDIATE)."""

    errors: Tuple[type, ...] = (sqlite3.Error,)

    def __init__(self, path: str):
        self.path = path
        self.where = path
        self._write_lock = threading.Lock()
        self._turns = WriterTurns(path)
        self._local = threading.local()
        self._group = GroupCommit(self._write_lock, self._write_together)
        with self._write() as conn:
            # TABLES is schema 1: a new file starts there and takes every migration.
            self._set_up(conn, TABLES, MIGRATIONS, 1)

    def _connect(self) -> sqlite3.Connection:
        """One connection per thread: sqlite3 connections must not be shared across threads."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

    @contextlib.contextmanager
    def _write(self, host: Optional[str] = None) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed whole, or rolled back whole on any error."""
        conn = self._connect()
        with self._write_lock, self._turns.turn():
            conn.execute("BEGIN IMMEDIATE")
            changes = conn.total_changes
            try:
                yield conn
                if conn.total_changes != changes:  # a write that changed nothing keeps caches
                    self._bump_generation(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _write_together(self, jobs: List[Job]) -> None:
        """One transaction for `jobs`, each in a savepoint (groupcommit.py)."""
        with self._turns.turn():
            self._write_jobs(self._connect(), jobs)

    def _write_jobs(self, conn: sqlite3.Connection, jobs: List[Job]) -> None:
        try:
            conn.execute("BEGIN IMMEDIATE")
            changes = conn.total_changes
            for job in jobs:
                conn.execute("SAVEPOINT report")
                try:
                    job.result = job.write(conn)
                except Exception as exc:
                    job.error = exc
                    if not conn.in_transaction:  # SQLite gave the whole transaction up
                        raise
                    conn.execute("ROLLBACK TO report")
                conn.execute("RELEASE report")
            if conn.total_changes != changes:  # a write that changed nothing keeps caches
                self._bump_generation(conn)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def integrity(self) -> str:
        """SQLite's full integrity check: reads every page, so an admin asks for it."""
        return self._connect().execute("PRAGMA integrity_check").fetchone()[0]

    def backup(self, target: str) -> None:
        """A consistent copy of the database at this moment, while others keep writing.

        SQLite's online backup API in one step: it reads one snapshot (WAL lets writers go on
        meanwhile), so every report committed before the call is in the copy."""
        conn = sqlite3.connect(target, isolation_level=None)
        try:
            self._connect().backup(conn, pages=-1)
            conn.execute("PRAGMA journal_mode=WAL")
        finally:
            conn.close()
