"""Can this VM reach a peer's port? TCP connect and UDP probes, each bounded in time.

TCP: connected -> "open"; refused (the peer's kernel answered with a reset) -> "refused": the
path is there, nothing listens yet; no answer before the timeout -> "filtered" (a firewall
dropped it); unreachable -> "no-route".
UDP: an answer -> "open" (`wire-preflight listen` echoes); ICMP port-unreachable -> "refused";
silence -> "open|filtered": UDP cannot tell an idle port from a dropping firewall.
"""

import errno
import select
import socket
import time
from typing import Any, Dict, Iterable, List, Tuple

TIMEOUT = 2.0
PROBE = b"wire-preflight-probe\n"
_NO_ROUTE = (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EADDRNOTAVAIL)


def tcp(host: str, port: int, timeout: float = TIMEOUT) -> Tuple[str, str]:
    started = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return "open", f"connected in {(time.monotonic() - started) * 1000:.0f} ms"
    except socket.timeout:
        return "filtered", f"no answer within {timeout:.0f} s"
    except ConnectionRefusedError:
        return "refused", f"the host answered: nothing listens on {port}"
    except OSError as exc:
        if exc.errno in _NO_ROUTE:
            return "no-route", exc.strerror or str(exc)
        return "error", exc.strerror or str(exc)


def udp(host: str, port: int, timeout: float = TIMEOUT) -> Tuple[str, str]:
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0][0]
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.connect((host, port))  # connected: ICMP errors come back as exceptions
            sock.send(PROBE)
            ready, _, _ = select.select([sock], [], [], timeout)
            if not ready:
                return (
                    "open|filtered",
                    f"no answer within {timeout:.0f} s (UDP cannot tell an idle "
                    "port from a firewall; run `listen` there)",
                )
            sock.recv(512)
            return "open", "the peer answered"
    except ConnectionRefusedError:
        return "refused", "ICMP port unreachable: the host answered, nothing listens"
    except OSError as exc:
        if exc.errno in _NO_ROUTE:
            return "no-route", exc.strerror or str(exc)
        return "error", exc.strerror or str(exc)


def probe_all(targets: Iterable[Dict[str, Any]], timeout: float = TIMEOUT) -> List[Dict[str, Any]]:
    """Probe many (peer, port) pairs at once: the run takes about one timeout, not one each."""
    from concurrent.futures import ThreadPoolExecutor

    targets = list(targets)

    def one(target: Dict[str, Any]) -> Dict[str, Any]:
        probe = tcp if target["proto"] == "tcp" else udp
        state, detail = probe(target["address"], target["port"], timeout)
        return dict(target, state=state, detail=detail)

    if not targets:
        return []
    with ThreadPoolExecutor(max_workers=min(32, len(targets))) as pool:
        return list(pool.map(one, targets))
