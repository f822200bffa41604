"""An admin's changes: accept a host's new state, re-key, forget, decide pending enrolments,
and the full integrity check (reads the whole database, so an admin asks for it)."""

from typing import Any, Dict

from fastapi import APIRouter, HTTPException
from fastapi import Path as FastPath

from wire_preflight_collector import auth
from wire_preflight_collector.routes.common import App, scope
from wire_preflight_collector.store.identity import Refusal

admins = APIRouter(dependencies=[scope(auth.ADMIN, write=True)])


@admins.post("/api/v1/hosts/{hostname}/accept")
def accept(hostname: str, app: App) -> Dict[str, Any]:
    """Accept the host's current state as its baseline: its open drift events close."""
    closed = app.store.accept(hostname.lower())
    app.judged.show_changes_now()
    if closed is None:
        raise HTTPException(404, f"no report from a host named {hostname!r}")
    return {"hostname": hostname, "closed_events": closed}


@admins.post("/api/v1/hosts/{hostname}/rekey")
def rekey(hostname: str, app: App) -> Dict[str, Any]:
    """Drop the host's key, keeping its history and its name: the name goes back only to
    the recorded machine (same machine-id and product_uuid) or to the VM that presents the
    one-time `enroll_code` returned here (`wire-preflight report --enroll-code CODE`)."""
    done = app.store.rekey(hostname)
    app.judged.show_changes_now()
    if done is None:
        raise HTTPException(404, f"nothing is known of a host named {hostname!r}")
    return done


@admins.post("/api/v1/enrollments/{pending_id}/{decision}")
def decide(app: App, decision: str, pending_id: int = FastPath(ge=1, lt=2**63)) -> Dict[str, Any]:
    """approve: the name moves to the claimant (the old holder's key is dropped);
    reject: the claimant is refused from now on."""
    if decision not in ("approve", "reject"):
        raise HTTPException(404, "decide with /approve or /reject")
    outcome = app.store.decide(pending_id, decision == "approve")
    app.judged.show_changes_now()
    if outcome is None:
        raise HTTPException(404, f"no pending enrolment {pending_id}")
    if isinstance(outcome, Refusal):
        raise auth.refuse(409, outcome.reason, outcome.detail)
    app.notify([outcome])
    return {"id": pending_id, "decision": decision, "event": outcome}


@admins.delete("/api/v1/hosts/{hostname}")
def forget(hostname: str, app: App) -> Dict[str, Any]:
    """Remove a host: its reports, its summary and its key (its events stay, closed)."""
    removed = app.store.forget(hostname)
    app.judged.show_changes_now()
    if removed is None:
        raise HTTPException(404, f"nothing is known of a host named {hostname!r}")
    return {"hostname": hostname, **removed}


@admins.get("/api/v1/admin/integrity")
def integrity(app: App) -> Dict[str, Any]:
    """SQLite's full integrity check (reads the whole database: slow on a big one)."""
    return {"integrity_check": app.store.integrity()}
