"""Running the app: uvicorn with bounds on what one client can hold.

uvicorn times out idle keep-alive connections but not a connection that never finishes its
request headers, and its httptools parser has no limit on header size. So the collector runs
uvicorn's h11 parser through a protocol that:
- closes a connection whose headers do not arrive within HEADER_SECONDS;
- refuses a request head over MAX_HEADER_BYTES (431), counted in the bytes the head took on
  the wire (h11's own bound only applies while a head is incomplete: a 100 KiB head sent in
  one piece would pass it);
- refuses a request that carries both Content-Length and Transfer-Encoding (400, and the
  connection closes): h11 lets Transfer-Encoding win, and a proxy in front that lets
  Content-Length win would see a different request boundary (request smuggling);
- holds at most MAX_CONNECTIONS connections, and at most `per_address` from one client address
  (an IPv6 client by its /64, which one machine usually holds whole). When either bound is
  reached a new connection takes the slot of the longest-idle connection of that address (or
  of all), one that is between requests or still waiting for its headers; only when every
  connection is busy with a request is the new one refused. A slow client therefore cannot
  keep a slot from a client that sends its request at once.
Bodies have their own deadline in app.py.
"""

import asyncio
import errno
import ipaddress
import itertools
import logging
import os
import resource
import socket
from http import HTTPStatus
from typing import Any, Optional, Set

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol
from wire_preflight.model import InputError

from wire_preflight_collector.defaults import HEADER_SECONDS, MAX_CONNECTIONS
from wire_preflight_collector.workers import per_worker

MAX_HEADER_BYTES = 32 * 1024
KEEP_ALIVE_SECONDS = 5
log = logging.getLogger("wire_preflight_collector")


def per_address_default(max_connections: int) -> int:
    """A tenth of the connections, but room for a browser's six parallel ones and a few more."""
    return min(max_connections, max(8, max_connections // 10))


def address_key(peer: Any) -> str:
    """The client a connection counts against: its IPv4 address, or its IPv6 /64."""
    host = peer[0] if isinstance(peer, (tuple, list)) and peer else str(peer)
    try:
        address = ipaddress.ip_address(str(host).split("%", 1)[0])
    except ValueError:
        return str(host)
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class Refusal(h11.RemoteProtocolError):
    """A request h11 would take but the collector does not."""


class FramingConnection(h11.Connection):
    """h11, plus the collector's rules on a request head (the module's docstring says why)."""

    refusal = None  # type: Optional[h11.RemoteProtocolError]

    def next_event(self) -> Any:
        waiting_for_head = self.their_state is h11.IDLE
        before = len(self.trailing_data[0]) if waiting_for_head else 0
        try:
            event = super().next_event()
            if isinstance(event, h11.Request):
                head = before - len(self.trailing_data[0])
                if head > MAX_HEADER_BYTES:
                    raise Refusal(
                        f"the request head is {head} bytes; the limit is {MAX_HEADER_BYTES}",
                        error_status_hint=431,
                    )
                names = {name.lower() for name, _ in event.headers}
                if b"content-length" in names and b"transfer-encoding" in names:
                    raise Refusal(
                        "a request may not carry both Content-Length and Transfer-Encoding"
                    )
            return event
        except h11.RemoteProtocolError as exc:
            self.refusal = exc
            raise


def guarded_protocol(
    header_seconds: float, max_connections: int, per_address: Optional[int] = None
) -> type:
    address_limit = per_address or per_address_default(max_connections)
    by_address: dict[str, Set[Any]] = {}
    idle_order = itertools.count()

    class GuardedH11Protocol(H11Protocol):
        _deadline = None  # type: Optional[asyncio.TimerHandle]
        _address = None  # type: Optional[str]
        _idle_since = 0

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.conn = FramingConnection(h11.SERVER, self.conn._max_incomplete_event_size)

        def connection_made(self, transport: Any) -> None:
            self.transport = transport
            address = address_key(transport.get_extra_info("peername") or "")
            mine = by_address.get(address, set())
            if len(mine) >= address_limit and not self._make_room(mine):
                log.warning(
                    "refused a connection from %s: %d open from that address, all busy",
                    address,
                    len(mine),
                )
                transport.abort()
                return
            if len(self.connections) >= max_connections and not self._make_room(self.connections):
                log.warning(
                    "refused a connection: %d open already, all busy", len(self.connections)
                )
                transport.abort()
                return
            super().connection_made(transport)
            self._address = address
            by_address.setdefault(address, set()).add(self)
            self._arm()

        def _busy(self) -> bool:
            """Serving a request: the only state a newcomer never takes a slot from."""
            return self.cycle is not None and not self.cycle.response_complete

        def _make_room(self, holders: Set[Any]) -> bool:
            idle = [c for c in holders if not c._busy() and c.transport is not None]
            if not idle:
                return False
            oldest = min(idle, key=lambda c: c._idle_since)
            oldest._release()
            oldest.transport.abort()
            return True

        def _release(self) -> None:
            """Give back this connection's slots now (connection_lost comes a loop turn later)."""
            self._disarm()
            self.connections.discard(self)
            if self._address is not None:
                mine = by_address.get(self._address)
                if mine is not None:
                    mine.discard(self)
                    if not mine:
                        del by_address[self._address]
                self._address = None

        def _arm(self) -> None:
            self._disarm()
            # An order, not a time: uvloop's clock moves once per loop turn, so connections
            # accepted together would tie.
            self._idle_since = next(idle_order)
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

        def send_400_response(self, msg: str) -> None:
            # uvicorn answers every parse error with a bare 400; say which rule, and use the
            # status h11 suggests (431 for a head too large).
            refusal = getattr(self.conn, "refusal", None)
            status = getattr(refusal, "error_status_hint", 400) or 400
            reason = str(refusal) if refusal is not None else msg
            log.warning("refused a request from %s: %s", self._address or "?", reason)
            body = reason.encode("ascii", "replace") + b"\n"
            headers = [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ]
            try:
                for event in (
                    h11.Response(
                        status_code=status, headers=headers, reason=HTTPStatus(status).phrase
                    ),
                    h11.Data(data=body),
                    h11.EndOfMessage(),
                ):
                    self.transport.write(self.conn.send(event))
            except h11.LocalProtocolError:
                pass  # too broken to answer at all: just close
            self.transport.close()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if self.transport is not None and not self.transport.is_closing():
                self._arm()  # the next request on this connection gets the same deadline

        def connection_lost(self, exc: Optional[Exception]) -> None:
            self._release()
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

    class BoundedLoop(base):
        async def create_server(self, *args: Any, **kwargs: Any) -> Any:
            if kwargs.get("ssl") is not None:
                kwargs.setdefault("ssl_handshake_timeout", _HANDSHAKE_SECONDS[0])
            return await super().create_server(*args, **kwargs)

    return BoundedLoop


def new_loop() -> asyncio.AbstractEventLoop:
    """uvicorn's loop factory (`loop="wire_preflight_collector.server:new_loop"`)."""
    return _loop_class()()


def bind(host: str, port: int, reuse_port: bool = False) -> socket.socket:
    """The listening socket, bound before anything else starts: a busy port is one line and
    exit 2 (InputError), never a startup message followed by a bind error. With reuse_port,
    one of the sockets of a collector's workers (workers.py); bind the port once without it
    first, so that a port another collector's workers hold is refused as busy."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise InputError(f"--host {host}: {exc.strerror}") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        hint = " (another process listens there: stop it or choose another --port)"
        raise InputError(
            f"cannot listen on {host}:{port}: {exc.strerror}"
            + (hint if exc.errno == errno.EADDRINUSE else "")
        ) from None
    sock.set_inheritable(True)
    return sock


def run(
    app: Any,
    sock: socket.socket,
    tls_cert: Optional[str],
    tls_key: Optional[str],
    max_connections: int = MAX_CONNECTIONS,
    header_seconds: float = HEADER_SECONDS,
    per_address: Optional[int] = None,
    workers: int = 1,
) -> None:
    """Serve on `sock` (from bind()) until stopped; as one of `workers` processes, with that
    share of the connection bounds (workers.py)."""
    import sys

    import uvicorn

    from wire_preflight_collector import accesslog

    files = raise_file_limit()
    # Each connection holds one descriptor; keep room for the database, logs and the loop.
    max_connections = max(1, min(max_connections, files - 64))
    per_address = min(per_address or per_address_default(max_connections), max_connections)
    max_connections = per_worker(max_connections, workers)
    per_address = min(per_worker(per_address, workers), max_connections)
    _HANDSHAKE_SECONDS[0] = header_seconds
    host, port = sock.getsockname()[:2]
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        ssl_certfile=tls_cert,
        ssl_keyfile=tls_key,
        http=guarded_protocol(header_seconds, max_connections, per_address),
        loop="wire_preflight_collector.server:new_loop",
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        log_level="info",
        server_header=False,
        # The client is the connection's peer: uvicorn would otherwise take X-Forwarded-For
        # from any loopback client as its address (the throttle's key, the address shown).
        proxy_headers=False,
    )
    accesslog.install()
    log.info(
        "listening on %s://%s:%d (at most %d connections, %d from one address%s)",
        "https" if tls_cert else "http",
        f"[{host}]" if ":" in host else host,
        port,
        max_connections,
        per_address,
        f"; in this worker of {workers}, pid {os.getpid()}" if workers > 1 else "",
    )
    server = uvicorn.Server(config)
    server.run(sockets=[sock])
    if not server.started:
        sys.exit(1)
