"""The HTTP API, the metrics and the fleet page: a thin layer over storage.py and the agent's
fleet rules. Who may call what is auth.py's; every route sits in a router of its scope."""

import contextlib
import json
import logging
import secrets as token_source
import sqlite3
import threading
import time
from typing import Any, Dict, Iterator, List, Optional, Tuple

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from wire_preflight.fleet import document, rules
from wire_preflight.fleet.drift import EVENT_KINDS
from wire_preflight.model import FAIL
from wire_preflight.profiles import Profile

from wire_preflight_collector import auth, schema
from wire_preflight_collector.defaults import MAX_BODY, STALE_AFTER
from wire_preflight_collector.readcache import PerGeneration
from wire_preflight_collector.storage import EnrollConflict, Store, hash_key
from wire_preflight_collector.webhook import Webhook

BODY_SECONDS = 30.0  # the longest a client may take to send its body
log = logging.getLogger("wire_preflight_collector")

# What a browser may do with what this server sends: nothing but show the page.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


class Settings:
    def __init__(
        self,
        store: Store,
        token: str,
        profile: Profile,
        planned: Optional[List[Dict[str, Any]]] = None,
        max_body: int = MAX_BODY,
        stale_after: float = STALE_AFTER,
        webhook: Optional[Webhook] = None,
        viewer_token: Optional[str] = None,
        enroll_secret: Optional[str] = None,
    ):
        self.store = store
        self.secrets = auth.Secrets(token, viewer_token, enroll_secret)
        self.profile = profile
        self.planned = planned
        self.max_body = max_body
        self.stale_after = stale_after
        self.webhook = webhook


def _body_schema(model: str) -> Dict[str, Any]:
    """An OpenAPI request body that is the named model of components/schemas (_publish_models)."""
    return {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model}"}}},
    }


def create_app(settings: Settings) -> FastAPI:
    store = settings.store
    free_fraction = settings.profile.units["disk_free_warn_fraction"]

    def notify(events: List[Dict[str, Any]]) -> None:
        if events and settings.webhook:
            settings.webhook.submit(events)

    def scan_stale() -> None:
        notify(store.mark_stale(time.time(), settings.stale_after))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> Iterator[None]:
        stop = threading.Event()

        def watch() -> None:  # hosts go stale without anyone asking
            interval = max(0.5, min(60.0, settings.stale_after / 4))
            failures = 0
            while not stop.wait(min(600.0, interval * 2**failures)):
                try:
                    scan_stale()
                    failures = 0
                except Exception as exc:  # a full disk, a locked database: try again later
                    failures = min(failures + 1, 6)
                    log.warning("stale-watch: %s (retrying)", exc)

        watcher = threading.Thread(target=watch, name="stale-watch", daemon=True)
        watcher.start()
        if settings.webhook:
            settings.webhook.start()
        yield
        stop.set()
        if settings.webhook:
            settings.webhook.stop()

    app = FastAPI(
        title="wire-preflight collector",
        version="1",
        lifespan=lifespan,
        description="Fleet reports, drift and metrics of wire-preflight agents.",
        # Swagger UI loads scripts from a CDN: useless air-gapped, and script on this origin.
        docs_url=None,
        redoc_url=None,
    )

    async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        # A full disk or a locked database is the world's doing: 503 tells an agent to spool
        # and retry, and the transaction was rolled back, so nothing half-written remains.
        log.error("database error on %s %s: %s", request.method, request.url.path, exc)
        # The cause (paths, the database's host and user) goes to the log, not to the caller.
        return JSONResponse(
            {"detail": "the collector cannot use its database now (its log says why)"}, 503
        )

    # sqlite3.Error, or psycopg.Error for the PostgreSQL store.
    for error in getattr(store, "errors", (sqlite3.Error,)):
        app.add_exception_handler(error, database_unavailable)

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    def scope(*allowed: str, write: bool = False) -> Any:
        return Depends(
            auth.requirement(
                settings.secrets, store, allowed, allow_basic=not write, json_body=write
            )
        )

    public = APIRouter()
    readers = APIRouter(dependencies=[scope(auth.ADMIN, auth.VIEWER)])
    reporters = APIRouter(dependencies=[scope(auth.ADMIN, auth.HOST, write=True)])
    enrollers = APIRouter(dependencies=[scope(auth.ENROLL, write=True)])
    admins = APIRouter(dependencies=[scope(auth.ADMIN, write=True)])

    @public.get("/healthz")
    def healthz() -> JSONResponse:
        """Cheap on purpose (anyone may poll it): the database answers. The full integrity
        check is `wire-preflight-collector integrity` or GET /api/v1/admin/integrity."""
        try:
            store.ping()
        except Exception as exc:
            log.error("healthz: the database does not answer: %s", exc)
            return JSONResponse({"status": "error", "database": "unavailable"}, 503)
        return JSONResponse({"status": "ok", "database": "ok"})

    @enrollers.post(
        "/api/v1/enroll",
        status_code=201,
        openapi_extra={"requestBody": _body_schema("Enrollment")},
        responses={409: {"description": "that machine-id holds a key: forget or re-key it"}},
    )
    async def enroll(request: Request) -> JSONResponse:
        """Present the enroll secret once; receive a host key bound to this machine-id."""
        doc = await _read_document(request, settings.max_body, schema.Enrollment, "enrolment")
        key = token_source.token_urlsafe(32)
        try:
            await run_in_threadpool(
                store.enroll,
                doc["machine_id"].lower(),
                doc["hostname"],
                doc.get("product_uuid"),
                hash_key(key),
            )
        except EnrollConflict as exc:
            machine_id = doc["machine_id"].lower()
            event = await run_in_threadpool(
                store.record_event,
                doc["hostname"],
                "enroll-conflict",
                f"machine-id {machine_id} asked for a key, but {exc.hostname} holds one "
                "(a cloned VM, or a reinstalled one: forget or re-key the host)",
                {"machine_id": machine_id, "holder": exc.hostname},
            )
            notify([event] if event else [])
            raise HTTPException(
                409,
                f"machine-id {machine_id} is enrolled already (as {exc.hostname}); an "
                "admin must forget or re-key that host first",
            ) from None
        return JSONResponse({"host_key": key, "machine_id": doc["machine_id"].lower()}, 201)

    @reporters.post(
        "/api/v1/reports",
        status_code=201,
        openapi_extra={"requestBody": _body_schema("Report")},
        responses={
            200: {"description": "already stored (a retried delivery)"},
            400: {"description": "not JSON"},
            403: {"description": "a host key sent another machine's report"},
            413: {"description": "body over the limit"},
            415: {"description": "not Content-Type: application/json"},
            422: {"description": "not a valid report; detail names the field"},
        },
    )
    async def post_report(request: Request) -> JSONResponse:
        doc = await _read_document(request, settings.max_body, schema.Report, "report")
        caller = request.state.caller
        facts = doc["facts"]
        if facts.get("machine_id"):  # one machine, one spelling: keys are bound lower-case
            facts["machine_id"] = facts["machine_id"].lower()
        if caller.kind == auth.HOST:
            why, event = await run_in_threadpool(_foreign_report, store, caller, doc)
            if why:
                notify([event] if event else [])
                raise HTTPException(403, "a host key may only send its own machine's reports")
        stored, events = await run_in_threadpool(store.ingest, doc, time.time(), free_fraction)
        notify(events)
        return JSONResponse(
            {
                "report_id": doc["report_id"],
                "stored": stored,
                "events": [e["kind"] for e in events],
            },
            status_code=201 if stored else 200,
        )

    judged = PerGeneration(store.generation)

    def fleet_document() -> Dict[str, Any]:
        """The judged fleet, shared by every reader until the store changes: do not modify."""
        return judged.get("fleet", judge_fleet)

    def judge_fleet() -> Dict[str, Any]:
        # Staleness is the stale-watcher's job: a read taking the write lock would queue
        # behind ingest (and pause every collector sharing a PostgreSQL database).
        hosts, problems = store.summaries()
        doc = document.build(hosts, settings.profile, settings.planned, problems)
        # Identity events by kind: a flood of newer drift events must not push them out.
        identity = [
            event
            for kind in ("enroll-conflict", "foreign-report")
            for event in store.events(kind=kind, open_only=True, limit=10000)
        ]
        return _collector_findings(doc, identity)

    @readers.get("/api/v1/fleet")
    def get_fleet() -> Response:
        # A Response, not a dict: FastAPI's generic encoder takes seconds on 10,000 hosts.
        body = judged.get("fleet.json", lambda: _json(fleet_document()).body)
        return Response(body, media_type="application/json")

    @readers.get("/api/v1/hosts/{hostname}")
    def get_host(hostname: str) -> Response:
        found = store.host(hostname)
        if found is None:
            raise HTTPException(404, f"no report from a host named {hostname!r}")
        return _json(found)

    @readers.get("/api/v1/drift")
    def get_drift(
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
        return _json({"events": store.events(host, kind, since, open, max(1, min(limit, 10000)))})

    @readers.get("/metrics")
    def get_metrics() -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST

        from wire_preflight_collector.metrics import render

        body = judged.get("metrics", lambda: render(store, fleet_document(), settings.profile))
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @readers.get("/", response_class=HTMLResponse)
    def page() -> HTMLResponse:
        from wire_preflight_collector.page import render

        def make() -> str:
            drift = store.events(open_only=True, limit=50)
            return render(fleet_document(), drift, time.time(), settings.planned)

        # Its "generated" time and "2 min ago"s move with the clock: once it is PAGE_MAX_AGE
        # old it is made anew in the background (readers meanwhile get the held one, whose
        # "generated" says when it was made); any write makes it anew at once.
        return _page(judged.get("page", make, max_age=PAGE_MAX_AGE))

    @readers.get("/hosts/{hostname}", response_class=HTMLResponse)
    def host_page(hostname: str) -> HTMLResponse:
        from wire_preflight_collector.page import render_host

        found = store.host(hostname)
        if found is None:
            raise HTTPException(404, f"no report from a host named {hostname!r}")
        events = store.events(hostname=hostname, limit=100)
        summary = store.host_summary(hostname)
        return _page(render_host(hostname, found, summary, events, time.time()))

    @admins.post("/api/v1/hosts/{hostname}/accept")
    def accept(hostname: str) -> Dict[str, Any]:
        """Accept the host's current state as its baseline: its open drift events close."""
        closed = store.accept(hostname)
        if closed is None:
            raise HTTPException(404, f"no report from a host named {hostname!r}")
        return {"hostname": hostname, "closed_events": closed}

    @admins.post("/api/v1/hosts/{hostname}/rekey")
    def rekey(hostname: str) -> Dict[str, Any]:
        """Drop the host's key, keeping its history: its machine may enrol again."""
        dropped = store.rekey(hostname)
        if not dropped:
            raise HTTPException(404, f"no key is held for a host named {hostname!r}")
        return {"hostname": hostname, "keys_dropped": dropped}

    @admins.delete("/api/v1/hosts/{hostname}")
    def forget(hostname: str) -> Dict[str, Any]:
        """Remove a host: its reports, its summary and its key (its events stay, closed)."""
        removed = store.forget(hostname)
        if removed is None:
            raise HTTPException(404, f"nothing is known of a host named {hostname!r}")
        return {"hostname": hostname, **removed}

    @admins.get("/api/v1/admin/integrity")
    def integrity() -> Dict[str, Any]:
        """SQLite's full integrity check (reads the whole database: slow on a big one)."""
        return {"integrity_check": store.integrity()}

    for router in (public, readers, reporters, enrollers, admins):
        app.include_router(router)
    _publish_models(app)
    return app


def _publish_models(app: FastAPI) -> None:
    """Put the body models into /openapi.json (the routes read their bodies themselves, to
    bound their size while they stream)."""
    from fastapi.openapi.utils import get_openapi

    def build() -> Dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            components = spec.setdefault("components", {}).setdefault("schemas", {})
            for model in (schema.Report, schema.Enrollment):
                definition = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(definition.pop("$defs", {}))
                components[model.__name__] = definition
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]


def _page(body: str) -> HTMLResponse:
    from wire_preflight_collector.page import SCRIPT_HASH

    policy = SECURITY_HEADERS["Content-Security-Policy"] + f"; script-src '{SCRIPT_HASH}'"
    return HTMLResponse(body, headers={"Content-Security-Policy": policy})


def _foreign_report(
    store: Store, caller: auth.Caller, doc: Dict[str, Any]
) -> Tuple[Optional[str], Optional[Dict[str, Any]]]:
    """(why a host key may not send this report, the event recording it, None if that one
    is open already); (None, None) when the report is the key's own to send.

    Another machine is another machine-id, or a hostname that another machine already holds
    (its rows, or its key): a VM could otherwise file its reports under a neighbour's name and
    take over that host's page and drift. A renamed VM taking a free name is fine; a
    reinstalled one (new machine-id, old name) needs the old host forgotten first."""
    machine_id = doc["facts"].get("machine_id") or ""
    hostname = doc["hostname"]
    if machine_id == caller.machine_id:
        holders = store.hostname_holders(hostname) - {caller.machine_id}
        if not holders:
            return None, None
        why = "{} belongs to machine-id {}".format(hostname, ", ".join(sorted(holders)))
    else:
        why = "machine-id {} is not its own".format(machine_id or "none")
    event = store.record_event(
        caller.hostname,
        "foreign-report",
        f"the key of {caller.hostname} (machine-id {caller.machine_id}) sent a report as "
        f"{hostname}: {why}; refused",
        {"machine_id": caller.machine_id},
        {"hostname": hostname, "machine_id": machine_id or None},
    )
    return why, event


def _json(doc: Any) -> Response:
    # allow_nan=False: a value no JSON reader accepts is a bug to see, not a body to send.
    return Response(
        json.dumps(doc, allow_nan=False, separators=(",", ":")), media_type="application/json"
    )


PAGE_MAX_AGE = 30.0

# Past any network delay an agent's 25 s of timeouts allow: a clock this far off is wrong.
CLOCK_OFFSET_LIMIT = 60.0


def _collector_findings(doc: Dict[str, Any], events: List[Dict[str, Any]]) -> Dict[str, Any]:
    """What only the collector knows: open identity events (until an admin accepts or
    forgets the host) and hosts whose reports claim a time far from the collector's."""
    messages = {
        "enroll-conflict": (
            "identity-conflict",
            "forget or re-key the host that holds the key if this is a reinstalled VM; if it "
            "is a clone, give it its own machine-id (systemd-machine-id-setup) and enrol it",
        ),
        "foreign-report": (
            "foreign-report",
            "a VM sent reports as another machine: look at that VM; re-key it if its key leaked",
        ),
    }
    extra = [
        rules.finding(
            messages[e["kind"]][0],
            FAIL,
            "{}: {}".format(e["hostname"], e["detail"]),
            hosts=[e["hostname"]],
            remedy=messages[e["kind"]][1],
        )
        for e in events
        if e["kind"] in messages
    ]
    for host in doc["hosts"]:
        clock = host.get("clock") or {}
        offset = clock.get("offset_s")
        far = offset is not None and abs(offset) > CLOCK_OFFSET_LIMIT
        if clock.get("source") == "collector" and far:
            extra.append(
                rules.finding(
                    "clock-offset",
                    FAIL,
                    "{}: its report says {:+.0f} s from the collector's clock; the "
                    "collector orders its reports by its own clock".format(
                        host["hostname"], offset
                    ),
                    hosts=[host["hostname"]],
                    remedy="synchronise the VM's clock with NTP (timedatectl, chrony)",
                )
            )
    if extra:
        findings = doc["findings"] + extra
        findings.sort(key=lambda f: (rules.ORDER[f["status"]], f["id"]))
        doc["findings"] = findings
        doc["verdict"] = rules.verdict(findings)
    return doc


async def _read_document(request: Request, limit: int, model: Any, what: str) -> Dict[str, Any]:
    import asyncio

    try:
        body = await asyncio.wait_for(_read_limited(request, limit), BODY_SECONDS)
    except asyncio.TimeoutError:
        raise HTTPException(408, f"the body took longer than {BODY_SECONDS:.0f} s") from None
    try:
        # Off the event loop: a 1 MiB body takes tenths of a second to parse and check, and
        # every other request would wait for it.
        return await run_in_threadpool(_parse_and_validate, model, body, what)
    except schema.BodyError as exc:
        raise HTTPException(exc.status, str(exc)) from None


def _parse_and_validate(model: Any, body: bytes, what: str) -> Dict[str, Any]:
    return schema.validate(model, schema.parse_json(body), what, body)


async def _read_limited(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it passes the limit: a declared length over it
    is refused before reading, a chunked body is counted while it streams."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise HTTPException(413, f"the body is {declared} bytes; the limit is {limit}")
        except ValueError:
            raise HTTPException(400, "bad Content-Length") from None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"the body passed the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
