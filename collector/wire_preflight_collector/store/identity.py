"""Who holds which name: enrolment, pending claims, re-key codes, machine-id drift.

The lifecycle (docs/collector.md, "Security model"):
- a free name is claimed by the first enrolment (or report) that names it: one row in `names`
  per lower-cased hostname, inserted with ON CONFLICT DO NOTHING inside the enrolment's
  transaction, so of two machines racing for one name exactly one wins, on both stores;
- an enrolment that claims a held name under another machine-id never disturbs the holder: it
  is kept as a *pending* claim (its key answers 403 "pending") until an admin approves it (the
  name moves to the claimant, the old holder's key is dropped) or rejects it; a pending claim
  whose key is not presented for PENDING_TTL expires;
- `rekey` drops the holder's key and prints a one-time code: the name goes back only to the
  recorded machine (same machine-id and product_uuid) or to the VM that presents the code;
- a report under the key's own name whose machine-id changed (same hardware) is stored and the
  change is a `machine-id-changed` event; a report whose product_uuid is not the key's is a
  clone holding a copied key, refused.

The mixin runs inside base.Store: `_write`, `_query`, `_execute`, `_event` are its.
"""

import hashlib
import hmac
import json
import time
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

PENDING_TTL = 86400.0  # a pending claim whose key is not presented for a day expires
REJECTED_TTL = 30 * 86400.0  # a rejected machine-id is refused this long after its last try
REKEY_CODE_TTL = 7 * 86400.0  # a re-enrol code is valid this long
MAX_PENDING = 1000  # more open claims than this: new ones are refused until an admin acts


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class Refusal(NamedTuple):
    """Why the collector refuses an identity: `reason` goes to the agent in the
    X-Wire-Preflight-Refusal header (what it does next), `detail` to the person."""

    reason: str
    detail: str
    events: List[Dict[str, Any]]


class Enrolled(NamedTuple):
    state: str  # enrolled | pending
    pending_id: Optional[int]
    events: List[Dict[str, Any]]


class ReportIdentity(NamedTuple):
    """What a host key's report may do: the machine-id its host row is kept under, and a
    machine-id change to record (old, new) when the report is newer than the key's binding."""

    machine_id: str
    rebind: Optional[Tuple[str, str]]


class ReportIdTaken(Exception):
    """A report id another host's report already carries."""


class ReportRefused(Exception):
    """A host key's report its key may not send: the Refusal (its event is stored)."""

    def __init__(self, refusal: Refusal):
        super().__init__(refusal.detail)
        self.refusal = refusal


class IdentityStore:
    # Provided by base.Store.
    _write: Any
    _query: Any
    _execute: Any
    _event: Any

    def _event_once(
        self, conn: Any, hostname: str, kind: str, before: Any, after: Any, detail: str, at: float
    ) -> Optional[Dict[str, Any]]:
        """An event unless the same one is open already (a refused client retries every run)."""
        repeated = self._execute(
            conn,
            "SELECT 1 FROM events WHERE hostname = ? AND kind = ? AND open = 1 "
            "AND before = ? AND after = ? LIMIT 1",
            (hostname, kind, json.dumps(before), json.dumps(after)),
        ).fetchone()
        if repeated:
            return None
        return self._event(conn, hostname, kind, before, after, detail, at=at)

    def _close_claims(self, conn: Any, name: str, machine_id: str, now: float) -> None:
        """Close the open enroll-conflict events of one claimant of one name."""
        rows = self._execute(
            conn,
            "SELECT id, after FROM events WHERE hostname = ? AND kind = 'enroll-conflict' "
            "AND open = 1",
            (name,),
        ).fetchall()
        for event_id, after in rows:
            try:
                claimant = (json.loads(after) or {}).get("machine_id")
            except (TypeError, ValueError, AttributeError):
                claimant = None
            if claimant == machine_id:
                self._execute(
                    conn,
                    "UPDATE events SET open = 0, accepted_at = ? WHERE id = ?",
                    (now, event_id),
                )

    def _closed_event(
        self, conn: Any, name: str, kind: str, before: Any, after: Any, detail: str, now: float
    ) -> Dict[str, Any]:
        """A record of what an admin (or expiry) did: it asks nothing of anyone, so closed."""
        event = self._event(conn, name, kind, before, after, detail, at=now)
        self._execute(
            conn, "UPDATE events SET open = 0, accepted_at = ? WHERE id = ?", (now, event["id"])
        )
        return dict(event, open=False, accepted_at=now)

    # -- enrolment --------------------------------------------------------------------------

    def enroll(
        self,
        machine_id: str,
        hostname: str,
        product_uuid: Optional[str],
        key_hash: str,
        code: Optional[str] = None,
        address: Optional[str] = None,
        now: Optional[float] = None,
    ) -> Any:
        """Enrolled (a key for a free name, the recorded machine, or the code's holder),
        Enrolled("pending") for a claim on a held name, or a Refusal. One transaction."""
        now = time.time() if now is None else now
        name = hostname.lower()
        with self._write() as conn:
            return self._enroll(conn, machine_id, name, product_uuid, key_hash, code, address, now)

    def _enroll(
        self,
        conn: Any,
        machine_id: str,
        name: str,
        product_uuid: Optional[str],
        key_hash: str,
        code: Optional[str],
        address: Optional[str],
        now: float,
    ) -> Any:
        holder = self._execute(
            conn,
            "SELECT machine_id, product_uuid, rekey_code_hash, rekey_until FROM names "
            "WHERE name = ?",
            (name,),
        ).fetchone()
        code_ok = bool(
            code
            and holder is not None
            and holder[2]
            and (holder[3] or 0) >= now
            and hmac.compare_digest(_digest(code), holder[2])
        )
        if code and not code_ok:
            return Refusal(
                "bad-code",
                f"the re-enrol code is not valid for {name}: used already, expired, or made "
                f"for another host; an admin runs `wire-preflight fleet ... rekey {name}` again",
                [],
            )
        keyed = self._execute(
            conn, "SELECT hostname FROM host_keys WHERE machine_id = ?", (machine_id,)
        ).fetchone()
        if keyed is not None:
            event = self._event_once(
                conn,
                name,
                "enroll-conflict",
                {"holder": keyed[0], "machine_id": machine_id},
                {"machine_id": machine_id, "product_uuid": product_uuid, "address": address},
                f"a VM (machine-id {machine_id}, product_uuid {product_uuid or 'unknown'}, "
                f"from {address or 'unknown'}) asked for a key as {name}, but machine-id "
                f"{machine_id} is enrolled already as {keyed[0]}, which keeps its key: a clone "
                f"of {keyed[0]}, or {keyed[0]} reinstalled without its key",
                now,
            )
            return Refusal(
                "machine-id-enrolled",
                f"machine-id {machine_id} is enrolled already (as {keyed[0]}): if this VM is "
                f"a clone, give it its own machine-id (rm /etc/machine-id && "
                "systemd-machine-id-setup, then reboot) and run again; if it is "
                f"{keyed[0]} reinstalled, an admin runs `wire-preflight fleet ... rekey "
                f"{keyed[0]}` and this VM runs `wire-preflight report --enroll-code CODE`",
                [event] if event else [],
            )
        rejected = self._execute(
            conn,
            "SELECT hostname FROM pending WHERE machine_id = ? AND state = 'rejected'",
            (machine_id,),
        ).fetchone()
        if rejected is not None:
            self._execute(
                conn, "UPDATE pending SET last_seen = ? WHERE machine_id = ?", (now, machine_id)
            )
            return Refusal(
                "rejected",
                f"an admin rejected machine-id {machine_id}'s claim on {rejected[0]}: give "
                "this VM its own hostname and machine-id, or ask the admin",
                [],
            )
        if holder is None:
            claimed = self._execute(
                conn,
                "INSERT INTO names (name, machine_id, product_uuid, claimed_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (name) DO NOTHING RETURNING name",
                (name, machine_id, product_uuid, now),
            ).fetchone()
            if claimed is not None:
                self._add_key(conn, machine_id, name, product_uuid, key_hash, now)
                return Enrolled("enrolled", None, [])
            holder = self._execute(
                conn,
                "SELECT machine_id, product_uuid, rekey_code_hash, rekey_until FROM names "
                "WHERE name = ?",
                (name,),
            ).fetchone()
        held_by, held_uuid = holder[0], holder[1]
        if code_ok:
            event = self._give_name(conn, name, held_by, machine_id, product_uuid, now)
            self._add_key(conn, machine_id, name, product_uuid, key_hash, now)
            return Enrolled("enrolled", None, [event])
        if held_by == machine_id:
            if held_uuid and product_uuid and held_uuid != product_uuid:
                event = self._event_once(
                    conn,
                    name,
                    "enroll-conflict",
                    {"holder": name, "machine_id": held_by, "product_uuid": held_uuid},
                    {"machine_id": machine_id, "product_uuid": product_uuid, "address": address},
                    f"a VM with {name}'s machine-id {machine_id} but product_uuid "
                    f"{product_uuid} (from {address or 'unknown'}) asked for {name}'s key; "
                    f"{name} was enrolled with product_uuid {held_uuid}: a clone, refused",
                    now,
                )
                return Refusal(
                    "clone",
                    f"this VM has {name}'s machine-id but not its product_uuid ({held_uuid}): "
                    "it is a clone. Give it its own machine-id (rm /etc/machine-id && "
                    "systemd-machine-id-setup, reboot) and hostname, then run again. If it "
                    f"really is {name} on new hardware, an admin runs `wire-preflight fleet "
                    f"... rekey {name}` and this VM runs `wire-preflight report --enroll-code "
                    "CODE`",
                    [event] if event else [],
                )
            if holder[2] and not (held_uuid and product_uuid):
                # Re-keyed, and machine-id alone cannot tell the host from its clone.
                return Refusal(
                    "code-required",
                    f"{name} was re-keyed and its hardware cannot be compared (no product_uuid "
                    "recorded or sent): run `wire-preflight report --enroll-code CODE` as root "
                    f"with the code `wire-preflight fleet ... rekey {name}` printed",
                    [],
                )
            self._execute(
                conn,
                "UPDATE names SET rekey_code_hash = NULL, rekey_until = NULL, "
                "product_uuid = coalesce(product_uuid, ?) WHERE name = ?",
                (product_uuid, name),
            )
            self._add_key(conn, machine_id, name, product_uuid, key_hash, now)
            return Enrolled("enrolled", None, [])
        return self._hold(conn, machine_id, name, product_uuid, key_hash, held_by, address, now)

    def _add_key(
        self,
        conn: Any,
        machine_id: str,
        name: str,
        product_uuid: Optional[str],
        key_hash: str,
        now: float,
    ) -> None:
        self._execute(
            conn,
            "INSERT INTO host_keys (machine_id, key_hash, hostname, product_uuid, enrolled_at, "
            "bound_at) VALUES (?, ?, ?, ?, ?, ?)",
            (machine_id, key_hash, name, product_uuid, now, now),
        )

    def _give_name(
        self,
        conn: Any,
        name: str,
        old: str,
        machine_id: str,
        product_uuid: Optional[str],
        now: float,
    ) -> Dict[str, Any]:
        """The name moves to another machine (an approved claim, a re-enrol code): the old
        holder's keys go, and its host row carries on under the new machine-id, so drift
        compares the reinstalled VM with what it was."""
        self._execute(
            conn, "DELETE FROM host_keys WHERE machine_id = ? OR hostname = ?", (old, name)
        )
        self._execute(
            conn,
            "UPDATE names SET machine_id = ?, product_uuid = ?, claimed_at = ?, "
            "rekey_code_hash = NULL, rekey_until = NULL WHERE name = ?",
            (machine_id, product_uuid, now, name),
        )
        self._execute(
            conn,
            "UPDATE hosts SET machine_id = ? WHERE hostname = ? AND machine_id = ? AND NOT "
            "EXISTS (SELECT 1 FROM hosts h WHERE h.hostname = ? AND h.machine_id = ?)",
            (machine_id, name, old, name, machine_id),
        )
        self._close_claims(conn, name, machine_id, now)
        return self._closed_event(
            conn,
            name,
            "rekeyed",
            {"machine_id": old},
            {"machine_id": machine_id, "product_uuid": product_uuid},
            f"{name} now belongs to machine-id {machine_id} (was {old}), as an admin decided",
            now,
        )

    def _hold(
        self,
        conn: Any,
        machine_id: str,
        name: str,
        product_uuid: Optional[str],
        key_hash: str,
        held_by: str,
        address: Optional[str],
        now: float,
    ) -> Any:
        """A claim on a held name: kept as pending, the holder undisturbed."""
        waiting = self._execute(
            conn, "SELECT id FROM pending WHERE machine_id = ? AND state = 'pending'", (machine_id,)
        ).fetchone()
        if waiting is not None:
            pending_id = waiting[0]
            self._execute(
                conn,
                "UPDATE pending SET key_hash = ?, hostname = ?, product_uuid = ?, holder = ?, "
                "address = ?, last_seen = ? WHERE id = ?",
                (key_hash, name, product_uuid, held_by, address, now, pending_id),
            )
        else:
            count = self._execute(
                conn, "SELECT count(*) FROM pending WHERE state = 'pending'"
            ).fetchone()[0]
            if count >= MAX_PENDING:
                return Refusal(
                    "too-many-pending",
                    f"{count} enrolments wait for an admin already: try again later",
                    [],
                )
            pending_id = self._execute(
                conn,
                "INSERT INTO pending (machine_id, hostname, product_uuid, key_hash, holder, "
                "address, requested_at, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (machine_id, name, product_uuid, key_hash, held_by, address, now, now),
            ).fetchone()[0]
        event = self._event_once(
            conn,
            name,
            "enroll-conflict",
            {"holder": name, "machine_id": held_by},
            {"machine_id": machine_id, "product_uuid": product_uuid, "address": address},
            f"a VM (machine-id {machine_id}, product_uuid {product_uuid or 'unknown'}, from "
            f"{address or 'unknown'}) asked for the name {name}, which machine-id {held_by} "
            f"holds; {name} reports on undisturbed. The claim waits as pending enrolment "
            f"{pending_id}",
            now,
        )
        return Enrolled("pending", pending_id, [event] if event else [])

    # -- pending claims ---------------------------------------------------------------------

    def pending(self) -> List[Dict[str, Any]]:
        rows = self._query(
            "SELECT id, machine_id, hostname, product_uuid, holder, address, state, "
            "requested_at, last_seen FROM pending ORDER BY requested_at, id"
        ).fetchall()
        keys = (
            "id",
            "machine_id",
            "hostname",
            "product_uuid",
            "holder",
            "address",
            "state",
            "requested_at",
            "last_seen",
        )
        return [dict(zip(keys, row)) for row in rows]

    def decide(self, pending_id: int, approve: bool, now: Optional[float] = None) -> Any:
        """Approve (the name moves to the claimant) or reject a pending claim: the decision's
        record event, None when no such claim waits, or a Refusal."""
        now = time.time() if now is None else now
        with self._write() as conn:
            row = self._execute(
                conn,
                "SELECT machine_id, hostname, product_uuid, key_hash FROM pending "
                "WHERE id = ? AND state = 'pending'",
                (pending_id,),
            ).fetchone()
            if row is None:
                return None
            machine_id, name, product_uuid, key_hash = row
            if not approve:
                self._execute(
                    conn,
                    "UPDATE pending SET state = 'rejected', last_seen = ? WHERE id = ?",
                    (now, pending_id),
                )
                self._close_claims(conn, name, machine_id, now)
                return self._closed_event(
                    conn,
                    name,
                    "enroll-rejected",
                    None,
                    {"machine_id": machine_id, "product_uuid": product_uuid},
                    f"an admin rejected machine-id {machine_id}'s claim on {name}",
                    now,
                )
            if self._execute(
                conn, "SELECT 1 FROM host_keys WHERE machine_id = ?", (machine_id,)
            ).fetchone():
                return Refusal(
                    "machine-id-enrolled",
                    f"machine-id {machine_id} has enrolled under another name meanwhile",
                    [],
                )
            self._execute(conn, "DELETE FROM pending WHERE id = ?", (pending_id,))
            held = self._execute(
                conn, "SELECT machine_id FROM names WHERE name = ?", (name,)
            ).fetchone()
            if held is None:
                self._execute(
                    conn,
                    "INSERT INTO names (name, machine_id, product_uuid, claimed_at) "
                    "VALUES (?, ?, ?, ?)",
                    (name, machine_id, product_uuid, now),
                )
                self._close_claims(conn, name, machine_id, now)
                event = None
            else:
                event = self._give_name(conn, name, held[0], machine_id, product_uuid, now)
            self._execute(
                conn,
                "INSERT INTO host_keys (machine_id, key_hash, hostname, product_uuid, "
                "enrolled_at, bound_at) VALUES (?, ?, ?, ?, ?, ?)",
                (machine_id, key_hash, name, product_uuid, now, now),
            )
            return self._closed_event(
                conn,
                name,
                "enroll-approved",
                {"machine_id": held[0] if held else None},
                {"machine_id": machine_id, "product_uuid": product_uuid},
                f"an admin approved machine-id {machine_id}'s claim on {name}"
                + (f" (it replaces machine-id {held[0]})" if event else ""),
                now,
            )

    def expire_pending(self, now: float, ttl: float = PENDING_TTL) -> List[Dict[str, Any]]:
        """Claims whose key was not presented for `ttl` go (made-up enrolments never report);
        rejections are forgotten after REJECTED_TTL without a try."""
        events = []
        with self._write() as conn:
            rows = self._execute(
                conn,
                "SELECT id, machine_id, hostname FROM pending WHERE state = 'pending' "
                "AND last_seen < ?",
                (now - ttl,),
            ).fetchall()
            for pending_id, machine_id, name in rows:
                self._execute(conn, "DELETE FROM pending WHERE id = ?", (pending_id,))
                self._close_claims(conn, name, machine_id, now)
                events.append(
                    self._closed_event(
                        conn,
                        name,
                        "enroll-expired",
                        None,
                        {"machine_id": machine_id},
                        f"machine-id {machine_id}'s claim on {name} expired: its key was not "
                        f"presented for {ttl:.0f} s",
                        now,
                    )
                )
            self._execute(
                conn,
                "DELETE FROM pending WHERE state = 'rejected' AND last_seen < ?",
                (now - REJECTED_TTL,),
            )
        return events

    # -- re-key -----------------------------------------------------------------------------

    def rekey(self, hostname: str, now: Optional[float] = None) -> Optional[Dict[str, Any]]:
        """Drop the host's keys and make a one-time re-enrol code; the name stays held by the
        recorded machine. None when the name is unknown."""
        import secrets

        now = time.time() if now is None else now
        name = hostname.lower()
        with self._write() as conn:
            held = self._execute(
                conn, "SELECT machine_id, product_uuid FROM names WHERE name = ?", (name,)
            ).fetchone()
            if held is None:
                newest = self._execute(
                    conn,
                    "SELECT machine_id FROM hosts WHERE hostname = ? "
                    "ORDER BY coalesce(observed_at, last_seen) DESC LIMIT 1",
                    (name,),
                ).fetchone()
                if newest is None:
                    return None
                held = (newest[0], None)
                self._execute(
                    conn,
                    "INSERT INTO names (name, machine_id, claimed_at) VALUES (?, ?, ?)",
                    (name, newest[0], now),
                )
            dropped = self._execute(
                conn,
                "DELETE FROM host_keys WHERE hostname = ? OR machine_id = ?",
                (name, held[0]),
            ).rowcount
            code = secrets.token_urlsafe(18)
            self._execute(
                conn,
                "UPDATE names SET rekey_code_hash = ?, rekey_until = ? WHERE name = ?",
                (_digest(code), now + REKEY_CODE_TTL, name),
            )
        return {
            "hostname": name,
            "keys_dropped": dropped,
            "enroll_code": code,
            "code_valid_until": now + REKEY_CODE_TTL,
            "machine_id": held[0],
            "product_uuid": held[1],
        }

    # -- reports sent with a host key -------------------------------------------------------

    def key_owner(self, key_hash: str, now: Optional[float] = None) -> Optional[Dict[str, Any]]:
        """Who a key was given to: {"state": "enrolled", machine_id, hostname, product_uuid}
        or {"state": "pending"|"rejected", "id", hostname}; None for no key at all."""
        row = self._query(
            "SELECT machine_id, hostname, product_uuid FROM host_keys WHERE key_hash = ?",
            (key_hash,),
        ).fetchone()
        if row is not None:
            return {
                "state": "enrolled",
                "machine_id": row[0],
                "hostname": row[1],
                "product_uuid": row[2],
            }
        row = self._query(
            "SELECT id, hostname, state, machine_id FROM pending WHERE key_hash = ?", (key_hash,)
        ).fetchone()
        if row is None:
            return None
        now = time.time() if now is None else now
        with self._write() as conn:  # a claim whose VM keeps asking stays on the page
            self._execute(conn, "UPDATE pending SET last_seen = ? WHERE id = ?", (now, row[0]))
        return {"state": row[2], "id": row[0], "hostname": row[1], "machine_id": row[3]}

    def check_report(
        self,
        key_hash: str,
        hostname: str,
        machine_id: Optional[str],
        product_uuid: Optional[str],
        now: Optional[float] = None,
    ) -> Any:
        """What a host key's report may do: a ReportIdentity, or a Refusal (with its event).
        ingest() asks the same inside the transaction that stores the report."""
        now = time.time() if now is None else now
        with self._write() as conn:
            return self._check_report(
                conn, key_hash, hostname.lower(), machine_id, product_uuid, now
            )

    def _check_report(
        self,
        conn: Any,
        key_hash: str,
        name: str,
        machine_id: Optional[str],
        product_uuid: Optional[str],
        now: float,
    ) -> Any:
        key = self._execute(
            conn,
            "SELECT machine_id, hostname, product_uuid FROM host_keys WHERE key_hash = ?",
            (key_hash,),
        ).fetchone()
        if key is None:
            return Refusal("unknown-credential", "this credential is not valid here", [])
        key_mid, key_name, key_uuid = key
        mid = machine_id or ""
        holder = self._execute(
            conn, "SELECT machine_id FROM names WHERE name = ?", (name,)
        ).fetchone()
        if holder is not None and holder[0] != key_mid:
            why = f"{name} belongs to machine-id {holder[0]}"
        elif holder is None and mid != key_mid:
            why = f"machine-id {mid or 'none'} is not its own, and {name} is not its name"
        else:
            # Its own name, or its own machine under a free name (a renamed VM): now the
            # hardware must be the key's, else a clone is using a copied key.
            if key_uuid and product_uuid and key_uuid != product_uuid:
                return self._refuse_report(
                    conn,
                    key_name,
                    "cloned-key",
                    {"machine_id": key_mid, "product_uuid": key_uuid},
                    {"hostname": name, "machine_id": machine_id, "product_uuid": product_uuid},
                    f"a VM with product_uuid {product_uuid} (machine-id {mid or 'none'}) sent "
                    f"a report as {name} with the key {key_name} was given (product_uuid "
                    f"{key_uuid}): a clone holding a copied key; refused, {key_name} "
                    "unaffected",
                    "clone",
                    f"this VM's product_uuid ({product_uuid}) is not the one {key_name} "
                    f"enrolled with: it is a clone holding {key_name}'s copied key. Remove the "
                    "copied key (<state dir>/keys/*.key), give the VM its own machine-id and "
                    "hostname, and run again to enrol it",
                    now,
                )
            if not key_uuid and product_uuid:  # learnt once: a clone is then told apart
                self._execute(
                    conn,
                    "UPDATE host_keys SET product_uuid = ? WHERE key_hash = ? "
                    "AND product_uuid IS NULL",
                    (product_uuid, key_hash),
                )
            if mid == key_mid or not mid:  # no machine-id read: nothing to bind to
                return ReportIdentity(key_mid, None)
            if self._execute(
                conn, "SELECT 1 FROM host_keys WHERE machine_id = ?", (mid,)
            ).fetchone():
                why = f"machine-id {mid} is another enrolled host's"
            else:
                # Its own name, its own hardware, a new machine-id: a re-imaged VM.
                return ReportIdentity(key_mid, (key_mid, mid))
        return self._refuse_report(
            conn,
            key_name,
            "foreign-report",
            {"machine_id": key_mid},
            {"hostname": name, "machine_id": machine_id or None},
            f"the key of {key_name} (machine-id {key_mid}) sent a report as {name} "
            f"(machine-id {mid or 'none'}): {why}; refused, {name} unaffected",
            "foreign",
            f"a host key may only send its own machine's reports: {why}",
            now,
        )

    def _refuse_report(
        self,
        conn: Any,
        key_name: str,
        kind: str,
        before: Any,
        after: Any,
        detail: str,
        reason: str,
        said: str,
        now: float,
    ) -> Refusal:
        event = self._event_once(conn, key_name, kind, before, after, detail, now)
        return Refusal(reason, said, [event] if event else [])

    def _rebind(
        self, conn: Any, name: str, old: str, new: str, observed: float, at: float
    ) -> Optional[Dict[str, Any]]:
        """Inside ingest: a newer report than the key's binding moves the key, the name and
        the host row to the new machine-id, and says so once."""
        bound = self._execute(
            conn, "SELECT bound_at FROM host_keys WHERE machine_id = ?", (old,)
        ).fetchone()
        if bound is None or observed < (bound[0] or 0):
            return None  # an older report (spooled before the change): history only
        self._execute(
            conn,
            "UPDATE host_keys SET machine_id = ?, bound_at = ? WHERE machine_id = ?",
            (new, observed, old),
        )
        self._execute(conn, "UPDATE names SET machine_id = ? WHERE machine_id = ?", (new, old))
        self._execute(
            conn,
            "UPDATE hosts SET machine_id = ? WHERE hostname = ? AND machine_id = ? AND NOT "
            "EXISTS (SELECT 1 FROM hosts h WHERE h.hostname = ? AND h.machine_id = ?)",
            (new, name, old, name, new),
        )
        return self._event(
            conn,
            name,
            "machine-id-changed",
            {"machine_id": old},
            {"machine_id": new},
            f"{name}'s machine-id changed from {old} to {new} (same key, same hardware: a "
            "re-imaged VM or a regenerated /etc/machine-id); accept the host if that was meant",
            at=at,
        )
