"""The HTTP API, the metrics and the fleet page: a thin layer over storage.py and the agent's
fleet rules.

Every route but /healthz and the API docs needs the token: `Authorization: Bearer TOKEN` for
agents, scripts and Prometheus, or HTTP Basic with the token as password, so a person's
browser can open the page (it asks once). The token is compared in constant time and never
logged.
"""

import base64
import contextlib
import hmac
import json
import threading
import time
from typing import Any, Dict, Iterator, List, Optional

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from wire_preflight import report as report_schema
from wire_preflight.fleet import document
from wire_preflight.fleet.drift import EVENT_KINDS
from wire_preflight.model import InputError
from wire_preflight.profiles import Profile
from wire_preflight_collector.storage import Store
from wire_preflight_collector.webhook import Webhook

MAX_BODY = 1024 * 1024  # a report is 10-40 KB; a MiB leaves room without inviting abuse
DEFAULT_INTERVAL = 300  # the agents' timer: every five minutes


class Settings:
    def __init__(
        self,
        store: Store,
        token: str,
        profile: Profile,
        planned: Optional[List[Dict[str, Any]]] = None,
        max_body: int = MAX_BODY,
        stale_after: float = 3 * DEFAULT_INTERVAL,
        webhook: Optional[Webhook] = None,
    ):
        self.store = store
        self.token = token
        self.profile = profile
        self.planned = planned
        self.max_body = max_body
        self.stale_after = stale_after
        self.webhook = webhook


def _presented_token(request: Request) -> Optional[str]:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(value.strip()).decode("utf-8").partition(":")[2]
        except (ValueError, UnicodeDecodeError):
            return ""
    return None


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
            while not stop.wait(max(0.5, min(60.0, settings.stale_after / 4))):
                scan_stale()

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
    )

    def authorize(request: Request) -> None:
        presented = _presented_token(request)
        if presented is None:
            raise HTTPException(
                401,
                "a token is required",
                headers={"WWW-Authenticate": 'Basic realm="wire-preflight"'},
            )
        if not hmac.compare_digest(presented.encode("utf-8"), settings.token.encode("utf-8")):
            raise HTTPException(403, "wrong token")

    @app.get("/healthz")
    def healthz() -> Dict[str, Any]:
        return {"status": "ok", "database": store.check()}

    @app.post(
        "/api/v1/reports",
        status_code=201,
        responses={
            200: {"description": "already stored (a retried delivery)"},
            400: {"description": "not JSON"},
            401: {},
            403: {},
            413: {"description": "body over the limit"},
            422: {"description": "not a valid report; detail names the field"},
        },
    )
    async def post_report(request: Request) -> JSONResponse:
        authorize(request)
        body = await _read_limited(request, settings.max_body)
        try:
            doc = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise HTTPException(400, f"the body is not JSON: {exc}") from None
        try:
            report_schema.validate(doc, "in request")
        except InputError as exc:
            raise HTTPException(422, str(exc)) from None
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

    def fleet_document() -> Dict[str, Any]:
        scan_stale()
        return document.build(store.summaries(), settings.profile, settings.planned)

    @app.get("/api/v1/fleet")
    def get_fleet(request: Request) -> JSONResponse:
        authorize(request)
        # A Response, not a dict: FastAPI's generic encoder takes seconds on 10,000 hosts.
        return JSONResponse(fleet_document())

    @app.get("/api/v1/hosts/{hostname}")
    def get_host(hostname: str, request: Request) -> Dict[str, Any]:
        authorize(request)
        found = store.host(hostname)
        if found is None:
            raise HTTPException(404, f"no report from a host named {hostname!r}")
        return found

    @app.post("/api/v1/hosts/{hostname}/accept")
    def accept(hostname: str, request: Request) -> Dict[str, Any]:
        """Accept the host's current state as its baseline: its open drift events close."""
        authorize(request)
        closed = store.accept(hostname)
        if closed is None:
            raise HTTPException(404, f"no report from a host named {hostname!r}")
        return {"hostname": hostname, "closed_events": closed}

    @app.get("/api/v1/drift")
    def get_drift(
        request: Request,
        host: Optional[str] = None,
        kind: Optional[str] = None,
        since: Optional[float] = None,
        open: bool = False,
        limit: int = 1000,
    ) -> Dict[str, Any]:
        """Drift events, newest first; `since` is Unix time, `open=true` hides accepted ones."""
        authorize(request)
        if kind is not None and kind not in EVENT_KINDS:
            raise HTTPException(422, "kind must be one of: " + ", ".join(EVENT_KINDS))
        scan_stale()
        return {"events": store.events(host, kind, since, open, max(1, min(limit, 10000)))}

    @app.get("/metrics")
    def get_metrics(request: Request) -> Response:
        authorize(request)
        from prometheus_client import CONTENT_TYPE_LATEST
        from wire_preflight_collector.metrics import render

        body = render(store, fleet_document(), settings.profile)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @app.get("/", response_class=HTMLResponse)
    def page(request: Request) -> HTMLResponse:
        authorize(request)
        from wire_preflight_collector.page import render

        drift = store.events(open_only=True, limit=50)
        return HTMLResponse(render(fleet_document(), drift, time.time()))

    return app


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
