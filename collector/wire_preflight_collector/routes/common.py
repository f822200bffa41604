"""What every router uses: the app's state as a dependency, the scopes, JSON answers."""

import json
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import Response

from wire_preflight_collector import auth
from wire_preflight_collector.context import Collector


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
