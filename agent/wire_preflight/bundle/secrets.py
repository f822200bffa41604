"""What never goes into a support bundle, decided in one place: every member of the archive,
the host's files and the agent's own documents alike, passes through Screen.screen.

Three rules, each for a gap the others leave:
- by path: the agent's own secrets (its configuration, token and enroll-secret files, the
  state directory with the host keys) and the host's well-known secret stores (shadow, SSH
  host keys, TLS private keys, WireGuard) are left out whole, whatever the readers asked;
- by content: a file holding a private key block is left out whole;
- by line: a `key = value`, `key: value` or `key value` line whose key names a secret
  (password, psk, secret, token, ...) keeps its key and loses its value, so a NetworkManager
  profile or a netplan file with a Wi-Fi password still parses the same for the checks; so
  does a NAME=value inside a line (systemd's Environment=) and a --password flag;
and the agent's own secret values (the token, the enroll secret, the host keys), read from
their files, are cut from every member wherever they appear, under any name.
"""

import os
import posixpath
import re
from typing import Iterable, List, NamedTuple, Optional, Tuple

REDACTED = "REDACTED"

# The agent's own places: whatever a configuration names is added to these (Screen).
AGENT_PATHS = ("/etc/wire-preflight", "/var/lib/wire-preflight")
HOST_SECRET_PATHS = (
    "/etc/shadow",
    "/etc/shadow-",
    "/etc/gshadow",
    "/etc/gshadow-",
    "/etc/ssh",
    "/etc/ssl/private",
    "/etc/wireguard",
    "/etc/letsencrypt",
    "/var/lib/NetworkManager/secret_key",
    "/root",
    "/home",
)
# Names that are secrets by their name alone, wherever they are.
_SECRET_NAME = re.compile(
    r"(\.key|\.p12|\.pfx|\.jks|\.keystore|^id_(rsa|dsa|ecdsa|ed25519)(\.|$)"
    r"|secret|token|passw|credential)",
    re.IGNORECASE,
)
_PRIVATE_KEY = re.compile(rb"-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----")
# A key naming a secret, then its separator, then the value (kept: indentation, quotes,
# the key and the separator). wpa-psk, psk, password, passwd, passphrase, secret, token,
# api_key, credentials, private-key-password, wep-key0..3, client_secret, auth_token...
_SECRET_LINE = re.compile(
    rb"^(?P<head>[ \t]*[-\"']?[ \t]*"
    rb"(?P<key>[A-Za-z0-9_.\-]*(?:passw(?:or)?d|passphrase|psk|secret|token|api[_-]?key"
    rb"|credential|wep-key[0-9]?)[A-Za-z0-9_.\-]*)"
    rb"[\"']?[ \t]*(?:[:=][ \t]*|[ \t]+))(?P<value>[^ \t\r\n].*?)(?P<end>[ \t]*,?[ \t]*\r?)$",
    re.IGNORECASE | re.MULTILINE,
)


_WORD = rb"(?:passw(?:or)?d|passphrase|psk|secret|token|api[_-]?key|credential)"
# The same inside a line: NAME=value after a space or a quote (systemd's Environment=, a
# shell line, a kernel command line), and a command-line flag (--password=x, --token x).
_SECRET_INLINE = (
    re.compile(
        rb"(?P<head>(?<=[\s\"'])[A-Za-z0-9_.\-]*"
        + _WORD
        + rb"[A-Za-z0-9_.\-]*=)(?P<value>[^\s\"']+)",
        re.IGNORECASE,
    ),
    re.compile(
        rb"(?P<head>(?<=\s)--?[A-Za-z0-9_.\-]*" + _WORD + rb"[A-Za-z0-9_.\-]*(?:=|[ \t]+))"
        rb"(?P<value>[^-/\s\"'][^\s\"']*)",  # a path (--token-file /etc/t) is no secret
        re.IGNORECASE,
    ),
)


class Verdict(NamedTuple):
    data: Optional[bytes]  # None: left out
    reason: Optional[str]  # why it was left out, or what was redacted
    redacted_lines: int


def _inside(path: str, places: Iterable[str]) -> bool:
    return any(path == place or path.startswith(place.rstrip("/") + "/") for place in places)


class Screen:
    def __init__(self, agent_paths: Iterable[str] = (), secret_values: Iterable[str] = ()):
        """agent_paths: the agent's own files and directories beyond AGENT_PATHS (what its
        configuration names); secret_values: the secrets themselves, cut wherever found."""
        self.agent_paths = [posixpath.normpath(p) for p in list(AGENT_PATHS) + list(agent_paths)]
        # Long enough to be a secret and not a common word: a value of a few characters
        # would cut every occurrence of it out of every file.
        self.values = sorted(
            {v.strip().encode("utf-8") for v in secret_values if len(v.strip()) >= 8},
            key=len,
            reverse=True,
        )

    def path_reason(self, host_path: str) -> Optional[str]:
        """Why a host path never goes in by its name alone, or None."""
        path = posixpath.normpath("/" + host_path.lstrip("/"))
        if _inside(path, self.agent_paths):
            return "the agent's own configuration, keys or secrets"
        if _inside(path, HOST_SECRET_PATHS):
            return "a place that holds the host's secrets"
        if _SECRET_NAME.search(posixpath.basename(path)):
            return "its name says it holds a secret"
        return None

    def screen(self, host_path: Optional[str], data: bytes) -> Verdict:
        """The bytes that may go in for this member (host_path None: the agent's own
        document), or None and why not."""
        if host_path is not None:
            reason = self.path_reason(host_path)
            if reason:
                return Verdict(None, reason, 0)
        if _PRIVATE_KEY.search(data):
            return Verdict(None, "it holds a private key", 0)
        data, count = _SECRET_LINE.subn(_redact, data)
        for pattern in _SECRET_INLINE:
            data, more = pattern.subn(_redact_inline, data)
            count += more
        for value in self.values:
            found = data.count(value)
            if found:
                data = data.replace(value, REDACTED.encode("ascii"))
                count += found
        return Verdict(data, f"{count} secret value(s) redacted" if count else None, count)


def _redact(match: "re.Match[bytes]") -> bytes:
    value = match.group("value")
    quote = value[:1] if value[:1] in (b'"', b"'") and value[-1:] == value[:1] else b""
    return match.group("head") + quote + REDACTED.encode("ascii") + quote + match.group("end")


def _redact_inline(match: "re.Match[bytes]") -> bytes:
    return match.group("head") + REDACTED.encode("ascii")


def read_secret_values(paths: Iterable[str]) -> List[str]:
    """The agent's own secrets, from their files (a token file, an enroll secret, the host
    keys in the state directory): small files, read bounded; one that cannot be read has
    nothing to leak."""
    from wire_preflight import safefile

    values = []  # type: List[str]
    for path in paths:
        for candidate in _files_at(path):
            try:
                text = safefile.read_text(candidate, safefile.VALUE)
            except OSError:
                continue
            values.extend(line.strip() for line in text.splitlines() if line.strip())
    return values


def _files_at(path: str) -> List[str]:
    """The file itself, or the keys in a directory (hostkey.py: keys/<digest>.key)."""
    if not os.path.isdir(path):
        return [path]
    from wire_preflight.facts import files

    try:
        names = files.entries("/", path, 256)
    except OSError:
        return []
    return [os.path.join(path, n) for n in sorted(names) if n.endswith((".key", ".new"))]


def redaction_summary(verdicts: List[Tuple[str, Verdict]]) -> List[dict]:
    return [
        {"path": path, "redacted": v.redacted_lines} for path, v in verdicts if v.redacted_lines
    ]
