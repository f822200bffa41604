"""The PostgreSQL store (`--db postgresql://...`): the same SQL as the SQLite store, for an
operator who runs several collectors on one database or wants it managed apart.

Several collector processes write at once, so the writers coordinate in the database with
transaction-scoped advisory locks (released by commit, rollback or a dead connection, so a
collector killed with SIGKILL leaves none behind):
- reports take the shared fleet lock and their hosts' locks: two reports of one host are
  compared one after the other (drift needs the previous one), reports of different hosts go
  side by side (another collector's);
- anything that touches many hosts at once (staleness, accept, forget, enrolment, retention)
  takes the fleet lock exclusively, as SQLite's single writer would.
Reports are committed in groups (groupcommit.py): the reports waiting in one process are
stored in one transaction, each in a savepoint, under the fleet lock shared and every one of
their hosts' locks (taken in name order). A report is acknowledged after its commit, and
synchronous_commit (on by default) makes that commit durable; the report id's UNIQUE
constraint keeps a delivery posted to two collectors stored once.
"""

import contextlib
import functools
import os
import shutil
import subprocess
import threading
from typing import Any, Dict, Iterator, List, Optional, Tuple

import psycopg

from wire_preflight_collector.store.base import IDENTITY_UPGRADE, SCHEMA_VERSION, Store
from wire_preflight_collector.store.groupcommit import GroupCommit, Job
from wire_preflight_collector.store.location import redact_url

# Text the collector sorts by is compared byte by byte ("C"), as SQLite does, whatever the
# database's locale: the page and the API list hosts in one order on both stores.
TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS reports (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    report_id TEXT NOT NULL UNIQUE,
    hostname TEXT COLLATE "C" NOT NULL,
    machine_id TEXT COLLATE "C" NOT NULL,
    generated_at TEXT,
    received_at DOUBLE PRECISION NOT NULL,
    status TEXT NOT NULL,
    body BYTEA NOT NULL,
    facts_hash TEXT
);
CREATE INDEX IF NOT EXISTS reports_by_host ON reports (hostname, received_at);
CREATE INDEX IF NOT EXISTS reports_by_time ON reports (received_at);
CREATE INDEX IF NOT EXISTS reports_by_facts ON reports (facts_hash);
CREATE TABLE IF NOT EXISTS facts_blobs (hash TEXT PRIMARY KEY, body BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS hosts (
    hostname TEXT COLLATE "C" NOT NULL,
    machine_id TEXT COLLATE "C" NOT NULL,
    last_report BIGINT NOT NULL REFERENCES reports (id),
    generated_at TEXT,
    last_seen DOUBLE PRECISION NOT NULL,
    summary TEXT NOT NULL,
    snapshot TEXT,
    stale INTEGER NOT NULL DEFAULT 0,
    baseline TEXT,
    baseline_at DOUBLE PRECISION,
    observed_at DOUBLE PRECISION,
    PRIMARY KEY (hostname, machine_id)
);
CREATE INDEX IF NOT EXISTS hosts_by_report ON hosts (last_report);
CREATE TABLE IF NOT EXISTS events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hostname TEXT COLLATE "C" NOT NULL,
    kind TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL,
    before TEXT,
    after TEXT,
    detail TEXT NOT NULL,
    open INTEGER NOT NULL DEFAULT 1,
    accepted_at DOUBLE PRECISION
);
CREATE INDEX IF NOT EXISTS events_by_time ON events (at);
CREATE INDEX IF NOT EXISTS events_open ON events (open, kind);
CREATE TABLE IF NOT EXISTS host_keys (
    machine_id TEXT PRIMARY KEY,
    key_hash TEXT NOT NULL UNIQUE,
    hostname TEXT COLLATE "C" NOT NULL,
    product_uuid TEXT,
    enrolled_at DOUBLE PRECISION NOT NULL,
    last_used DOUBLE PRECISION,
    bound_at DOUBLE PRECISION
);
"""
# Schema 5: each lower-cased host name held by one machine; claims on held names wait.
IDENTITY_TABLES = """
CREATE TABLE IF NOT EXISTS names (
    name TEXT COLLATE "C" PRIMARY KEY,
    machine_id TEXT COLLATE "C" NOT NULL,
    product_uuid TEXT,
    claimed_at DOUBLE PRECISION NOT NULL,
    rekey_code_hash TEXT,
    rekey_until DOUBLE PRECISION
);
CREATE INDEX IF NOT EXISTS names_by_machine ON names (machine_id);
CREATE TABLE IF NOT EXISTS pending (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    machine_id TEXT COLLATE "C" NOT NULL UNIQUE,
    hostname TEXT COLLATE "C" NOT NULL,
    product_uuid TEXT,
    key_hash TEXT NOT NULL UNIQUE,
    holder TEXT,
    address TEXT,
    state TEXT NOT NULL DEFAULT 'pending',
    requested_at DOUBLE PRECISION NOT NULL,
    last_seen DOUBLE PRECISION NOT NULL
)
"""
TABLES += IDENTITY_TABLES
# The PostgreSQL store was born at schema 4 (SQLite's numbering). TABLES stays the current
# schema (a new database starts there); later versions also add their upgrade here, keyed by
# the version they produce, for databases made before them.
MIGRATIONS: Dict[int, str] = {
    5: "ALTER TABLE host_keys ADD COLUMN IF NOT EXISTS bound_at DOUBLE PRECISION;"
    + IDENTITY_TABLES
    + ";"
    + IDENTITY_UPGRADE,
}

# Advisory lock keys: one for the fleet, the host's from its name.
_FLEET_LOCK = 0x77697265  # "wire"
_SETUP_LOCK = 0x77697266


class PostgresStore(Store):
    errors: Tuple[type, ...] = (psycopg.Error,)

    def __init__(self, url: str):
        self.url = url
        self.where = redact_url(url)
        self._local = threading.local()
        # Reports wait for one batch at a time in this collector (four batches side by side
        # measured no faster: bench/README.md); other collectors' batches and every other
        # write coordinate with it through the advisory locks.
        self._group = GroupCommit(threading.Lock(), self._write_together)
        conn = self._connect()
        # Two collectors starting at once on an empty database: one creates, one waits.
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SETUP_LOCK,))
            # TABLES is kept at the current schema: a new database starts at SCHEMA_VERSION.
            self._set_up(conn, TABLES, MIGRATIONS, SCHEMA_VERSION)

    def _connect(self) -> psycopg.Connection:
        """One connection per thread, opened again after the server or network dropped it."""
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed or conn.broken:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
            self._local.conn = conn
        return conn

    _sql_cache: Dict[str, str] = {}

    def _execute(self, conn: Any, sql: str, args: Tuple[Any, ...] = ()) -> Any:
        # `?` never appears inside the collector's SQL text or literals; `%` neither.
        text = self._sql_cache.get(sql)
        if text is None:
            text = self._sql_cache[sql] = sql.replace("?", "%s")
        return conn.execute(text, args)

    @contextlib.contextmanager
    def _write(self, host: Optional[str] = None) -> Iterator[psycopg.Connection]:
        """One transaction, committed whole or rolled back whole, under the locks above."""
        conn = self._connect()
        with conn.transaction():
            if host is None:
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_FLEET_LOCK,))
            else:
                # One round trip for both, taken in this order (a SELECT list is evaluated
                # left to right): the fleet lock shared, then the host's.
                conn.execute(
                    "SELECT pg_advisory_xact_lock_shared(%s), "
                    "pg_advisory_xact_lock(hashtextextended(%s, 0))",
                    (_FLEET_LOCK, host),
                )
            yield conn
            _bump_if_written(conn)

    def _write_together(self, jobs: List[Job]) -> None:
        """One transaction for `jobs`, each in a savepoint (groupcommit.py), under the fleet
        lock shared and the lock of each host among them."""
        conn = self._connect()
        hosts = sorted({job.host for job in jobs})
        with conn.transaction():
            # In one statement, left to right: the fleet lock, then the hosts' in name order,
            # so two collectors' batches that share hosts take them in one order (no deadlock).
            conn.execute(_batch_locks(len(hosts)), (_FLEET_LOCK, *hosts))
            # One round trip a statement: psycopg's pipeline mode (four a report instead of
            # seven) measured no faster here (bench/README.md), so it is not used.
            for job in jobs:
                try:
                    with conn.transaction():  # a savepoint: rolled back alone on an error
                        job.result = job.write(conn)
                except Exception as exc:
                    job.error = exc
                    if conn.broken:  # the whole transaction is gone
                        raise
            _bump_if_written(conn)

    def integrity(self) -> str:
        """Every table reads back and every host's newest report exists. PostgreSQL checks its
        own pages (data checksums, pg_amcheck); this checks what the collector relies on."""
        conn = self._connect()
        for table in (
            "meta",
            "reports",
            "facts_blobs",
            "hosts",
            "events",
            "host_keys",
            "names",
            "pending",
        ):
            conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        missing = _value(
            conn.execute(
                "SELECT count(*) FROM hosts h WHERE NOT EXISTS "
                "(SELECT 1 FROM reports r WHERE r.id = h.last_report)"
            ).fetchone()
        )
        return "ok" if missing == 0 else f"{missing} host(s) without their newest report"

    def backup(self, target: str) -> None:
        """pg_dump's custom format: one consistent snapshot while collectors keep writing.
        Restore with pg_restore (docs/collector.md)."""
        pg_dump = shutil.which("pg_dump")
        if pg_dump is None:
            raise RuntimeError("pg_dump is not installed (apt install postgresql-client)")
        done = subprocess.run(
            [pg_dump, "--format=custom", "--no-owner", "--file", target, "--dbname", self.url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(os.environ),
            check=False,
        )
        if done.returncode != 0:
            lines = done.stderr.decode(errors="replace").strip().splitlines()
            raise RuntimeError("pg_dump: " + (lines[-1] if lines else f"exit {done.returncode}"))


def _bump_if_written(conn: psycopg.Connection) -> None:
    """A new generation token if this transaction wrote (one that wrote nothing has no id and
    keeps readers' caches). One statement asks and bumps: a round trip less."""
    conn.execute(
        "INSERT INTO meta (key, value) SELECT 'generation', %s "
        "WHERE txid_current_if_assigned() IS NOT NULL "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (os.urandom(8).hex(),),
    )


@functools.lru_cache(maxsize=None)
def _batch_locks(hosts: int) -> str:
    """The statement that takes the fleet lock shared and then `hosts` hosts' locks."""
    return "SELECT pg_advisory_xact_lock_shared(%s)" + (
        ", pg_advisory_xact_lock(hashtextextended(%s, 0))" * hosts
    )


def _value(row: Optional[Tuple[Any, ...]]) -> Any:
    """The first column of the one row an aggregate or a function call always returns."""
    if row is None:
        raise RuntimeError("PostgreSQL returned no row where one always comes")
    return row[0]
