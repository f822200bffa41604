"""The API's reads (a viewer's or an admin's): the fleet, a host, drift, pending enrolments,
/metrics; and /healthz, which anyone may poll."""

import logging
from email.utils import formatdate
from typing import Dict, Optional

from fastapi import APIRouter, HTTPException
from fastapi.responses import JSONResponse, Response
from wire_preflight.fleet.drift import EVENT_KINDS

from wire_preflight_collector import auth
from wire_preflight_collector.fleetview import fleet_view
from wire_preflight_collector.routes.common import App, json_response, scope

log = logging.getLogger("wire_preflight_collector")

public = APIRouter()
readers = APIRouter(dependencies=[scope(auth.ADMIN, auth.VIEWER)])


@public.get("/healthz")
def healthz(app: App) -> JSONResponse:
    """Cheap on purpose (anyone may poll it): the database answers and can write
    (health.py). The full integrity check is `wire-preflight-collector integrity` or
    GET /api/v1/admin/integrity."""
    try:
        app.store.ping()
    except Exception as exc:
        log.error("healthz: the database does not answer: %s", exc)
        return JSONResponse({"status": "error", "database": "unavailable"}, 503)
    problem = app.write_health.problem()
    if problem:
        return JSONResponse({"status": "error", "database": "cannot write", "reason": problem}, 503)
    return JSONResponse({"status": "ok", "database": "ok"})


@readers.get("/api/v1/fleet")
def get_fleet(app: App) -> Response:
    # A Response, not a dict: FastAPI's generic encoder takes seconds on 10,000 hosts.
    view = fleet_view(app)
    body = app.judged.get("fleet.json", lambda: json_response(view.value).body, key=view.key)
    return Response(body, media_type="application/json", headers=as_of(view.made_at))


@readers.get("/api/v1/hosts/{hostname}")
def get_host(hostname: str, app: App) -> Response:
    found = app.store.host(hostname.lower())
    if found is None:
        raise HTTPException(404, f"no report from a host named {hostname!r}")
    return json_response(found)


@readers.get("/api/v1/drift")
def get_drift(
    app: App,
    host: Optional[str] = None,
    kind: Optional[str] = None,
    since: Optional[float] = None,
    open: bool = False,
    limit: int = 1000,
) -> Response:
    """Drift events, newest first; `since` is Unix time, `open=true` hides accepted ones."""
    if kind is not None and kind not in EVENT_KINDS:
        raise HTTPException(422, "kind must be one of: " + ", ".join(EVENT_KINDS))
    if since is not None and not -1e12 < since < 1e12:
        raise HTTPException(422, "since must be a Unix time")
    return json_response(
        {"events": app.store.events(host, kind, since, open, max(1, min(limit, 10000)))}
    )


@readers.get("/metrics")
def get_metrics(app: App) -> Response:
    from prometheus_client import CONTENT_TYPE_LATEST

    from wire_preflight_collector.metrics import render, render_store_errors

    # The fleet's part is held until the store changes; the error count moves without a
    # write (a write that failed), so it is added to each answer.
    view = fleet_view(app)
    body = app.judged.get(
        "metrics", lambda: render(app.store, view.value, app.settings.profile), key=view.key
    )
    body += render_store_errors(app.shared.store_errors)
    return Response(body, media_type=CONTENT_TYPE_LATEST, headers=as_of(view.made_at))


def as_of(made_at: float) -> Dict[str, str]:
    """When the judgement these fleet reads come from read the store (readcache.py: under
    steady ingest up to its LAG behind), as HTTP says how old a representation is."""
    return {"Last-Modified": formatdate(made_at, usegmt=True)}


@readers.get("/api/v1/enrollments")
def get_enrollments(app: App) -> Response:
    """Pending (and rejected) claims on names other machines hold, oldest first."""
    return json_response({"enrollments": app.store.pending()})
