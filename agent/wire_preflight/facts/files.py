"""Reading a host's configuration files under a root ("/" live, a captured tree in tests):
paths are reported as the host sees them, and a file that cannot be read is noted, not raised.

Under a root other than "/", symbolic links are followed as that host would follow them: an
absolute target is taken from the root (a link /etc/x -> /usr/lib/y in the tree means
ROOT/usr/lib/y), and `..` never climbs above it, so a captured tree is never read through
onto the machine running the command.
"""

import glob
import os
import posixpath
from typing import Dict, List, Optional

_MAX_LINKS = 40  # as the kernel's ELOOP limit


def under(root: str, path: str) -> str:
    """The real path of a host path inside root, its links resolved within the root."""
    if not root or os.path.abspath(root) == "/":
        return os.path.join("/", path.lstrip("/"))
    base = os.path.abspath(root)
    todo = [p for p in path.split("/") if p]
    resolved = []  # type: List[str]
    hops = 0
    while todo:
        part = todo.pop(0)
        if part == ".":
            continue
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(base, *resolved, part)
        try:
            target = os.readlink(candidate) if os.path.islink(candidate) else None
        except OSError:
            target = None
        if target is None:
            resolved.append(part)
            continue
        hops += 1
        if hops > _MAX_LINKS:
            # A cycle: a path that does not exist in the tree, so reading it fails there.
            return os.path.join(base, *resolved, part, *todo, ".symlink-loop")
        if target.startswith("/"):
            resolved = []
        todo = [p for p in target.split("/") if p] + todo
    return os.path.join(base, *resolved)


def raw(root: str, path: str) -> str:
    """The path itself under root, its last component not followed (to inspect a link)."""
    directory, leaf = posixpath.split("/" + path.lstrip("/"))
    return os.path.join(under(root, directory), leaf)


def matching(root: str, pattern: str) -> List[str]:
    """Host paths (without root) matching a glob under root, sorted."""
    directory, leaf = posixpath.split("/" + pattern.lstrip("/"))
    if glob.has_magic(directory):
        base = under(root, "/")
        return sorted(
            "/" + os.path.relpath(p, base)
            for p in glob.glob(os.path.join(base, pattern.lstrip("/")))
        )
    real = under(root, directory)
    return sorted(
        posixpath.join(directory, os.path.basename(p))
        for p in glob.glob(os.path.join(glob.escape(real), leaf))
    )


def read(root: str, path: str, errors: List[Dict[str, str]]) -> Optional[str]:
    """The file's text, or None with {"file", "error"} appended to errors."""
    try:
        with open(under(root, path), encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError as exc:
        errors.append({"file": path, "error": exc.strerror or str(exc)})
        return None
