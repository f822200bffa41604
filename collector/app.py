"""The HTTP API and the fleet page: a thin layer over storage.py and the agent's fleet rules.

Every route but /healthz and the API docs needs the token: `Authorization: Bearer TOKEN` for
scripts and agents, or HTTP Basic with the token as password, so a person's browser can open
the page (it asks once). The token is compared in constant time and never logged.
"""

import base64
import hmac
import json
import time
from typing import Any, Dict, List, Optional

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool
from wire_preflight import report as report_schema
from wire_preflight.fleet import document
from wire_preflight.model import InputError
from wire_preflight.profiles import Profile
from wire_preflight_collector.storage import Store

MAX_BODY = 1024 * 1024  # a report is 10-40 KB; a MiB leaves room without inviting abuse


class Settings:
    def __init__(
        self,
        store: Store,
        token: str,
        profile: Profile,
        planned: Optional[List[Dict[str, Any]]] = None,
        max_body: int = MAX_BODY,
    ):
        self.store = store
        self.token = token
        self.profile = profile
        self.planned = planned
        self.max_body = max_body


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
    app = FastAPI(
        title="wire-preflight collector",
        description="Fleet reports of wire-preflight agents.",
        version="1",
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
        return {"status": "ok", "database": settings.store.check()}

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
        stored = await run_in_threadpool(settings.store.ingest, doc, time.time(), body)
        return JSONResponse(
            {"report_id": doc["report_id"], "stored": stored}, status_code=201 if stored else 200
        )

    def fleet_document() -> Dict[str, Any]:
        return document.build(settings.store.summaries(), settings.profile, settings.planned)

    @app.get("/api/v1/fleet")
    def get_fleet(request: Request) -> JSONResponse:
        authorize(request)
        # A Response, not a dict: FastAPI's generic encoder takes seconds on 10,000 hosts.
        return JSONResponse(fleet_document())

    @app.get("/api/v1/hosts/{hostname}")
    def get_host(hostname: str, request: Request) -> Dict[str, Any]:
        authorize(request)
        found = settings.store.host(hostname)
        if found is None:
            raise HTTPException(404, f"no report from a host named {hostname!r}")
        return found

    @app.get("/", response_class=HTMLResponse)
    def page(request: Request) -> HTMLResponse:
        authorize(request)
        from wire_preflight_collector.page import render

        return HTMLResponse(render(fleet_document(), time.time()))

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
