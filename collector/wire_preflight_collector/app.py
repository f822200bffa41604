"""The HTTP API, the metrics and the fleet page: a thin layer over the store and the agent's
fleet rules. Who may call what is auth.py's; every route sits in a router of its scope."""

import contextlib
import json
import logging
import secrets as token_source
import sqlite3
import threading
import time
from typing import Any, Dict, Iterator, List, Optional

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi import Path as FastPath
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from wire_preflight.fleet import document, rules
from wire_preflight.fleet.drift import EVENT_KINDS
from wire_preflight.model import FAIL, WARN
from wire_preflight.profiles import Profile

from wire_preflight_collector import auth, schema
from wire_preflight_collector.defaults import MAX_BODY, PENDING_EXPIRY, STALE_AFTER
from wire_preflight_collector.health import WriteHealth, WriteOutcomes
from wire_preflight_collector.metrics import StoreErrors
from wire_preflight_collector.readcache import PerGeneration
from wire_preflight_collector.requestguard import RequestGuard
from wire_preflight_collector.store import Store, hash_key
from wire_preflight_collector.store.identity import Refusal, ReportIdTaken, ReportRefused
from wire_preflight_collector.throttle import WrongCredentials
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
        pending_expiry: float = PENDING_EXPIRY,
    ):
        self.store = store
        self.secrets = auth.Secrets(token, viewer_token, enroll_secret)
        self.profile = profile
        self.planned = planned
        self.max_body = max_body
        self.stale_after = stale_after
        self.webhook = webhook
        self.limiter = WrongCredentials()
        self.pending_expiry = pending_expiry


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

    store_errors = StoreErrors()  # counted for /metrics (wire_preflight_store_errors_total)

    def scan_stale() -> None:
        notify(store.mark_stale(time.time(), settings.stale_after))
        notify(store.expire_pending(time.time(), settings.pending_expiry))

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
                    store_errors.record()
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
        store_errors.record()
        if request.method not in ("GET", "HEAD"):
            write_health.write_failed(exc)
        # The cause (paths, the database's host and user) goes to the log, not to the caller.
        return JSONResponse(
            {"detail": "the collector cannot use its database now (its log says why)"}, 503
        )

    # sqlite3.Error, or psycopg.Error for the PostgreSQL store.
    for error in getattr(store, "errors", (sqlite3.Error,)):
        app.add_exception_handler(error, database_unavailable)

    write_health = WriteHealth(store)
    app.add_middleware(WriteOutcomes, health=write_health)
    app.add_middleware(RequestGuard)  # inside security_headers: its answers get them too

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    def scope(*allowed: str, write: bool = False) -> Any:
        return Depends(
            auth.requirement(
                settings.secrets,
                store,
                allowed,
                allow_basic=not write,
                json_body=write,
                limiter=settings.limiter,
            )
        )

    public = APIRouter()
    readers = APIRouter(dependencies=[scope(auth.ADMIN, auth.VIEWER)])
    reporters = APIRouter(dependencies=[scope(auth.ADMIN, auth.HOST, write=True)])
    enrollers = APIRouter(dependencies=[scope(auth.ENROLL, write=True)])
    admins = APIRouter(dependencies=[scope(auth.ADMIN, write=True)])

    @public.get("/healthz")
    def healthz() -> JSONResponse:
        """Cheap on purpose (anyone may poll it): the database answers and can write
        (health.py). The full integrity check is `wire-preflight-collector integrity` or
        GET /api/v1/admin/integrity."""
        try:
            store.ping()
        except Exception as exc:
            log.error("healthz: the database does not answer: %s", exc)
            return JSONResponse({"status": "error", "database": "unavailable"}, 503)
        problem = write_health.problem()
        if problem:
            return JSONResponse(
                {"status": "error", "database": "cannot write", "reason": problem}, 503
            )
        return JSONResponse({"status": "ok", "database": "ok"})

    @enrollers.post(
        "/api/v1/enroll",
        status_code=201,
        openapi_extra={"requestBody": _body_schema("Enrollment")},
        responses={
            202: {"description": "the name is held by another machine: a pending claim"},
            409: {"description": "refused: a clone, a rejected claim, a wrong re-enrol code"},
        },
    )
    async def enroll(request: Request) -> JSONResponse:
        """Present the enroll secret once; receive a host key bound to this machine-id and
        this name. A name another machine holds gives a pending key (an admin decides)."""
        doc = await _read_document(request, settings.max_body, schema.Enrollment, "enrolment")
        key = token_source.token_urlsafe(32)
        machine_id = doc["machine_id"].lower()
        address = auth.client_address(request)
        outcome = await run_in_threadpool(
            store.enroll,
            machine_id,
            doc["hostname"].lower(),
            doc.get("product_uuid"),
            hash_key(key),
            doc.get("enroll_code"),
            address,
        )
        notify(outcome.events)
        if isinstance(outcome, Refusal):
            if outcome.reason == "bad-code":
                wait = settings.limiter.failed(address, "a wrong re-enrol code")
                if wait is not None:
                    raise auth.refuse(
                        429,
                        "throttled",
                        f"too many wrong credentials from this address: retry after {wait} s",
                        **{"Retry-After": str(wait)},
                    )
            if outcome.reason == "too-many-pending":
                log.warning("enrolment from %s refused: %s", address, outcome.detail)
            status = 503 if outcome.reason == "too-many-pending" else 409
            raise auth.refuse(status, outcome.reason, outcome.detail)
        answer = {"host_key": key, "machine_id": machine_id, "state": outcome.state}
        if outcome.state == "pending":
            answer["pending_id"] = outcome.pending_id
            return JSONResponse(answer, 202)
        return JSONResponse(answer, 201)

    @reporters.post(
        "/api/v1/reports",
        status_code=201,
        openapi_extra={"requestBody": _body_schema("Report")},
        responses={
            200: {"description": "already stored (a retried delivery)"},
            400: {"description": "not JSON"},
            403: {"description": "a host key sent another machine's report"},
            409: {"description": "another host's report has this report id"},
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
        doc["hostname"] = doc["hostname"].lower()  # DNS names are case-insensitive
        # A host key may only send its own machine's reports: checked where it is stored.
        key_hash = caller.key_hash if caller.kind == auth.HOST else None
        try:
            stored, events = await run_in_threadpool(
                store.ingest, doc, time.time(), free_fraction, key_hash
            )
        except ReportRefused as refused:
            notify(refused.refusal.events)
            raise auth.refuse(403, refused.refusal.reason, refused.refusal.detail) from None
        except ReportIdTaken:
            raise auth.refuse(
                409,
                "report-id-taken",
                f"report id {doc['report_id']} belongs to another host's report: every report "
                "needs its own id (the agent makes a new one each run)",
            ) from None
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
            for kind in IDENTITY_FINDINGS
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
        found = store.host(hostname.lower())
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

        from wire_preflight_collector.metrics import render, render_store_errors

        # The fleet's part is held until the store changes; the error count moves without a
        # write (a write that failed), so it is added to each answer.
        body = judged.get("metrics", lambda: render(store, fleet_document(), settings.profile))
        body += render_store_errors(store_errors)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @readers.get("/", response_class=HTMLResponse)
    def page(request: Request) -> HTMLResponse:
        from wire_preflight_collector import hostlist
        from wire_preflight_collector.page import read_drift, render

        try:  # the GET form's fields: filtering and paging happen here, not in a script
            query = hostlist.parse_query(request.query_params)
        except hostlist.QueryError as exc:
            raise HTTPException(400, str(exc)) from None

        def make() -> str:
            return render(
                fleet_document(),
                read_drift(store),
                time.time(),
                settings.planned,
                query,
                store.pending(),
            )

        if query != hostlist.Query():
            return _page(make())  # a search: from the held judgement, rendered for it alone
        # Its "generated" time and "2 min ago"s move with the clock: once it is PAGE_MAX_AGE
        # old it is made anew in the background (readers meanwhile get the held one, whose
        # "generated" says when it was made); any write makes it anew at once.
        return _page(judged.get("page", make, max_age=PAGE_MAX_AGE))

    @readers.get("/hosts/{hostname}", response_class=HTMLResponse)
    def host_page(hostname: str, request: Request) -> HTMLResponse:
        from wire_preflight_collector import page

        hostname = hostname.lower()
        found = store.host(hostname)
        if found is None:
            # A browser gets a page (the API route stays JSON): a planned host that never
            # reported says how to enrol it.
            plan = next((p for p in settings.planned or [] if p["name"] == hostname), None)
            if plan is not None:
                url = str(request.base_url).rstrip("/")
                return _page(page.render_planned_host(plan, url))
            return _page(page.render_unknown_host(hostname), status_code=404)
        events = store.events(hostname=hostname, limit=100)
        summary = store.host_summary(hostname)
        reports = store.report_statuses(hostname, page.host_history.HISTORY_REPORTS)
        return _page(page.render_host(hostname, found, summary, events, time.time(), reports))

    @admins.post("/api/v1/hosts/{hostname}/accept")
    def accept(hostname: str) -> Dict[str, Any]:
        """Accept the host's current state as its baseline: its open drift events close."""
        closed = store.accept(hostname.lower())
        if closed is None:
            raise HTTPException(404, f"no report from a host named {hostname!r}")
        return {"hostname": hostname, "closed_events": closed}

    @admins.post("/api/v1/hosts/{hostname}/rekey")
    def rekey(hostname: str) -> Dict[str, Any]:
        """Drop the host's key, keeping its history and its name: the name goes back only to
        the recorded machine (same machine-id and product_uuid) or to the VM that presents the
        one-time `enroll_code` returned here (`wire-preflight report --enroll-code CODE`)."""
        done = store.rekey(hostname)
        if done is None:
            raise HTTPException(404, f"nothing is known of a host named {hostname!r}")
        return done

    @readers.get("/api/v1/enrollments")
    def get_enrollments() -> Response:
        """Pending (and rejected) claims on names other machines hold, oldest first."""
        return _json({"enrollments": store.pending()})

    @admins.post("/api/v1/enrollments/{pending_id}/{decision}")
    def decide(decision: str, pending_id: int = FastPath(ge=1, lt=2**63)) -> Dict[str, Any]:
        """approve: the name moves to the claimant (the old holder's key is dropped);
        reject: the claimant is refused from now on."""
        if decision not in ("approve", "reject"):
            raise HTTPException(404, "decide with /approve or /reject")
        outcome = store.decide(pending_id, decision == "approve")
        if outcome is None:
            raise HTTPException(404, f"no pending enrolment {pending_id}")
        if isinstance(outcome, Refusal):
            raise auth.refuse(409, outcome.reason, outcome.detail)
        notify([outcome])
        return {"id": pending_id, "decision": decision, "event": outcome}

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


def _page(body: str, status_code: int = 200) -> HTMLResponse:
    from wire_preflight_collector.page import SCRIPT_HASH

    # The page's search form submits to the page itself (a GET): form-action 'self' allows
    # that and nothing else; no other script than the reload may run.
    policy = SECURITY_HEADERS["Content-Security-Policy"].replace(
        "form-action 'none'", "form-action 'self'"
    )
    policy += f"; script-src '{SCRIPT_HASH}'"
    return HTMLResponse(body, status_code=status_code, headers={"Content-Security-Policy": policy})


def _json(doc: Any) -> Response:
    # allow_nan=False: a value no JSON reader accepts is a bug to see, not a body to send.
    return Response(
        json.dumps(doc, allow_nan=False, separators=(",", ":")), media_type="application/json"
    )


# Open identity events shown as findings (more are summed up in one).
IDENTITY_FINDINGS = ("enroll-conflict", "foreign-report", "cloned-key")
MAX_IDENTITY_FINDINGS = 50

PAGE_MAX_AGE = 30.0

# Past any network delay an agent's 25 s of timeouts allow: a clock this far off is wrong.
CLOCK_OFFSET_LIMIT = 60.0


def _collector_findings(doc: Dict[str, Any], events: List[Dict[str, Any]]) -> Dict[str, Any]:
    """What only the collector knows: open identity events (until an admin accepts or
    forgets the host) and hosts whose reports claim a time far from the collector's."""
    messages = {
        "enroll-conflict": (
            "identity-conflict",
            "if the claimant is the named host reinstalled, approve its pending enrolment "
            "(wire-preflight fleet ... enrollments, then approve ID) or re-key the host and "
            "give the VM the code; if it is a clone, give it its own machine-id "
            "(systemd-machine-id-setup) and hostname; else reject it and look at that VM",
        ),
        "foreign-report": (
            "foreign-report",
            "a VM sent reports as another machine: look at that VM; re-key it if its key leaked",
        ),
        "cloned-key": (
            "cloned-key",
            "a clone holds a copied host key: on the clone remove <state dir>/keys/*.key, give "
            "it its own machine-id and hostname, and let it enrol; the key's host is unaffected",
        ),
    }
    identity = [e for e in events if e["kind"] in messages]
    extra = [
        rules.finding(
            messages[e["kind"]][0],
            FAIL,
            "{}: {}".format(e["hostname"], e["detail"]),
            # The sender of a foreign report is its cause; a claim or a clone blames no host
            # (the name's holder did nothing): the message names both sides.
            hosts=[e["hostname"]] if e["kind"] == "foreign-report" else [],
            remedy=messages[e["kind"]][1],
        )
        for e in identity[:MAX_IDENTITY_FINDINGS]
    ]
    if len(identity) > MAX_IDENTITY_FINDINGS:
        extra.append(
            rules.finding(
                "identity-conflict",
                FAIL,
                f"{len(identity) - MAX_IDENTITY_FINDINGS} more open identity event(s) "
                f"(claims, foreign reports, clones) beyond these {MAX_IDENTITY_FINDINGS}: "
                "wire-preflight fleet ... drift --open, and enrollments",
                remedy="decide the pending enrolments; a flood of them means the enroll "
                "secret leaked: rotate it",
            )
        )
    stale = sorted(h["hostname"] for h in doc["hosts"] if h.get("stale"))
    if stale:
        extra.append(
            rules.finding(
                "stale",
                WARN,
                "{} host(s) sent no report within --stale-after: {}".format(
                    len(stale), ", ".join(stale[:20]) + (" ..." if len(stale) > 20 else "")
                ),
                hosts=stale,
                remedy="is the VM up, its timer running (systemctl status wire-preflight.timer), "
                "the collector reachable from it? Forget a host that is gone for good",
            )
        )
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
