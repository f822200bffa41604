"""Talking to the collector over HTTP(S). requests is imported only here, only when sending."""

import json
import time
from typing import Any, Dict, Optional

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
        raise DeliveryError(f"TLS failed talking to {url}: {tls_cause(exc)}", RETRY) from None
    except requests.exceptions.RequestException as exc:
        raise DeliveryError(f"cannot reach {url}: {network_cause(exc)}", RETRY) from None
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


def tls_cause(exc: Exception) -> str:
    """The reason under requests' wrapping, and what to do about an untrusted certificate."""
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text:
        reason = text.split("certificate verify failed:", 1)[-1].split("(_ssl")[0].strip(" )'\"")
        return (
            f"the collector's certificate is not trusted ({reason or 'verify failed'}): "
            "give the CA that signed it with --ca-cert FILE"
        )
    return _short(text)


def network_cause(exc: Exception) -> str:
    text = str(exc)
    if "Connection refused" in text:
        return "connection refused (is the collector running, on this host and port?)"
    if "timed out" in text.lower():
        return "timed out"
    if "Name or service not known" in text or "Temporary failure in name resolution" in text:
        return "the name does not resolve"
    return _short(text)


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
        raise InputError(f"TLS failed talking to {url}: {tls_cause(exc)}") from None
    except requests.exceptions.RequestException as exc:
        raise InputError(f"cannot reach the collector at {url}: {network_cause(exc)}") from None
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


def _short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) <= 200 else text[:197] + "..."
