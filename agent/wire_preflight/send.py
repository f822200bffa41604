"""Talking to the collector over HTTP(S). requests is imported only here, only when sending."""

import json
import time
from typing import Any, Dict, Optional

from wire_preflight.model import InputError

TIMEOUT = (5, 20)  # connect, read: seconds
RETRYABLE_STATUS = {401, 403, 408, 429}  # a fixed token or a calmer collector may succeed later


class DeliveryError(Exception):
    def __init__(self, message: str, retryable: bool):
        super().__init__(message)
        self.retryable = retryable


def _session(token: str, ca_cert: Optional[str]) -> Any:
    import requests

    session = requests.Session()
    session.headers["Authorization"] = "Bearer " + token
    session.headers["User-Agent"] = "wire-preflight"
    session.verify = ca_cert or True
    return session


def post_report(
    collector: str,
    token: str,
    doc: Dict[str, Any],
    ca_cert: Optional[str] = None,
    session: Any = None,
) -> Dict[str, Any]:
    """POST one report; stamps `sent_at` so the collector can measure this host's clock."""
    import requests

    session = session or _session(token, ca_cert)
    doc["sent_at"] = time.time()
    body = json.dumps(doc).encode("utf-8")
    url = collector.rstrip("/") + "/api/v1/reports"
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
        raise DeliveryError(f"TLS failed talking to {url}: {_short(exc)}", True) from None
    except requests.exceptions.RequestException as exc:
        raise DeliveryError(f"cannot reach {url}: {_short(exc)}", True) from None
    if response.status_code >= 500 or response.status_code in RETRYABLE_STATUS:
        raise DeliveryError(f"{url} answered {response.status_code} {_detail(response)}", True)
    if response.status_code >= 400:
        raise DeliveryError(
            f"{url} refused the report: {response.status_code} {_detail(response)}",
            False,
        )
    try:
        return response.json()
    except ValueError:
        return {}


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
        response = _session(token, ca_cert).request(
            method, url, params=params, timeout=TIMEOUT, verify=ca_cert or True
        )
    except requests.exceptions.RequestException as exc:
        raise InputError(f"cannot reach the collector at {url}: {_short(exc)}") from None
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
