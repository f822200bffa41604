"""Requests refused before any route sees them, and clients that leave mid-request.

Text the database cannot hold: PostgreSQL's TEXT refuses the NUL character (U+0000) and both
stores' drivers refuse a lone surrogate (U+D800-U+DFFF, which has no UTF-8 form). A path such
as /api/v1/hosts/a%00b or a query such as ?host=a%00b would otherwise reach the store, fail
there as a database error and be answered 503, which tells an agent to retry for ever. They are
bad input: 400, naming the part of the request that holds it. (Bodies get the same rule from
schema.py, where every string of a report is checked.)

A client that disconnects while its body streams is no error of the collector's: one line at
INFO, not a traceback.
"""

import json
import logging
import re
from typing import Any, Awaitable, Callable, Dict, Optional
from urllib.parse import parse_qsl

from starlette.requests import ClientDisconnect

log = logging.getLogger("wire_preflight_collector")

# What no stored text can be: NUL, and the UTF-16 surrogates on their own.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

Scope = Dict[str, Any]
Receive = Callable[[], Awaitable[Dict[str, Any]]]
Send = Callable[[Dict[str, Any]], Awaitable[None]]


def unstorable_part(scope: Scope) -> Optional[str]:
    """Which part of the request holds text no store can keep, or None."""
    if UNSTORABLE.search(scope.get("path", "")):
        return "the path"
    query = scope.get("query_string", b"")
    if query:
        # As Starlette reads it: latin-1 bytes, percent-decoded as UTF-8.
        for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            if UNSTORABLE.search(name):
                return "a query parameter's name"
            if UNSTORABLE.search(value):
                return f"query parameter {name!r}"
    return None


class RequestGuard:
    """Pure ASGI middleware (no body buffering): see the module's docstring."""

    def __init__(self, app: Callable[..., Awaitable[None]]):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        part = unstorable_part(scope)
        if part is not None:
            detail = (
                f"{part} holds a NUL character or a lone surrogate (U+0000, U+D800-U+DFFF), "
                "which the collector cannot store"
            )
            await _answer(send, 400, detail)
            return
        started = False

        async def watched_send(message: Dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watched_send)
        except ClientDisconnect:
            client = scope.get("client") or ("?",)
            log.info(
                "%s %s: the client %s disconnected before its body was complete",
                scope.get("method"),
                scope.get("path"),
                client[0],
            )
            if not started:  # the server drops it (the client is gone); the app is satisfied
                await _answer(send, 400, "the client disconnected before its body was complete")


async def _answer(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
