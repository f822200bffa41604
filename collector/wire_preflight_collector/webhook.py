"""Each new drift event, POSTed as JSON to a webhook: from a thread of its own, so a slow or
dead webhook never holds up an agent's report. Failed deliveries are retried with exponential
backoff; after the last attempt the event is dropped and the drop is logged."""

import ipaddress
import logging
import queue
import socket
import threading
from typing import Any, Dict, Iterable, Optional
from urllib.parse import urlsplit

from wire_preflight.model import InputError

log = logging.getLogger("wire_preflight_collector.webhook")


def _refused_address(address: str) -> Optional[str]:
    """Why the webhook may not be sent to this address, or None. Link-local addresses hold
    cloud metadata services (169.254.169.254, fd00:ec2::254 aside) and the machine's
    neighbours' configuration; nothing a drift event is for."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_link_local:
        return "a link-local address (where cloud metadata services answer)"
    if ip.is_unspecified or ip.is_multicast:
        return "not an address a server listens on"
    return None


def check_url(url: str) -> str:
    """The --webhook URL when it can be POSTed to: http or https, a host, no link-local
    address (by name too, as it resolves now). InputError names what is wrong."""
    if any(c.isspace() or not c.isprintable() for c in url):
        raise InputError(f"--webhook {url!r}: not a URL (it has spaces or control characters)")
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise InputError(f"--webhook {url!r}: not a URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise InputError(
            f"--webhook {url!r}: give an http:// or https:// URL "
            f"(not {parts.scheme + '://' if parts.scheme else 'a bare word'})"
        )
    if not host:
        raise InputError(f"--webhook {url!r}: the URL names no host")
    why = _refused_address(host)
    if why is None:
        try:
            found = socket.getaddrinfo(host, port or 443, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError):
            found = []  # unresolvable now: DNS may come back; each delivery will say so
        for *_, address in found:
            why = _refused_address(str(address[0]))
            if why:
                why = f"{host} resolves to {address[0]}, {why}"
                break
    if why:
        raise InputError(f"--webhook {url!r}: {why}")
    return url


def _checked_session() -> Any:
    """A requests session that refuses, once connected and before sending a byte, a peer
    _refused_address() refuses. The start-time check reads DNS once; a name may resolve
    elsewhere at delivery (DNS rebinding, a record changed, a name unresolvable at start), and
    only the address actually connected to is the one that matters. Through a proxy the peer is
    the proxy, which the operator chose."""
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
    from urllib3.exceptions import NewConnectionError

    class PeerChecked:
        def _new_conn(self) -> socket.socket:
            # A mixin: the urllib3 connection class it is put before has _new_conn.
            sock = super()._new_conn()  # type: ignore[misc]
            peer = sock.getpeername()[0]
            why = _refused_address(peer)
            if why:
                sock.close()
                # self is that urllib3 connection at run time, which mypy cannot see here.
                refusal = RefusedPeer(self, "refused")  # type: ignore[arg-type]
                refusal.refused_because = f"{getattr(self, 'host', '?')} is at {peer}, {why}"
                raise refusal
            return sock

    class RefusedPeer(NewConnectionError):
        refused_because = ""

    class CheckedHTTP(PeerChecked, HTTPConnection):
        pass

    class CheckedHTTPS(PeerChecked, HTTPSConnection):
        pass

    class HTTPPool(HTTPConnectionPool):
        ConnectionCls = CheckedHTTP

    class HTTPSPool(HTTPSConnectionPool):
        ConnectionCls = CheckedHTTPS

    class Adapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {"http": HTTPPool, "https": HTTPSPool}

    session = requests.Session()
    for scheme in ("http://", "https://"):
        session.mount(scheme, Adapter())
    return session


def _failure(exc: Exception) -> str:
    """A failed delivery in a few words: the refusal's reason when the peer was refused."""
    reason = getattr(exc.args[0] if exc.args else None, "reason", None)
    return getattr(reason, "refused_because", "") or type(exc).__name__


class Webhook:
    def __init__(
        self,
        url: str,
        timeout: float = 5.0,
        attempts: int = 6,
        first_delay: float = 1.0,
        max_delay: float = 60.0,
        capacity: int = 10000,
    ):
        self.url = url
        self.timeout = timeout
        self.attempts = attempts
        self.first_delay = first_delay
        self.max_delay = max_delay
        self._queue = queue.Queue(maxsize=capacity)  # type: queue.Queue
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="webhook", daemon=True)
        self.delivered = 0
        self.dropped = 0

    def start(self) -> "Webhook":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def submit(self, events: Iterable[Dict[str, Any]]) -> None:
        """Never blocks: a full queue drops its oldest event to make room."""
        for event in events:
            while True:
                try:
                    self._queue.put_nowait(event)
                    break
                except queue.Full:
                    try:
                        self._queue.get_nowait()
                        self.dropped += 1
                        log.warning("webhook queue full: dropped the oldest event")
                    except queue.Empty:
                        pass

    def _run(self) -> None:
        session = _checked_session()
        while not self._stop.is_set():
            try:
                event = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            self._deliver(session, event)

    def _deliver(self, session: Any, event: Dict[str, Any]) -> None:
        import requests

        delay = self.first_delay
        error = None  # type: Optional[str]
        for attempt in range(1, self.attempts + 1):
            try:
                # Never redirected: a 307 would re-POST the event wherever the answer says.
                response = session.post(
                    self.url, json=event, timeout=self.timeout, allow_redirects=False
                )
                if response.status_code < 300:
                    self.delivered += 1
                    return
                error = f"HTTP {response.status_code}"
                if response.is_redirect:
                    error += " (a redirect, not followed: give the final URL)"
            except requests.RequestException as exc:
                error = _failure(exc)
            if attempt < self.attempts and self._stop.wait(delay):
                return
            delay = min(delay * 2, self.max_delay)
        self.dropped += 1
        log.warning(
            "webhook: dropped %s event for %s after %d attempts (%s)",
            event.get("kind"),
            event.get("hostname"),
            self.attempts,
            error,
        )
