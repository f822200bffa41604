"""Running the app: uvicorn with bounds on what one client can hold.

uvicorn times out idle keep-alive connections but not a connection that never finishes its
request headers, and its httptools parser has no limit on header size. So the collector runs
uvicorn's h11 parser (headers bounded to MAX_HEADER_BYTES) through a protocol that closes a
connection whose headers do not arrive within HEADER_SECONDS, and refuses connections past
MAX_CONNECTIONS, before they can use up file descriptors or memory. Bodies have their own
deadline in app.py.
"""

import asyncio
import logging
import resource
from typing import Any, Optional

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from wire_preflight_collector.defaults import HEADER_SECONDS, MAX_CONNECTIONS

MAX_HEADER_BYTES = 32 * 1024
KEEP_ALIVE_SECONDS = 5
log = logging.getLogger("wire_preflight_collector")


def guarded_protocol(header_seconds: float, max_connections: int) -> type:
    class GuardedH11Protocol(H11Protocol):
        _deadline = None  # type: Optional[asyncio.TimerHandle]

        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            if len(self.connections) >= max_connections:
                self.transport = transport
                log.warning("refused a connection: %d open already", len(self.connections))
                transport.abort()
                return
            super().connection_made(transport)
            self._arm()

        def _arm(self) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(header_seconds, self._headers_too_slow)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _headers_too_slow(self) -> None:
            self._deadline = None
            if self.transport is not None and not self.transport.is_closing():
                self.transport.abort()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.conn.their_state in (h11.SEND_BODY, h11.DONE):
                self._disarm()  # a whole request head arrived: the app bounds the body

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if self.transport is not None and not self.transport.is_closing():
                self._arm()  # the next request on this connection gets the same deadline

        def connection_lost(self, exc: Optional[Exception]) -> None:
            self._disarm()
            super().connection_lost(exc)

    return GuardedH11Protocol


def raise_file_limit() -> int:
    """Let the process open as many files as its hard limit allows (systemd's LimitNOFILE)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


# The TLS handshake happens before the protocol above sees the connection, and uvicorn gives
# the loop no handshake timeout (asyncio's and uvloop's default: 60 s): a client that opens
# connections and never says hello would hold them past the header deadline. The loop the
# collector runs gives its TLS servers the header deadline for the handshake too.
_HANDSHAKE_SECONDS = [HEADER_SECONDS]


def _loop_class() -> type:
    try:
        import uvloop

        base = uvloop.Loop  # type: type
    except ImportError:
        base = asyncio.SelectorEventLoop

    class BoundedLoop(base):  # type: ignore[misc, valid-type]
        async def create_server(self, *args: Any, **kwargs: Any) -> Any:
            if kwargs.get("ssl") is not None:
                kwargs.setdefault("ssl_handshake_timeout", _HANDSHAKE_SECONDS[0])
            return await super().create_server(*args, **kwargs)

    return BoundedLoop


def new_loop() -> asyncio.AbstractEventLoop:
    """uvicorn's loop factory (`loop="wire_preflight_collector.server:new_loop"`)."""
    return _loop_class()()


def run(
    app: Any,
    host: str,
    port: int,
    tls_cert: Optional[str],
    tls_key: Optional[str],
    max_connections: int = MAX_CONNECTIONS,
    header_seconds: float = HEADER_SECONDS,
) -> None:
    import uvicorn

    files = raise_file_limit()
    # Each connection holds one descriptor; keep room for the database, logs and the loop.
    max_connections = max(1, min(max_connections, files - 64))
    _HANDSHAKE_SECONDS[0] = header_seconds
    uvicorn.run(
        app,
        host=host,
        port=port,
        ssl_certfile=tls_cert,
        ssl_keyfile=tls_key,
        http=guarded_protocol(header_seconds, max_connections),
        loop="wire_preflight_collector.server:new_loop",
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        log_level="info",
        server_header=False,
    )
