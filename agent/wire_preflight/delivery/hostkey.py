"""This machine's key for a collector, given out once at enrolment and kept in the state
directory: `keys/<hash of the collector URL>.key`, mode 0600, one file per collector.

The file is made (empty, 0600) before the agent enrols, so a state directory it cannot write
is found before the collector gives out a key that would then be lost: the collector gives a
machine-id one key only, until an admin re-keys the host.
"""

import hashlib
import os
from typing import Optional


def path_for(state_dir: str, collector: str) -> str:
    digest = hashlib.sha256(collector.rstrip("/").encode("utf-8")).hexdigest()[:16]
    return os.path.join(state_dir, "keys", digest + ".key")


def load(state_dir: str, collector: str) -> Optional[str]:
    try:
        with open(path_for(state_dir, collector), encoding="utf-8") as handle:
            key = handle.read().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return key or None


def prepare(state_dir: str, collector: str) -> str:
    """Make sure a key can be kept; returns the file's path. OSError when it cannot."""
    path = path_for(state_dir, collector)
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    fd = os.open(path + ".new", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.close(fd)
    return path


def save(path: str, key: str) -> None:
    """Write the key beside its place with mode 0600 from the start, then rename it in."""
    fd = os.open(path + ".new", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(path + ".new", path)
