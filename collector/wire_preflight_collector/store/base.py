"""What both stores share: the tables' meaning, the SQL of every read and write, and how a
report is split and packed. Each report is stored whole or not at all (in its own transaction,
or its own savepoint of a transaction shared with the reports waiting beside it).

- `reports`: every report, compressed. Its facts are split: the part that does not change from
  run to run (hardware, addresses, configuration), with the check results, is stored once per
  distinct content in `facts_blobs` and referenced by hash; only what changes every run
  (timestamps, free space, address lifetimes, clock readings) is stored with each report.
  Blobs written before schema 4 hold the stable facts alone, and their reports the checks.
- `hosts`: per hostname + machine-id, the newest summary (what the fleet rules read) and the
  drift snapshot (what the next report is compared with).
- `events`: drift and identity events, open until an operator accepts the host's new state.
- `host_keys`: one key per machine-id (stored as its SHA-256), given out at enrolment.

Which report is a host's newest is decided by the collector's clock (`observed_at`: when the
collector received it, less the time the agent says it sat in its spool, measured on the
agent's own clock so its offset cancels), never by the time the agent writes in it.

A report is acknowledged only after its commit is durable. A report id is unique: a retried
delivery is stored once.

The SQL below is written once for both stores: SQLite (`sqlite.SqliteStore`) and PostgreSQL
(`postgres.PostgresStore`). Each gives `_write()` (one serialised write transaction),
`_connect()` (this thread's connection) and its DDL; `open_store()` picks one from --db.
"""

import calendar
import copy
import hashlib
import json
import logging
import os
import threading
import time
import zlib
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

from wire_preflight.fleet import drift
from wire_preflight.fleet.summary import summarize

from wire_preflight_collector.schema import (
    bounded_json,
    parse_json,
    readable_snapshot,
    readable_summary,
)
from wire_preflight_collector.store.identity import (
    IdentityStore,
    Refusal,
    ReportIdentity,
    ReportIdTaken,
    ReportRefused,
)

if TYPE_CHECKING:
    from wire_preflight.shapes import DriftSnapshot, HostSummary

    from wire_preflight_collector.store.groupcommit import GroupCommit

SCHEMA_VERSION = 5

# Schema 5: host names compare lower-case (DNS names are case-insensitive) and each is held by
# one machine (`names`). Both stores run this on upgrade; where two spellings of one host
# collide, the lower-case row stays. The first enrolled key of a name holds it, else the
# newest reporter. (`WHERE 1 = 1`: SQLite needs it to parse INSERT ... SELECT ... ON CONFLICT.)
IDENTITY_UPGRADE = """
UPDATE host_keys SET hostname = lower(hostname), bound_at = enrolled_at;
UPDATE events SET hostname = lower(hostname) WHERE hostname <> lower(hostname);
UPDATE reports SET hostname = lower(hostname) WHERE hostname <> lower(hostname);
DELETE FROM hosts WHERE hostname <> lower(hostname) AND EXISTS (SELECT 1 FROM hosts h2
    WHERE h2.hostname = lower(hosts.hostname) AND h2.machine_id = hosts.machine_id);
UPDATE hosts SET hostname = lower(hostname) WHERE hostname <> lower(hostname);
INSERT INTO names (name, machine_id, product_uuid, claimed_at)
    SELECT hostname, machine_id, product_uuid, enrolled_at FROM host_keys WHERE 1 = 1
    ORDER BY enrolled_at ON CONFLICT (name) DO NOTHING;
INSERT INTO names (name, machine_id, claimed_at)
    SELECT hostname, machine_id, last_seen FROM hosts WHERE machine_id <> ''
    ORDER BY last_seen DESC ON CONFLICT (name) DO NOTHING
"""
# The longest a report may say it waited in an agent's spool (the spool holds a day).
MAX_SPOOL_AGE = 7 * 86400

# Facts that differ on every run; everything else is stored once per distinct content.
_VOLATILE = ("collected_at", "collected_at_epoch", "time", "listeners", "errors")


def split_facts(facts: Dict[str, Any]) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """(stable, volatile): free space and address lifetimes move into volatile. `facts` is
    left as it was; the two share what neither changes (copying only the dicts on the way
    to what moves: a deep copy of every report's facts was a tenth of ingest's time)."""
    stable = dict(facts)
    volatile = {key: stable.pop(key) for key in _VOLATILE if key in stable}
    free = {}
    disks = stable.get("disks") or []
    if disks:
        stable["disks"] = disks = list(disks)
    for index, disk in enumerate(disks):
        if isinstance(disk, dict) and "free_bytes" in disk:
            disks[index] = disk = dict(disk)
            free[str(index)] = disk.pop("free_bytes")
    lifetimes = {}
    network = stable.get("network") or {}
    interfaces = list(network.get("interfaces") or [])
    for i, iface in enumerate(interfaces):
        addresses = list(iface.get("addresses") or [])
        for j, address in enumerate(addresses):
            for key in ("valid_lifetime", "preferred_lifetime"):
                if address.get(key) is not None:
                    if addresses[j] is address:
                        addresses[j] = address = dict(address)
                    lifetimes[f"{i}.{j}.{key}"] = address.pop(key)
        if addresses and any(a is not b for a, b in zip(addresses, iface["addresses"])):
            interfaces[i] = dict(iface, addresses=addresses)
    if any(a is not b for a, b in zip(interfaces, network.get("interfaces") or [])):
        stable["network"] = dict(network, interfaces=interfaces)
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


def observed_at(report: Dict[str, Any], received_at: float) -> float:
    """When the report's facts were true, on the collector's clock.

    The agent's clock may be off by a year; the time a report waited in its spool is the
    difference of two readings of that same clock (sent_at - generated_at), so the offset
    cancels. A report that claims to come from the future, or a wait past what a spool
    keeps, is taken as sent when it was made.
    """
    sent_at = report.get("sent_at")
    # generated_at is whole seconds; the agent also stamps its clock's reading to the
    # microsecond, so two reports a fraction of a second apart keep their order.
    generated = report.get("generated_at_epoch")
    if not isinstance(generated, (int, float)) or isinstance(generated, bool):
        generated = _epoch(report.get("generated_at"))
    if not isinstance(sent_at, (int, float)) or generated is None:
        return received_at
    waited = sent_at - generated
    return received_at - waited if 0 <= waited <= MAX_SPOOL_AGE else received_at


def _epoch(text: Any) -> Optional[float]:
    try:
        return float(calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ")))
    except (TypeError, ValueError, OverflowError):
        return None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def pack(value: Any) -> bytes:
    return zlib.compress(json.dumps(value, separators=(",", ":"), sort_keys=True).encode(), 1)


def unpack(blob: bytes) -> Any:
    return json.loads(zlib.decompress(blob))


class NewerSchema(Exception):
    """The database was written by a newer collector: refuse it rather than guess."""


class Store(IdentityStore):
    """Everything both stores share: the SQL is written with `?` placeholders and the subset of
    SQL that SQLite >= 3.35 and PostgreSQL >= 11 both speak (ON CONFLICT, RETURNING)."""

    # Errors that mean "the database is unavailable": the API answers 503 for them.
    errors: Tuple[type, ...] = ()
    where = ""
    _local: threading.local  # each store's own: this thread's connection (conn)
    _group: "GroupCommit"  # each store's own: its reports' transactions (groupcommit.py)

    def _write(self, host: Optional[str] = None) -> Any:
        """A context manager: one write transaction, yielding its connection. `host` names the
        one host a report touches (PostgreSQL then lets other hosts' reports go alongside);
        None: the transaction may touch any row and runs alone."""
        raise NotImplementedError

    def _connect(self) -> Any:
        """This thread's connection (a store keeps one per thread in self._local)."""
        raise NotImplementedError

    def _read(self) -> Any:
        return self._connect()

    def _execute(self, conn: Any, sql: str, args: Tuple[Any, ...] = ()) -> Any:
        """Run one statement; the PostgreSQL store translates the placeholders."""
        return conn.execute(sql, args)

    def _query(self, sql: str, args: Tuple[Any, ...] = ()) -> Any:
        """One read outside any write transaction."""
        return self._execute(self._read(), sql, args)

    def _script(self, conn: Any, script: str) -> None:
        # Statement by statement: SQLite's executescript would commit the transaction.
        for statement in script.split(";"):
            if statement.strip():
                self._execute(conn, statement)

    def _set_up(self, conn: Any, tables: str, migrations: Dict[int, str], new_version: int) -> None:
        """Create what is missing, then upgrade to SCHEMA_VERSION; a newer schema is refused.
        `new_version`: the schema version `tables` make (what a new database starts at)."""
        self._script(conn, tables)
        row = self._execute(conn, "SELECT value FROM meta WHERE key = 'schema'").fetchone()
        version = int(row[0]) if row else new_version
        if row is None:
            self._execute(
                conn, "INSERT INTO meta (key, value) VALUES ('schema', ?)", (str(version),)
            )
        self._check_version(version)
        for target in range(version + 1, SCHEMA_VERSION + 1):
            self._script(conn, migrations[target])
            self._execute(conn, "UPDATE meta SET value = ? WHERE key = 'schema'", (str(target),))

    def _check_version(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise NewerSchema(
                f"database {self.where} has schema version {version}, newer than this "
                f"collector's {SCHEMA_VERSION}: upgrade wire-preflight-collector (or restore a "
                "backup made before the upgrade)"
            )

    def generation(self) -> str:
        """A token that changes with every committed write that changed a row, whichever
        collector process made it: readers key what they compute from the store on it."""
        row = self._query("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return row[0] if row else ""

    def _bump_generation(self, conn: Any) -> None:
        # A random token, not a counter: no read-modify-write, and TEXT on both stores.
        self._execute(
            conn,
            "INSERT INTO meta (key, value) VALUES ('generation', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (os.urandom(8).hex(),),
        )

    def set_meta(self, key: str, value: str, lock_name: Optional[str] = None) -> None:
        """One committed write of a `meta` row; `lock_name`: the name `_write` locks (see
        health.py: a name no host has, so the write pauses no host's reports)."""
        with self._write(lock_name) as conn:
            self._execute(
                conn,
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def schema_version(self) -> int:
        row = self._query("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        return int(row[0])

    def close(self) -> None:
        """Close this thread's connection (the others close when their threads end)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def integrity(self) -> str:
        """'ok', or what is wrong."""
        raise NotImplementedError

    def backup(self, target: str) -> None:
        """A consistent copy at this moment into the new file target, while others write."""
        raise NotImplementedError

    # -- writing ----------------------------------------------------------------------------

    def ingest(
        self,
        report: Dict[str, Any],
        received_at: Optional[float] = None,
        free_warn_fraction: float = 0.10,
        key_hash: Optional[str] = None,
    ) -> Tuple[bool, List[Dict[str, Any]]]:
        """Store a validated report; compare it with the host's previous one.

        Returns (stored, new drift events); stored is False when this report id was stored
        before for this host (a retried delivery), and then nothing changes. ReportIdTaken
        when another host's report has the id. `key_hash`: the host key that sent it, checked
        (check_report) in the transaction that stores the report, so an approval or a re-key
        cannot come between; ReportRefused (its event stored) when the key may not send it.
        """
        received_at = time.time() if received_at is None else received_at
        # One host, one name: DNS names are case-insensitive, so CASSANDRA1 is cassandra1.
        report = dict(report, hostname=str(report.get("hostname") or "").lower())
        observed = observed_at(report, received_at)
        summary = summarize(report, received_at)
        snapshot = drift.snapshot(report)
        stable, volatile = split_facts(report.get("facts") or {})
        # The checks go with the stable facts: a steady host's 2 KB of check messages are the
        # same run after run (the documented 100-host fleet: 4.5 KB a report before, bench/).
        stable_blob = pack({"$facts": stable, "$checks": report.get("checks")})
        facts_hash = hashlib.sha256(stable_blob).hexdigest()
        body = pack({**{k: v for k, v in report.items() if k != "checks"}, "facts": volatile})
        hostname, facts = summary["hostname"], report.get("facts") or {}

        def write(conn: Any) -> Any:
            identity = None
            if key_hash is not None:
                identity = self._check_report(
                    conn,
                    key_hash,
                    hostname,
                    facts.get("machine_id"),
                    facts.get("product_uuid"),
                    received_at,
                )
            if isinstance(identity, Refusal):
                return identity  # committed, with its event, before it is raised
            return self._store_report(
                conn,
                report,
                identity,
                received_at,
                free_warn_fraction,
                observed,
                summary,
                snapshot,
                (body, facts_hash, stable_blob),
            )

        outcome = self._write_report(hostname, write)
        if isinstance(outcome, Refusal):
            raise ReportRefused(outcome)
        return outcome

    def _write_report(self, host: str, write: Callable[[Any], Any]) -> Any:
        """write(conn) in a write transaction for `host`'s report, committed before this
        returns; an exception it raises leaves nothing of it stored. Both stores commit the
        reports that wait for the writer together (groupcommit.py)."""
        return self._group.write(host, write)

    def _store_report(
        self,
        conn: Any,
        report: Dict[str, Any],
        identity: Optional[ReportIdentity],
        received_at: float,
        free_warn_fraction: float,
        observed: float,
        summary: "HostSummary",
        snapshot: "DriftSnapshot",
        packed: Tuple[bytes, str, bytes],
    ) -> Tuple[bool, List[Dict[str, Any]]]:
        """ingest()'s writing, inside its transaction: `packed` is (body, facts hash, stable
        facts blob), made before the transaction began."""
        body, facts_hash, stable_blob = packed
        hostname, machine_id = summary["hostname"], summary["machine_id"] or ""
        row_mid = identity.machine_id if identity else machine_id
        row = self._execute(
            conn,
            "INSERT INTO reports (report_id, hostname, machine_id, "
            "generated_at, received_at, status, body, facts_hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (report_id) DO NOTHING RETURNING id",
            (
                report["report_id"],
                hostname,
                machine_id,
                report.get("generated_at") or "",
                received_at,
                summary["status"],
                body,
                facts_hash,
            ),
        ).fetchone()
        if row is None:
            owner = self._execute(
                conn, "SELECT hostname FROM reports WHERE report_id = ?", (report["report_id"],)
            ).fetchone()
            if owner is not None and owner[0] != hostname:
                raise ReportIdTaken(report["report_id"])
            return False, []
        if row_mid:  # a name nobody holds yet is this machine's from now on
            self._execute(
                conn,
                "INSERT INTO names (name, machine_id, product_uuid, claimed_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (name) DO NOTHING",
                (hostname, row_mid, summary.get("product_uuid"), received_at),
            )
        events = []
        if identity and identity.rebind:
            moved = self._rebind(conn, hostname, *identity.rebind, observed, received_at)
            if moved is not None:
                events.append(moved)
                row_mid = identity.rebind[1]
        self._execute(
            conn,
            "INSERT INTO facts_blobs (hash, body) VALUES (?, ?) ON CONFLICT (hash) DO NOTHING",
            (facts_hash, stable_blob),
        )
        previous = self._execute(
            conn,
            "SELECT snapshot, stale, coalesce(observed_at, last_seen) FROM hosts "
            "WHERE hostname = ? ORDER BY coalesce(observed_at, last_seen) DESC LIMIT 1",
            (hostname,),
        ).fetchone()
        known = None
        if previous is not None:
            known = {
                "snapshot": readable_snapshot(previous[0]),
                "stale": bool(previous[1]),
            }
        newer = previous is None or observed >= (previous[2] or 0)
        found = drift.on_report(known, snapshot, newer, free_warn_fraction)
        events += [self._event(conn, hostname, *event, at=received_at) for event in found]
        self._execute(
            conn,
            _UPSERT_HOST,
            (
                hostname,
                row_mid,
                row[0],
                report.get("generated_at") or "",
                received_at,
                observed,
                json.dumps(summary, allow_nan=False),
                json.dumps(snapshot, allow_nan=False),
            ),
        )
        return True, events

    def _event(
        self,
        conn: Any,
        hostname: str,
        kind: str,
        before: Any,
        after: Any,
        detail: str,
        at: float,
    ) -> Dict[str, Any]:
        cursor = self._execute(
            conn,
            "INSERT INTO events (hostname, kind, at, before, after, detail) "
            "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            (hostname, kind, at, json.dumps(before), json.dumps(after), detail),
        ).fetchone()
        return {
            "id": cursor[0],
            "hostname": hostname,
            "kind": kind,
            "time": at,
            "before": before,
            "after": after,
            "detail": detail,
            "open": True,
        }

    def record_event(
        self,
        hostname: str,
        kind: str,
        detail: str,
        before: Any = None,
        after: Any = None,
        now: Optional[float] = None,
    ) -> Optional[Dict[str, Any]]:
        """An event no report carries (an identity conflict, a forgotten host); None when the
        same one is open already: a client repeating a refused request makes one event, not
        one per try (each would be a finding, a webhook call and a row kept forever)."""
        now = time.time() if now is None else now
        with self._write() as conn:
            return self._event_once(conn, hostname, kind, before, after, detail, now)

    def mark_stale(self, now: float, stale_after: float) -> List[Dict[str, Any]]:
        """Hosts silent for longer than stale_after become stale, once, with an event."""
        with self._write() as conn:
            rows = self._execute(
                conn,
                "SELECT hostname, machine_id, last_seen FROM hosts "
                "WHERE stale = 0 AND last_seen < ?",
                (now - stale_after,),
            ).fetchall()
            events = []
            for hostname, machine_id, last_seen in rows:
                self._execute(
                    conn,
                    "UPDATE hosts SET stale = 1 WHERE hostname = ? AND machine_id = ?",
                    (hostname, machine_id),
                )
                events.append(
                    self._event(
                        conn,
                        hostname,
                        "stale",
                        {"last_seen": last_seen},
                        None,
                        f"no report for {now - last_seen:.0f} s",
                        at=now,
                    )
                )
        return events

    def accept(self, hostname: str, now: Optional[float] = None) -> Optional[int]:
        """Accept the host's current state: its open events close and its snapshot becomes
        its baseline. None when the host is unknown, else how many events closed."""
        now = time.time() if now is None else now
        with self._write() as conn:
            updated = self._execute(
                conn,
                "UPDATE hosts SET baseline = snapshot, baseline_at = ? WHERE hostname = ?",
                (now, hostname),
            ).rowcount
            closed = self._execute(
                conn,
                "UPDATE events SET open = 0, accepted_at = ? WHERE hostname = ? AND open = 1",
                (now, hostname),
            ).rowcount
        # A host known only by its events (an enrolment refused before it ever reported).
        return closed if updated or closed else None

    def forget(self, hostname: str, now: Optional[float] = None) -> Optional[Dict[str, int]]:
        """Remove a host: its rows, its reports and the keys of its machine-ids. Its events
        stay (closed) as the record, with a `forgotten` event. None when nothing was known."""
        now = time.time() if now is None else now
        hostname = hostname.lower()
        with self._write() as conn:
            machine_ids = sorted(
                row[0]
                for row in self._execute(
                    conn,
                    "SELECT machine_id FROM hosts WHERE hostname = ? "
                    "UNION SELECT machine_id FROM host_keys WHERE hostname = ? "
                    "UNION SELECT machine_id FROM names WHERE name = ?",
                    (hostname, hostname, hostname),
                )
            )
            # The name is free again; claims on it wait for nothing any more.
            named = self._execute(conn, "DELETE FROM names WHERE name = ?", (hostname,)).rowcount
            self._execute(conn, "DELETE FROM pending WHERE hostname = ?", (hostname,))
            hosts = self._execute(
                conn, "DELETE FROM hosts WHERE hostname = ?", (hostname,)
            ).rowcount
            reports = self._execute(
                conn, "DELETE FROM reports WHERE hostname = ?", (hostname,)
            ).rowcount
            keys = sum(
                self._execute(conn, "DELETE FROM host_keys WHERE machine_id = ?", (mid,)).rowcount
                for mid in machine_ids
            )
            if not (hosts or reports or keys or named):
                return None
            self._event(
                conn,
                hostname,
                "forgotten",
                {"machine_ids": machine_ids},
                None,
                f"forgotten by an admin: {reports} report(s), {keys} key(s) removed",
                at=now,
            )
            # The host's events, this one included, stay as the record, closed.
            self._execute(
                conn,
                "UPDATE events SET open = 0, accepted_at = ? WHERE hostname = ? AND open = 1",
                (now, hostname),
            )
        return {"reports": reports, "keys": keys}

    # -- reading: every row is checked as it is read, so no stored row breaks a read ---------

    def summaries(self) -> Tuple[List[Dict[str, Any]], List[str]]:
        """(host summaries, problems): a row that does not read back is left out and named."""
        rows = self._query(
            "SELECT hostname, summary, last_seen, stale FROM hosts ORDER BY hostname, machine_id"
        ).fetchall()
        out, problems = [], []
        for hostname, summary, last_seen, stale in rows:
            host = readable_summary(summary)
            if host is None:
                problems.append(
                    f"the stored summary of host {hostname!r} does not read back (written by an "
                    "older collector?); its next report replaces it, or forget the host"
                )
                continue
            host["hostname"] = hostname  # the row's name is the host's (folded) name
            host["last_seen"] = last_seen
            host["stale"] = bool(stale)
            out.append(host)
        return out, problems

    def host_summary(self, hostname: str) -> Optional[Dict[str, Any]]:
        """The newest readable summary of a host, or None."""
        row = self._query(
            "SELECT summary FROM hosts WHERE hostname = ? "
            "ORDER BY coalesce(observed_at, last_seen) DESC LIMIT 1",
            (hostname,),
        ).fetchone()
        return readable_summary(row[0]) if row else None

    def check_statuses(self) -> List[Tuple[str, float, Dict[str, str]]]:
        """(hostname, last_seen, {"check|role": status}) per host, for the metrics."""
        rows = self._query(
            "SELECT hostname, last_seen, snapshot FROM hosts ORDER BY hostname"
        ).fetchall()
        out = []
        for hostname, seen, snapshot in rows:
            checks = (readable_snapshot(snapshot) or {}).get("checks")
            if not isinstance(checks, dict):
                checks = {}
            out.append(
                (
                    hostname,
                    seen,
                    {k: v for k, v in checks.items() if isinstance(k, str) and isinstance(v, str)},
                )
            )
        return out

    def _report(self, row: Tuple[bytes, Optional[str]]) -> Optional[Dict[str, Any]]:
        body, facts_hash = row
        try:
            report = unpack(body)
            if facts_hash:  # schema 1 stored the whole report
                blob = self._query(
                    "SELECT body FROM facts_blobs WHERE hash = ?", (facts_hash,)
                ).fetchone()
                stable = unpack(blob[0])
                if isinstance(stable, dict) and "$facts" in stable:  # schema >= 4
                    report["checks"] = stable["$checks"]
                    stable = stable["$facts"]
                report["facts"] = join_facts(stable, report["facts"])
            return bounded_json(report)
        except Exception as exc:  # any stored shape: the route still answers
            logging.getLogger(__name__).warning("a stored report does not read back: %s", exc)
            return None

    def host(self, hostname: str, history: int = 100) -> Optional[Dict[str, Any]]:
        conn = self._read()
        rows = self._execute(
            conn,
            "SELECT report_id, machine_id, generated_at, received_at, status FROM reports "
            "WHERE hostname = ? ORDER BY received_at DESC LIMIT ?",
            (hostname, history),
        ).fetchall()
        if not rows:
            return None
        latest = self._execute(
            conn,
            "SELECT r.body, r.facts_hash, h.baseline_at, h.stale FROM hosts h "
            "JOIN reports r ON r.id = h.last_report WHERE h.hostname = ? "
            "ORDER BY coalesce(h.observed_at, h.last_seen) DESC LIMIT 1",
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

    def report_statuses(self, hostname: str, limit: int) -> List[Dict[str, Any]]:
        """The host's last `limit` reports, newest first: {received_at, status, checks:
        {"id|role": status}} (for its page's history). Reports of one steady host share their
        checks' blob, so each distinct blob is read once; a row that does not read back has
        no checks."""
        conn = self._read()
        rows = self._execute(
            conn,
            "SELECT received_at, status, facts_hash, body FROM reports "
            "WHERE hostname = ? ORDER BY received_at DESC LIMIT ?",
            (hostname, limit),
        ).fetchall()
        blobs = {}  # type: Dict[Any, Any]
        out = []
        for received_at, status, facts_hash, body in rows:
            checks = None
            try:
                if facts_hash and facts_hash not in blobs:
                    blob = self._execute(
                        conn, "SELECT body FROM facts_blobs WHERE hash = ?", (facts_hash,)
                    ).fetchone()
                    blobs[facts_hash] = unpack(blob[0]) if blob else None
                stable = blobs.get(facts_hash)
                if isinstance(stable, dict) and "$checks" in stable:  # schema >= 4
                    checks = stable["$checks"]
                else:  # older rows keep the checks with the report
                    checks = unpack(body).get("checks")
            except Exception as exc:  # any stored shape: the page still answers
                logging.getLogger(__name__).warning("a stored report does not read back: %s", exc)
            out.append(
                {
                    "received_at": received_at,
                    "status": status,
                    "checks": {
                        "{}|{}".format(c.get("id"), c.get("role") or ""): c.get("status")
                        for c in checks or []
                        if isinstance(c, dict) and isinstance(c.get("status"), str)
                    },
                }
            )
        return out

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
        rows = self._query(
            "SELECT id, hostname, kind, at, before, after, detail, open, accepted_at "
            "FROM events" + where + " ORDER BY at DESC, id DESC LIMIT ?",
            (*args, limit),
        ).fetchall()
        return [
            {
                "id": r[0],
                "hostname": r[1],
                "kind": r[2],
                "time": r[3],
                "before": _loads(r[4]),
                "after": _loads(r[5]),
                "detail": r[6],
                "open": bool(r[7]),
                "accepted_at": r[8],
            }
            for r in rows
        ]

    def open_events_by_kind(self) -> Dict[str, int]:
        rows = self._query(
            "SELECT kind, count(*) FROM events WHERE open = 1 GROUP BY kind"
        ).fetchall()
        return dict(rows)

    def count(self) -> int:
        return self._query("SELECT count(*) FROM reports").fetchone()[0]

    def ping(self) -> None:
        """Cheap: the database opens and answers (for /healthz)."""
        self._query("SELECT 1 FROM meta LIMIT 1").fetchone()

    # -- retention --------------------------------------------------------------------------

    def prune(
        self, keep_seconds: float, now: Optional[float] = None, batch: int = 500, pause: float = 0
    ) -> Dict[str, int]:
        """Delete reports received more than keep_seconds ago, then the facts no report refers
        to any more. Every host's newest report stays whatever its age (the page and the drift
        comparison read it), and so do events and baselines, which live apart from reports.

        Batch by batch, each its own short write transaction, so ingest waits at most one
        batch; `pause` seconds between batches leave the writer lock to others."""
        now = time.time() if now is None else now
        cutoff = now - keep_seconds
        removed = {"reports": 0, "facts": 0}
        for table, sql, args in (
            (
                "reports",
                "DELETE FROM reports WHERE id IN (SELECT id FROM reports r WHERE "
                "r.received_at < ? AND NOT EXISTS "
                "(SELECT 1 FROM hosts h WHERE h.last_report = r.id) "
                "ORDER BY r.received_at LIMIT ?)",
                (cutoff, batch),
            ),
            (
                "facts",
                "DELETE FROM facts_blobs WHERE hash IN (SELECT f.hash FROM facts_blobs f "
                "WHERE NOT EXISTS (SELECT 1 FROM reports r WHERE r.facts_hash = f.hash) "
                "LIMIT ?)",
                (batch,),
            ),
        ):
            while True:
                with self._write() as conn:
                    done = self._execute(conn, sql, args).rowcount
                removed[table] += done
                if done < batch:
                    break
                if pause:
                    time.sleep(pause)
        return removed

    def oldest_report(self) -> Optional[float]:
        return self._query("SELECT min(received_at) FROM reports").fetchone()[0]


# A host's row after a report: the report's summary and snapshot when it is the newest (a
# spooled report delivered late must not replace a newer one), and either way the host is
# alive: last_seen moves forward and the row is not stale. One statement (it was an upsert
# and an update: a round trip less on PostgreSQL, for every report).
_NEWER = "excluded.observed_at >= coalesce(hosts.observed_at, 0)"
_UPSERT_HOST = (
    "INSERT INTO hosts (hostname, machine_id, last_report, generated_at, "
    "last_seen, observed_at, summary, snapshot, stale) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0) "
    "ON CONFLICT (hostname, machine_id) DO UPDATE SET "
    + ", ".join(
        f"{column} = CASE WHEN {_NEWER} THEN excluded.{column} ELSE hosts.{column} END"
        for column in ("last_report", "generated_at", "summary", "observed_at", "snapshot")
    )
    + f", last_seen = CASE WHEN {_NEWER} OR excluded.last_seen >= hosts.last_seen "
    "THEN excluded.last_seen ELSE hosts.last_seen END, stale = 0"
)


def _loads(text: Any) -> Any:
    """A stored JSON column, or None when it does not parse as plain JSON."""
    if not text:
        return None
    try:
        return bounded_json(parse_json(text.encode("utf-8") if isinstance(text, str) else text))
    except Exception:
        return None
