"""Every byte the collector keeps goes through this module: SQLite, WAL, one transaction per
report.

- `reports`: every report, compressed. Its facts are split: the part that does not change from
  run to run (hardware, addresses, configuration) is stored once per distinct content in
  `facts_blobs` and referenced by hash; only what changes every run (timestamps, free space,
  address lifetimes, clock readings) is stored with each report.
- `hosts`: per hostname + machine-id, the newest summary (what the fleet rules read) and the
  drift snapshot (what the next report is compared with).
- `events`: drift, open until an operator accepts the host's new state.

synchronous=FULL: a report is acknowledged only after its commit is on disk, so neither
SIGKILL nor a power cut loses an acknowledged report. A report id is unique: a retried
delivery is stored once.
"""

import copy
import hashlib
import json
import sqlite3
import threading
import time
import zlib
from typing import Any, Dict, List, Optional, Tuple

from wire_preflight.fleet import drift
from wire_preflight.fleet.summary import summarize

SCHEMA_VERSION = 2

_TABLES = """
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
_MIGRATIONS = {
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
}

# Facts that differ on every run; everything else is stored once per distinct content.
_VOLATILE = ("collected_at", "collected_at_epoch", "time", "listeners", "errors")


def split_facts(facts: Dict[str, Any]) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """(stable, volatile): free space and address lifetimes move into volatile."""
    stable = copy.deepcopy(facts)
    volatile = {key: stable.pop(key) for key in _VOLATILE if key in stable}
    free = {}
    for index, disk in enumerate(stable.get("disks") or []):
        if isinstance(disk, dict) and "free_bytes" in disk:
            free[str(index)] = disk.pop("free_bytes")
    lifetimes = {}
    for i, iface in enumerate((stable.get("network") or {}).get("interfaces") or []):
        for j, address in enumerate(iface.get("addresses") or []):
            for key in ("valid_lifetime", "preferred_lifetime"):
                if address.get(key) is not None:
                    lifetimes[f"{i}.{j}.{key}"] = address.pop(key)
    volatile["$free"] = free
    volatile["$lifetimes"] = lifetimes
    return stable, volatile


def join_facts(stable: Dict[str, Any], volatile: Dict[str, Any]) -> Dict[str, Any]:
    facts = copy.deepcopy(stable)
    volatile = dict(volatile)
    for index, free in volatile.pop("$free", {}).items():
        facts["disks"][int(index)]["free_bytes"] = free
    for where, value in volatile.pop("$lifetimes", {}).items():
        i, j, key = where.split(".")
        facts["network"]["interfaces"][int(i)]["addresses"][int(j)][key] = value
    facts.update(volatile)
    return facts


def _pack(value: Any) -> bytes:
    return zlib.compress(json.dumps(value, separators=(",", ":"), sort_keys=True).encode(), 1)


def _unpack(blob: bytes) -> Any:
    return json.loads(zlib.decompress(blob))


class Store:
    def __init__(self, path: str):
        self.path = path
        self._write_lock = threading.Lock()
        self._local = threading.local()
        conn = self._connect()
        with self._write_lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                # Statement by statement: executescript would commit this transaction.
                for statement in _TABLES.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                row = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
                version = int(row[0]) if row else None
                if version is None:
                    version = 1
                    conn.execute("INSERT INTO meta (key, value) VALUES ('schema', '1')")
                if version > SCHEMA_VERSION:
                    raise RuntimeError(
                        f"database {path} has schema {version}, newer than this collector's "
                        f"{SCHEMA_VERSION}"
                    )
                for target in range(version + 1, SCHEMA_VERSION + 1):
                    for statement in _MIGRATIONS[target].split(";"):
                        if statement.strip():
                            conn.execute(statement)
                    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (str(target),))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

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

    # -- writing ----------------------------------------------------------------------------

    def ingest(
        self,
        report: Dict[str, Any],
        received_at: Optional[float] = None,
        free_warn_fraction: float = 0.10,
    ) -> Tuple[bool, List[Dict[str, Any]]]:
        """Store a validated report; compare it with the host's previous one.

        Returns (stored, new drift events); stored is False when this report id was stored
        before (a retried delivery), and then nothing changes.
        """
        received_at = time.time() if received_at is None else received_at
        summary = summarize(report, received_at)
        snapshot = drift.snapshot(report)
        stable, volatile = split_facts(report.get("facts") or {})
        stable_blob = _pack(stable)
        facts_hash = hashlib.sha256(stable_blob).hexdigest()
        body = _pack(dict(report, facts=volatile))
        hostname, machine_id = summary["hostname"], summary["machine_id"] or ""
        generated_at = report.get("generated_at") or ""
        conn = self._connect()
        with self._write_lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                cursor = conn.execute(
                    "INSERT OR IGNORE INTO reports (report_id, hostname, machine_id, "
                    "generated_at, received_at, status, body, facts_hash) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        report["report_id"],
                        hostname,
                        machine_id,
                        generated_at,
                        received_at,
                        summary["status"],
                        body,
                        facts_hash,
                    ),
                )
                if cursor.rowcount == 0:
                    conn.execute("COMMIT")
                    return False, []
                conn.execute(
                    "INSERT OR IGNORE INTO facts_blobs (hash, body) VALUES (?, ?)",
                    (facts_hash, stable_blob),
                )
                events = self._drift(
                    conn,
                    hostname,
                    machine_id,
                    generated_at,
                    snapshot,
                    received_at,
                    free_warn_fraction,
                )
                # A spooled report delivered late must not replace a newer one.
                conn.execute(
                    "INSERT INTO hosts (hostname, machine_id, last_report, generated_at, "
                    "last_seen, summary, snapshot, stale) VALUES (?, ?, ?, ?, ?, ?, ?, 0) "
                    "ON CONFLICT (hostname, machine_id) DO UPDATE SET "
                    "last_report = excluded.last_report, generated_at = excluded.generated_at, "
                    "summary = excluded.summary, last_seen = excluded.last_seen, "
                    "snapshot = excluded.snapshot, stale = 0 "
                    "WHERE excluded.generated_at >= hosts.generated_at",
                    (
                        hostname,
                        machine_id,
                        cursor.lastrowid,
                        generated_at,
                        received_at,
                        json.dumps(summary),
                        json.dumps(snapshot),
                    ),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return True, events

    def _drift(
        self,
        conn: sqlite3.Connection,
        hostname: str,
        machine_id: str,
        generated_at: str,
        snapshot: Dict[str, Any],
        now: float,
        free_warn_fraction: float,
    ) -> List[Dict[str, Any]]:
        previous = conn.execute(
            "SELECT snapshot, generated_at, stale FROM hosts WHERE hostname = ? "
            "ORDER BY last_seen DESC LIMIT 1",
            (hostname,),
        ).fetchone()
        if previous is None:
            found = [
                (
                    "new-host",
                    None,
                    {"roles": snapshot["roles"], "primary": snapshot["primary"]},
                    "first report, roles {}".format(",".join(snapshot["roles"]) or "none"),
                )
            ]
        elif previous[1] and generated_at < previous[1]:
            return []  # an old spooled report: the host has moved on since
        else:
            found = []
            if previous[2]:
                found.append(("returned", None, None, "reports again"))
            if previous[0]:
                found += drift.compare(json.loads(previous[0]), snapshot, free_warn_fraction)
        return [
            self._event(conn, hostname, kind, now, before, after, detail)
            for kind, before, after, detail in found
        ]

    def _event(
        self,
        conn: sqlite3.Connection,
        hostname: str,
        kind: str,
        at: float,
        before: Any,
        after: Any,
        detail: str,
    ) -> Dict[str, Any]:
        cursor = conn.execute(
            "INSERT INTO events (hostname, kind, at, before, after, detail) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (hostname, kind, at, json.dumps(before), json.dumps(after), detail),
        )
        return {
            "id": cursor.lastrowid,
            "hostname": hostname,
            "kind": kind,
            "time": at,
            "before": before,
            "after": after,
            "detail": detail,
            "open": True,
        }

    def mark_stale(self, now: float, stale_after: float) -> List[Dict[str, Any]]:
        """Hosts silent for longer than stale_after become stale, once, with an event."""
        conn = self._connect()
        with self._write_lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                rows = conn.execute(
                    "SELECT hostname, machine_id, last_seen FROM hosts "
                    "WHERE stale = 0 AND last_seen < ?",
                    (now - stale_after,),
                ).fetchall()
                events = []
                for hostname, machine_id, last_seen in rows:
                    conn.execute(
                        "UPDATE hosts SET stale = 1 WHERE hostname = ? AND machine_id = ?",
                        (hostname, machine_id),
                    )
                    events.append(
                        self._event(
                            conn,
                            hostname,
                            "stale",
                            now,
                            {"last_seen": last_seen},
                            None,
                            f"no report for {now - last_seen:.0f} s",
                        )
                    )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return events

    def accept(self, hostname: str, now: Optional[float] = None) -> Optional[int]:
        """Accept the host's current state: its open events close and its snapshot becomes
        its baseline. None when the host is unknown, else how many events closed."""
        now = time.time() if now is None else now
        conn = self._connect()
        with self._write_lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                updated = conn.execute(
                    "UPDATE hosts SET baseline = snapshot, baseline_at = ? WHERE hostname = ?",
                    (now, hostname),
                ).rowcount
                closed = conn.execute(
                    "UPDATE events SET open = 0, accepted_at = ? WHERE hostname = ? AND open = 1",
                    (now, hostname),
                ).rowcount
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return closed if updated else None

    # -- reading ----------------------------------------------------------------------------

    def summaries(self) -> List[Dict[str, Any]]:
        rows = (
            self._connect()
            .execute("SELECT summary, last_seen, stale FROM hosts ORDER BY hostname, machine_id")
            .fetchall()
        )
        out = []
        for summary, last_seen, stale in rows:
            host = json.loads(summary)
            host["last_seen"] = last_seen
            host["stale"] = bool(stale)
            out.append(host)
        return out

    def check_statuses(self) -> List[Tuple[str, float, Dict[str, str]]]:
        """(hostname, last_seen, {"check|role": status}) per host, for the metrics."""
        rows = (
            self._connect()
            .execute("SELECT hostname, last_seen, snapshot FROM hosts ORDER BY hostname")
            .fetchall()
        )
        return [
            (h, seen, (json.loads(s) or {}).get("checks", {}) if s else {}) for h, seen, s in rows
        ]

    def _report(self, row: Tuple[bytes, Optional[str]]) -> Dict[str, Any]:
        body, facts_hash = row
        report = _unpack(body)
        if facts_hash:  # schema 1 stored the whole report
            blob = (
                self._connect()
                .execute("SELECT body FROM facts_blobs WHERE hash = ?", (facts_hash,))
                .fetchone()
            )
            report["facts"] = join_facts(_unpack(blob[0]), report["facts"])
        return report

    def host(self, hostname: str, history: int = 100) -> Optional[Dict[str, Any]]:
        conn = self._connect()
        rows = conn.execute(
            "SELECT report_id, machine_id, generated_at, received_at, status FROM reports "
            "WHERE hostname = ? ORDER BY received_at DESC LIMIT ?",
            (hostname, history),
        ).fetchall()
        if not rows:
            return None
        latest = conn.execute(
            "SELECT r.body, r.facts_hash, h.baseline_at, h.stale FROM hosts h "
            "JOIN reports r ON r.id = h.last_report WHERE h.hostname = ? "
            "ORDER BY h.last_seen DESC LIMIT 1",
            (hostname,),
        ).fetchone()
        return {
            "hostname": hostname,
            "latest": self._report(latest[:2]) if latest else None,
            "baseline_accepted_at": latest[2] if latest else None,
            "stale": bool(latest[3]) if latest else False,
            "history": [
                {
                    "report_id": r[0],
                    "machine_id": r[1],
                    "generated_at": r[2],
                    "received_at": r[3],
                    "status": r[4],
                }
                for r in rows
            ],
        }

    def events(
        self,
        hostname: Optional[str] = None,
        kind: Optional[str] = None,
        since: Optional[float] = None,
        open_only: bool = False,
        limit: int = 1000,
    ) -> List[Dict[str, Any]]:
        clauses = []  # type: List[str]
        args = []  # type: List[Any]
        for clause, value in (("hostname = ?", hostname), ("kind = ?", kind), ("at >= ?", since)):
            if value is not None:
                clauses.append(clause)
                args.append(value)
        if open_only:
            clauses.append("open = 1")
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        rows = (
            self._connect()
            .execute(
                "SELECT id, hostname, kind, at, before, after, detail, open, accepted_at "
                "FROM events" + where + " ORDER BY at DESC, id DESC LIMIT ?",
                (*args, limit),
            )
            .fetchall()
        )
        return [
            {
                "id": r[0],
                "hostname": r[1],
                "kind": r[2],
                "time": r[3],
                "before": json.loads(r[4]) if r[4] else None,
                "after": json.loads(r[5]) if r[5] else None,
                "detail": r[6],
                "open": bool(r[7]),
                "accepted_at": r[8],
            }
            for r in rows
        ]

    def open_events_by_kind(self) -> Dict[str, int]:
        rows = (
            self._connect()
            .execute("SELECT kind, count(*) FROM events WHERE open = 1 GROUP BY kind")
            .fetchall()
        )
        return dict(rows)

    def count(self) -> int:
        return self._connect().execute("SELECT count(*) FROM reports").fetchone()[0]

    def check(self) -> str:
        return self._connect().execute("PRAGMA quick_check").fetchone()[0]
