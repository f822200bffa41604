"""Who is asking, and what they may do: the collector's credentials and scopes.

Four kinds of credential, after osquery/Fleet's enroll secret and node keys:
- the admin token (`--token-file`): reads, administers, and may post a report for any host;
- the viewer token (`--viewer-token-file`): reads only (the page, every GET, /metrics);
- the enroll secret (`--enroll-secret-file`): only `POST /api/v1/enroll`, which gives out
- host keys: one per machine-id; a key posts reports for its own machine only.

Routes are grouped by scope into routers whose dependency checks the credential, so a route
cannot be added without one (tests/test_collector_security.py walks every route).

Writes take only `Authorization: Bearer` and only JSON bodies: a browser that holds Basic
credentials for the page cannot be made to send either from another origin without a CORS
preflight, which this server never grants. Secrets compare in constant time; host keys are
kept as SHA-256 hashes and looked up by hash.
"""

import base64
import hmac
from typing import Awaitable, Callable, NamedTuple, Optional

from fastapi import HTTPException, Request
from starlette.concurrency import run_in_threadpool

from wire_preflight_collector.store import Store, hash_key
from wire_preflight_collector.throttle import WrongCredentials

ADMIN, VIEWER, HOST, ENROLL = "admin", "viewer", "host", "enroll"


class Caller(NamedTuple):
    kind: str
    machine_id: Optional[str] = None  # host keys only: the machine the key was given to
    hostname: Optional[str] = None
    key_hash: Optional[str] = None


# The header that tells an agent why its identity is refused (what to do next: wait for an
# admin, stop and say so, or enrol again); the body's `detail` is for the person.
REFUSAL_HEADER = "X-Wire-Preflight-Refusal"


def refuse(status: int, reason: str, detail: str, **headers: str) -> HTTPException:
    return HTTPException(status, detail, headers={REFUSAL_HEADER: reason, **headers})


class Secrets(NamedTuple):
    admin: str
    viewer: Optional[str] = None
    enroll: Optional[str] = None


def _presented(request: Request, allow_basic: bool) -> Optional[str]:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic" and allow_basic:
        try:
            return base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")[2]
        except (ValueError, UnicodeDecodeError):
            return ""
    return None


def _same(presented: str, secret: Optional[str]) -> bool:
    return secret is not None and hmac.compare_digest(
        presented.encode("utf-8", "surrogateescape"), secret.encode("utf-8")
    )


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def identify(
    request: Request,
    secrets: Secrets,
    store: Store,
    allow_basic: bool,
    limiter: Optional[WrongCredentials] = None,
) -> Caller:
    presented = _presented(request, allow_basic)
    if presented is None:
        challenge = 'Basic realm="wire-preflight"' if allow_basic else "Bearer"
        raise HTTPException(
            401,
            "a credential is required" + ("" if allow_basic else ": Authorization: Bearer"),
            headers={"WWW-Authenticate": challenge},
        )
    # Every secret is compared, whichever matches, so timing tells nothing of which it was.
    matches = [
        kind
        for kind, secret in ((ADMIN, secrets.admin), (VIEWER, secrets.viewer))
        if _same(presented, secret)
    ]
    enroll = _same(presented, secrets.enroll)
    if matches:
        return Caller(matches[0])
    if enroll:
        return Caller(ENROLL)
    key_hash = hash_key(presented) if presented else None
    # A database read, off the event loop (PostgreSQL answers over the network); the tokens
    # above are compared in it, without the thread pool's hop.
    owner = await run_in_threadpool(store.key_owner, key_hash) if key_hash else None
    if owner is not None and owner["state"] == "enrolled":
        return Caller(HOST, owner["machine_id"], owner["hostname"], key_hash)
    if owner is not None and owner["state"] == "pending":
        raise refuse(
            403,
            "pending",
            f"this VM's claim on {owner['hostname']} waits for an admin (pending enrolment "
            f"{owner['id']}): `wire-preflight fleet ... enrollments` lists it, `approve "
            f"{owner['id']}` or `reject {owner['id']}` decides",
        )
    if owner is not None:
        raise refuse(
            403,
            "rejected",
            f"an admin rejected this VM's claim on {owner['hostname']}: give the VM its own "
            "hostname and machine-id, or ask the admin",
        )
    wait = limiter.failed(client_address(request), "not a valid credential") if limiter else None
    if wait is not None:
        raise refuse(
            429,
            "throttled",
            f"too many wrong credentials from this address: retry after {wait} s",
            **{"Retry-After": str(wait)},
        )
    raise refuse(403, "unknown-credential", "this credential is not valid here")


def requirement(
    allowed: tuple, allow_basic: bool, json_body: bool
) -> Callable[[Request], Awaitable[Caller]]:
    """A FastAPI dependency admitting only the credential kinds in `allowed`; the secrets, the
    store and the limiter are the app's (`app.state.collector`, context.py)."""

    # async: FastAPI runs a plain function dependency in its thread pool, a hop per request.
    async def require(request: Request) -> Caller:
        settings = request.app.state.collector.settings
        caller = await identify(
            request, settings.secrets, settings.store, allow_basic, settings.limiter
        )
        if caller.kind not in allowed:
            raise HTTPException(
                403, f"{_CREDENTIALS[caller.kind]} may not {_verb(request.method)} this"
            )
        if json_body and request.method in ("POST", "PUT", "PATCH"):
            media = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if media != "application/json":
                raise HTTPException(415, "send the body as Content-Type: application/json")
        request.state.caller = caller
        return caller

    return require


_CREDENTIALS = {
    ADMIN: "the admin token",
    VIEWER: "the viewer token",
    HOST: "a host key",
    ENROLL: "the enroll secret",
}


def _verb(method: str) -> str:
    return "read" if method in ("GET", "HEAD") else "change"
