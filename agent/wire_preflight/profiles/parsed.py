"""The built-in TOML files (profiles and host requirements) as parsed when they were written:
`parsed.json` beside them holds each file's exact text and what the TOML parser made of it.
Cron runs the agent every five minutes on every VM; parsing its profile and requirements with
the pure-Python TOML parser cost 5-10 ms of each run, reading them back from JSON 0.2 ms.

A file is taken from here only when its text is exactly the one parsed (a file edited or
replaced since is parsed again), so a cache left behind by an edit is slow, never wrong;
tests/test_profiles_parsed.py fails until it is written again:

    python -c 'from wire_preflight.profiles import parsed; print(parsed.write())'

A file holding a value JSON cannot (a TOML date, NaN) is left out and parsed every time.
"""

import json
import os
import sys
from typing import Any, Dict, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = "parsed.json"
_entries = None  # type: Optional[Dict[str, Any]]


def toml_module() -> Any:
    """The TOML parser, imported when a file is not in the cache: tomllib from Python 3.11,
    tomli before (its TOMLDecodeError, like tomllib's, is a ValueError)."""
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib
    import tomli  # pragma: no cover - exercised on the older interpreters in CI

    return tomli


def lookup(path: str, text: str) -> Optional[Dict[str, Any]]:
    """What the TOML parser makes of `text`, the content of `path`, when `path` is a built-in
    file parsed with exactly this text; else None. A new object on each call."""
    name = os.path.relpath(os.path.abspath(path), HERE)
    entry = _load().get(name)
    if not isinstance(entry, dict) or entry.get("text") != text:
        return None
    try:
        data = json.loads(entry["data"])
    except (KeyError, TypeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _load() -> Dict[str, Any]:
    global _entries
    if _entries is None:
        from wire_preflight import safefile

        try:
            found = json.loads(safefile.read_text(os.path.join(HERE, CACHE), safefile.CONFIG))
        except (OSError, ValueError):
            found = None  # no cache (a source tree never built): every file is parsed
        files = found.get("files") if isinstance(found, dict) else None
        _entries = files if isinstance(files, dict) else {}
    return _entries


def build(directory: str = HERE) -> Dict[str, Any]:
    """The cache for the TOML files under `directory` (its own and host/)."""
    from wire_preflight import safefile

    files = {}
    for sub in ("", "host"):
        folder = os.path.join(directory, sub)
        for name in sorted(os.listdir(folder)):
            if not name.endswith(".toml"):
                continue
            text = safefile.read_text(os.path.join(folder, name), safefile.CONFIG)
            data = toml_module().loads(text)
            try:
                # In the file's order: roles are listed as the profile lists them.
                encoded = json.dumps(data, allow_nan=False)
            except (TypeError, ValueError):
                continue  # a date or NaN: JSON would not give it back as it was
            if json.loads(encoded) != data:
                continue
            files[os.path.join(sub, name) if sub else name] = {"text": text, "data": encoded}
    return {"schema": 1, "files": files}


def write(directory: str = HERE) -> str:
    from wire_preflight.atomicfile import write_atomically

    path = os.path.join(directory, CACHE)
    write_atomically(path, json.dumps(build(directory), indent=1, sort_keys=True) + "\n")
    return path
