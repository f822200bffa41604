"""What the collector's log may say about a request: never a credential.

uvicorn's access log prints each request's target with its query string, so a token a client
puts in the URL (`?token=...`, `?access_token=...`, a user:password@ in an absolute URL) would
land in the journal, readable by whoever reads logs. The collector reads credentials only from
the Authorization header, which no log line prints; this filter keeps the values of the query
parameters the API defines and replaces every other value (and any user information) with
"[redacted]" before the line is written.
"""

import logging
import re
from urllib.parse import parse_qsl, quote, unquote, urlsplit

# The query parameters of the API's routes (app.py): values an operator wants to see.
SHOWN_PARAMETERS = frozenset({"host", "kind", "since", "open", "limit"})
REDACTED = "[redacted]"
# A value of those shaped like what they take (a hostname, a kind, a number): anything else,
# `host=x;token=...` say, is redacted too.
_PLAIN_VALUE = re.compile(r"[A-Za-z0-9._:+-]{0,253}")


def redact_target(target: str) -> str:
    """The request target as the log may show it."""
    path, mark, query = target.partition("?")
    if "@" in path and "://" in path:  # an absolute-form target may carry user:password@
        parts = urlsplit(path)
        if parts.username is not None or parts.password is not None:
            host = parts.hostname or ""
            port = f":{parts.port}" if parts.port else ""
            path = f"{parts.scheme}://{REDACTED}@{host}{port}{parts.path}"
    else:
        # Some uvicorn releases log an absolute-form target as a quoted path
        # (/http%3A//user%3Apassword%40host/...), and a client may quote it twice: decoded,
        # only what follows the last "@" is kept, quoted again (no control character reaches
        # the log).
        decoded = path
        for _ in range(3):
            decoded = unquote(decoded)
        if "@" in decoded:
            path = REDACTED + "@" + quote(decoded.rsplit("@", 1)[1], safe="/:")
    if not mark:
        return path
    shown = []
    for name, value in parse_qsl(query, keep_blank_values=True):
        shown_value = name in SHOWN_PARAMETERS and _PLAIN_VALUE.fullmatch(value)
        kept = value if shown_value else REDACTED
        shown.append(f"{quote(name, safe='')}={quote(kept, safe='[]')}")
    return path + "?" + "&".join(shown)


class CredentialFilter(logging.Filter):
    """On uvicorn.access: the record's target (its third argument) redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            try:
                target = redact_target(args[2])
            except ValueError:  # a target urlsplit cannot read: show none of it
                target = args[2].split("?", 1)[0].split("@")[-1]
            record.args = (*args[:2], target, *args[3:])
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
