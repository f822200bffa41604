"""What the collector's log may say about a request: never a credential.

uvicorn's access log prints each request's target as the client sent it, so a token a client
puts in the URL would land in the journal, readable by whoever reads logs. A credential can
hide in any part of a target and in any spelling: `?token=...`, a bare `?SECRET`, a
`user:password@` in an absolute-form target, `;token=...` or `#access_token=...` in the path,
any of them percent-encoded once, twice or more (and uvicorn releases differ in how they
quote what they print). So the log does not look for credentials; it shows only what has the
shape of the API's own requests and replaces everything else with "[redacted]":
- a path segment is shown when it holds only URL-unreserved characters (letters, digits,
  `.`, `_`, `~`, `-`: the API's route words and host names), never percent-encoded text;
- a query parameter is shown when its name is one of the API's own and its value is shaped
  like what that parameter takes; another parameter is redacted whole, its name too.
The collector reads credentials only from the Authorization header, which no log line prints.
"""

import logging
import re
from urllib.parse import parse_qsl, quote

# The query parameters of the API's routes (app.py): values an operator wants to see.
SHOWN_PARAMETERS = frozenset({"host", "kind", "since", "open", "limit"})
REDACTED = "[redacted]"
# A value of those shaped like what they take (a hostname, a kind, a number): anything else,
# `host=x;token=...` say, is redacted too.
_PLAIN_VALUE = re.compile(r"[A-Za-z0-9._:+-]{0,253}")
# RFC 3986's unreserved characters: what the API's path segments are made of.
_PLAIN_SEGMENT = re.compile(r"[A-Za-z0-9._~-]{0,253}")


def redact_target(target: str) -> str:
    """The request target as the log may show it."""
    path, mark, query = target.partition("?")
    path = "/".join(s if _PLAIN_SEGMENT.fullmatch(s) else REDACTED for s in path.split("/"))
    if not mark:
        return path
    shown = []
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name not in SHOWN_PARAMETERS:
            shown.append(REDACTED)
        elif _PLAIN_VALUE.fullmatch(value):
            shown.append(f"{name}={quote(value, safe='')}")
        else:
            shown.append(f"{name}={REDACTED}")
    return path + "?" + "&".join(shown)


class CredentialFilter(logging.Filter):
    """On uvicorn.access: the record's target (its third argument) redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_target(args[2]), *args[3:])
        return True


class ParseErrorFilter(logging.Filter):
    """On uvicorn.error: its bare "Invalid HTTP request received." is replaced by the
    collector's own line saying which rule the request broke (server.py)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != "Invalid HTTP request received."


def install() -> None:
    """Attach the filters to uvicorn's loggers (idempotent)."""
    for name, kind in (("uvicorn.access", CredentialFilter), ("uvicorn.error", ParseErrorFilter)):
        logger = logging.getLogger(name)
        if not any(isinstance(f, kind) for f in logger.filters):
            logger.addFilter(kind())
