"""Reports and enrolment: the two routes agents call. Their bodies are read here, bounded in
size and time while they stream, then parsed and checked against schema.py."""

import logging
import secrets as token_source
import time
from typing import Any, Dict, Optional, Tuple

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from wire_preflight_collector import auth, schema
from wire_preflight_collector.context import Collector
from wire_preflight_collector.routes.common import App, scope
from wire_preflight_collector.store import hash_key
from wire_preflight_collector.store.identity import Refusal, ReportIdTaken, ReportRefused

log = logging.getLogger("wire_preflight_collector")

BODY_SECONDS = 30.0  # the longest a client may take to send its body

reporters = APIRouter(dependencies=[scope(auth.ADMIN, auth.HOST, write=True)])
enrollers = APIRouter(dependencies=[scope(auth.ENROLL, write=True)])


def body_schema(model: str) -> Dict[str, Any]:
    """An OpenAPI request body that is the named model of components/schemas (app.py
    publishes the models)."""
    return {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model}"}}},
    }


@enrollers.post(
    "/api/v1/enroll",
    status_code=201,
    openapi_extra={"requestBody": body_schema("Enrollment")},
    responses={
        202: {"description": "the name is held by another machine: a pending claim"},
        409: {"description": "refused: a clone, a rejected claim, a wrong re-enrol code"},
    },
)
async def enroll(request: Request, app: App) -> JSONResponse:
    """Present the enroll secret once; receive a host key bound to this machine-id and
    this name. A name another machine holds gives a pending key (an admin decides)."""
    doc = await _read_document(request, app.settings.max_body, schema.Enrollment, "enrolment")
    key = token_source.token_urlsafe(32)
    machine_id = doc["machine_id"].lower()
    address = auth.client_address(request)
    outcome = await run_in_threadpool(
        app.store.enroll,
        machine_id,
        doc["hostname"].lower(),
        doc.get("product_uuid"),
        hash_key(key),
        doc.get("enroll_code"),
        address,
    )
    app.notify(outcome.events)
    if isinstance(outcome, Refusal):
        if outcome.reason == "bad-code":
            wait = app.settings.limiter.failed(address, "a wrong re-enrol code")
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
    openapi_extra={"requestBody": body_schema("Report")},
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
async def post_report(request: Request, app: App) -> JSONResponse:
    body = await _read_body(request, app.settings.max_body)
    caller = request.state.caller
    # A host key may only send its own machine's reports: checked where it is stored.
    key_hash = caller.key_hash if caller.kind == auth.HOST else None
    try:
        # One trip off the event loop for the whole report: a 1 MiB body takes tenths of a
        # second to parse and check, and every other request would wait for it.
        doc, stored, events = await run_in_threadpool(_check_and_store, app, body, key_hash)
    except schema.BodyError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    except ReportRefused as refused:
        app.notify(refused.refusal.events)
        raise auth.refuse(403, refused.refusal.reason, refused.refusal.detail) from None
    except ReportIdTaken as taken:
        raise auth.refuse(
            409,
            "report-id-taken",
            f"report id {taken.args[0]} belongs to another host's report: every report "
            "needs its own id (the agent makes a new one each run)",
        ) from None
    app.notify(events)
    return JSONResponse(
        {
            "report_id": doc["report_id"],
            "stored": stored,
            "events": [e["kind"] for e in events],
        },
        status_code=201 if stored else 200,
    )


def _check_and_store(app: Collector, body: bytes, key_hash: Optional[str]) -> Tuple[Any, ...]:
    """(report, stored, events) of a report's body, once it is valid (BodyError if not)."""
    doc = _parse_and_validate(schema.Report, body, "report")
    facts = doc["facts"]
    if facts.get("machine_id"):  # one machine, one spelling: keys are bound lower-case
        facts["machine_id"] = facts["machine_id"].lower()
    doc["hostname"] = doc["hostname"].lower()  # DNS names are case-insensitive
    stored, events = app.store.ingest(doc, time.time(), app.free_fraction, key_hash)
    return doc, stored, events


async def _read_document(request: Request, limit: int, model: Any, what: str) -> Dict[str, Any]:
    body = await _read_body(request, limit)
    try:
        # Off the event loop: a 1 MiB body takes tenths of a second to parse and check, and
        # every other request would wait for it.
        return await run_in_threadpool(_parse_and_validate, model, body, what)
    except schema.BodyError as exc:
        raise HTTPException(exc.status, str(exc)) from None


async def _read_body(request: Request, limit: int) -> bytes:
    import asyncio

    try:
        return await asyncio.wait_for(_read_limited(request, limit), BODY_SECONDS)
    except asyncio.TimeoutError:
        raise HTTPException(408, f"the body took longer than {BODY_SECONDS:.0f} s") from None


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
