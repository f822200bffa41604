"""Talking to the collector over HTTP(S). requests is imported only here, only when sending."""

import json
import time
from typing import Any, Dict, List, Optional, Tuple

from wire_preflight.model import InputError

TIMEOUT = (5, 20)  # connect, read: seconds

# What an answer means for the report that got it:
RETRY = "retry"  # unreachable, busy (408, 429, 503): try again later, as often as it takes
FAULT = "fault"  # 500, 502, 504...: may be this very report; retried a bounded number of times
AUTH = "auth"  # 401, 403: the credential, not the report; kept until the credential is fixed
NEVER = "never"  # 400, 413, 415, 422...: this report will never be taken; set aside
CONFLICT = "conflict"  # 409 at enrolment from an older collector: the machine-id holds a key
PENDING = "pending"  # this VM's claim on its name waits for an admin: kept, asked again
REFUSED = "refused"  # this VM's identity is refused until an admin or the operator acts

_BY_STATUS = {401: AUTH, 403: AUTH, 408: RETRY, 409: CONFLICT, 429: RETRY, 503: RETRY}

# Why the collector refuses an identity (its X-Wire-Preflight-Refusal header).
REFUSAL_HEADER = "X-Wire-Preflight-Refusal"
UNKNOWN_KEY = "unknown-credential"  # the only refusal after which a host key is replaced
_BY_REASON = {
    "pending": PENDING,
    "clone": REFUSED,
    "rejected": REFUSED,
    "machine-id-enrolled": REFUSED,
    "bad-code": REFUSED,
    "code-required": REFUSED,
    "foreign": REFUSED,
    "report-id-taken": NEVER,
}


class DeliveryError(Exception):
    def __init__(
        self,
        message: str,
        kind: str,
        status: Optional[int] = None,
        reason: Optional[str] = None,
    ):
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.reason = reason


def kind_of(status: int, reason: Optional[str] = None) -> str:
    if reason in _BY_REASON:
        return _BY_REASON[reason]
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return FAULT if status >= 500 else NEVER


def new_session(token: str, ca_cert: Optional[str]) -> Any:
    """A requests session presenting `token`, trusting `ca_cert` (else the system's CAs):
    make one per credential and hand it to post_report for every report of a run."""
    import requests

    session = requests.Session()
    session.headers["Authorization"] = "Bearer " + token
    session.headers["User-Agent"] = "wire-preflight"
    session.verify = ca_cert or True
    return session


def post_report(collector: str, doc: Dict[str, Any], session: Any) -> Dict[str, Any]:
    """POST one report with a new_session(); stamps `sent_at` so the collector can measure
    this host's clock."""
    doc["sent_at"] = time.time()
    return _post(session, collector.rstrip("/") + "/api/v1/reports", doc)


def enroll(
    collector: str,
    secret: str,
    facts: Dict[str, Any],
    ca_cert: Optional[str] = None,
    code: Optional[str] = None,
) -> Dict[str, Any]:
    """Present the enroll secret once (with the one-time re-enrol code `fleet rekey` printed,
    when given); returns the collector's answer: `host_key`, `state` (enrolled, or pending
    when another machine holds the name) and `pending_id`."""
    body = {
        "machine_id": facts.get("machine_id"),
        "hostname": facts.get("hostname"),
        "product_uuid": facts.get("product_uuid"),
    }
    if code:
        body["enroll_code"] = code
    answer = _post(new_session(secret, ca_cert), collector.rstrip("/") + "/api/v1/enroll", body)
    key = answer.get("host_key") if isinstance(answer, dict) else None
    if not isinstance(key, str) or not key:
        raise DeliveryError(f"{collector} gave no host key at enrolment", FAULT)
    return answer


def _post(session: Any, url: str, doc: Dict[str, Any]) -> Any:
    import requests

    try:
        body = json.dumps(doc, allow_nan=False).encode("utf-8")
    except (ValueError, UnicodeEncodeError) as exc:
        raise DeliveryError(f"the report cannot be sent as JSON: {exc}", NEVER) from None
    try:
        response = session.post(
            url,
            data=body,
            timeout=TIMEOUT,
            # Explicitly on every request: a session-level verify loses to REQUESTS_CA_BUNDLE
            # in the environment, which would silently ignore --ca-cert.
            verify=session.verify,
            headers={"Content-Type": "application/json"},
        )
    except requests.exceptions.SSLError as exc:
        cause = tls_cause(exc, url, session.verify)
        raise DeliveryError(f"TLS failed talking to {url}: {cause}", RETRY) from None
    except requests.exceptions.RequestException as exc:
        raise DeliveryError(f"cannot reach {url}: {network_cause(exc, url)}", RETRY) from None
    if response.status_code >= 400:
        reason = response.headers.get(REFUSAL_HEADER)
        kind = kind_of(response.status_code, reason)
        verb = "refused" if kind in (NEVER, CONFLICT, REFUSED) else "answered"
        raise DeliveryError(
            f"{url} {verb} {response.status_code}: {_detail(response)}",
            kind,
            response.status_code,
            reason,
        )
    try:
        return response.json()
    except ValueError:
        return {}


def tls_cause(exc: Exception, url: str = "", ca_cert: Any = None) -> str:
    """The reason under requests' wrapping, and what to do about it: an untrusted certificate
    wants --ca-cert; a certificate that does not name the host wants another name or another
    certificate, and --ca-cert would not help."""
    text = str(exc)
    if any(word in text for word in _NAME_MISMATCH) and url:
        names = certificate_names(url, ca_cert)
        if names is not None:
            return _name_remedy(url, names)
    if "CERTIFICATE_VERIFY_FAILED" in text:
        reason = text.split("certificate verify failed:", 1)[-1].split("(_ssl")[0].strip(" )'\"")
        return (
            f"the collector's certificate is not trusted ({reason or 'verify failed'}): "
            "give the CA that signed it with --ca-cert FILE"
        )
    return _short(text)


# OpenSSL's words (Python >= 3.7) and ssl.match_hostname's (3.6) for a certificate that does
# not name the host it was reached by.
_NAME_MISMATCH = ("ostname mismatch", "address mismatch", "doesn't match", "no appropriate")


def _host_port(url: str) -> Tuple[str, int]:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


def certificate_names(url: str, ca_cert: Any = None) -> Optional[List[str]]:
    """The subjectAltName entries ("DNS:x", "IP Address:y") of the certificate the server at
    `url` presents, read over a connection that checks its chain (with `ca_cert`, else the
    system's CAs) but not its name; None when that cannot be done."""
    import os
    import socket
    import ssl

    host, port = _host_port(url)
    try:
        if isinstance(ca_cert, str) and os.path.isdir(ca_cert):
            context = ssl.create_default_context(capath=ca_cert)
        elif isinstance(ca_cert, str):
            context = ssl.create_default_context(cafile=ca_cert)
        else:
            context = ssl.create_default_context()
        context.check_hostname = False
        raw = socket.create_connection((host, port), timeout=TIMEOUT[0])
        with raw, context.wrap_socket(raw, server_hostname=host) as tls:
            cert = tls.getpeercert() or {}
    except (OSError, ValueError):
        return None
    # ((kind, value), ...): typeshed's type of getpeercert() is looser than what it returns.
    names: Any = cert.get("subjectAltName", ())
    return [f"{kind}:{value}" for kind, value in names]


def _name_remedy(url: str, names: List[str]) -> str:
    import ipaddress

    host, _ = _host_port(url)
    try:
        ipaddress.ip_address(host)
        wanted = "IP:" + host
    except ValueError:
        wanted = "DNS:" + host
    if not names:
        return (
            f"the collector's certificate has no subjectAltName, and TLS clients match {host} "
            "only against that (not the CN): make a certificate with "
            f"subjectAltName={wanted} (docs/collector.md shows the openssl command)"
        )
    return (
        "the collector's certificate is for {}, not {}: use one of those names in --collector, "
        "or make a certificate with subjectAltName={}".format(", ".join(names), host, wanted)
    )


def network_cause(exc: Exception, url: str = "") -> str:
    text = str(exc)
    if "Connection refused" in text:
        return "connection refused (is the collector running, on this host and port?)"
    if "timed out" in text.lower():
        return "timed out"
    if "Name or service not known" in text or "Temporary failure in name resolution" in text:
        return "the name does not resolve"
    if url.startswith("http://") and _dropped(text) and speaks_tls(url):
        host, port = _host_port(url)
        shown = f"[{host}]" if ":" in host else host
        return f"that port speaks TLS: give --collector https://{shown}:{port}"
    return _short(text)


def _dropped(text: str) -> bool:
    """The server closed the connection without an answer (what a TLS port does to HTTP)."""
    return any(
        word in text
        for word in ("RemoteDisconnected", "Connection aborted", "Connection reset", "BadStatus")
    )


def speaks_tls(url: str) -> bool:
    """Whether the server at `url`'s host and port completes a TLS handshake (its
    certificate is not judged: this only tells HTTPS from HTTP)."""
    import socket
    import ssl

    host, port = _host_port(url)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        raw = socket.create_connection((host, port), timeout=TIMEOUT[0])
        with raw, context.wrap_socket(raw, server_hostname=host):
            return True
    except (OSError, ValueError):
        return False


def get_json(
    collector: str,
    path: str,
    token: str,
    ca_cert: Optional[str] = None,
    method: str = "GET",
    params: Optional[Dict[str, Any]] = None,
) -> Any:
    """Ask the collector; any failure is one InputError line naming the URL."""
    import requests

    url = collector.rstrip("/") + path
    try:
        response = new_session(token, ca_cert).request(
            method,
            url,
            params=params,
            timeout=TIMEOUT,
            verify=ca_cert or True,
            # The collector takes changes only as JSON (so no browser form can make one).
            json={} if method != "GET" else None,
        )
    except requests.exceptions.SSLError as exc:
        raise InputError(f"TLS failed talking to {url}: {tls_cause(exc, url, ca_cert)}") from None
    except requests.exceptions.RequestException as exc:
        cause = network_cause(exc, url)
        raise InputError(f"cannot reach the collector at {url}: {cause}") from None
    if response.status_code != 200:
        raise InputError(
            f"the collector at {url} answered {response.status_code} {_detail(response)}"
        )
    try:
        return response.json()
    except ValueError:
        raise InputError(f"the collector at {url} did not answer JSON") from None


def _detail(response: Any) -> str:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = response.text
    return str(detail)[:200]


def _short(exc: object) -> str:
    text = str(exc)
    return text if len(text) <= 200 else text[:197] + "..."
