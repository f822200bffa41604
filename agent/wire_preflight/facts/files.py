"""Reading a host's configuration files under a root ("/" live, a captured tree in tests):
paths are reported as the host sees them, and a file that cannot be read is noted, not raised."""

import glob
import os
from typing import Dict, List, Optional


def under(root: str, path: str) -> str:
    return os.path.join(root, path.lstrip("/"))


def matching(root: str, pattern: str) -> List[str]:
    """Host paths (without root) matching a glob under root, sorted."""
    base = under(root, "/")
    return sorted("/" + os.path.relpath(p, base) for p in glob.glob(under(root, pattern)))


def read(root: str, path: str, errors: List[Dict[str, str]]) -> Optional[str]:
    """The file's text, or None with {"file", "error"} appended to errors."""
    try:
        with open(under(root, path), encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError as exc:
        errors.append({"file": path, "error": exc.strerror or str(exc)})
        return None
