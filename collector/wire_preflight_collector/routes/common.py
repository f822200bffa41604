"""What every router uses: the app's state as a dependency, the scopes, JSON answers."""

import json
from typing import Annotated, Any, Dict

from fastapi import Depends, Request
from fastapi.responses import Response

from wire_preflight_collector import auth
from wire_preflight_collector.context import Collector

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


class SecurityHeaders:
    """Pure ASGI middleware: SECURITY_HEADERS on every answer that does not set its own
    (starlette's BaseHTTPMiddleware would cost a task and two streams per request)."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: Dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                present = {bytes(name).lower() for name, _ in headers}
                headers += [
                    (name, value) for name, value in _ENCODED_HEADERS if name not in present
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


_ENCODED_HEADERS = [
    (name.lower().encode("latin-1"), value.encode("latin-1"))
    for name, value in SECURITY_HEADERS.items()
]


async def collector(request: Request) -> Collector:
    """The app's Collector (async: a plain function would be run in the thread pool)."""
    return request.app.state.collector


# A route's parameter `app: App` is the app's Collector.
App = Annotated[Collector, Depends(collector)]


def scope(*allowed: str, write: bool = False) -> Any:
    """A router's credential check: reads take Basic too (the page in a browser); writes take
    only Bearer and only JSON bodies (auth.py says why)."""
    return Depends(auth.requirement(allowed, allow_basic=not write, json_body=write))


def json_response(doc: Any, status_code: int = 200) -> Response:
    # allow_nan=False: a value no JSON reader accepts is a bug to see, not a body to send.
    return Response(
        json.dumps(doc, allow_nan=False, separators=(",", ":")),
        status_code=status_code,
        media_type="application/json",
    )
