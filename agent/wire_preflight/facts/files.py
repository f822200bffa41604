"""Reading a host's configuration files under a root ("/" live, a captured tree in tests):
paths are reported as the host sees them, and a file that cannot be read is noted, not raised.

Under a root other than "/", symbolic links are followed as that host would follow them: an
absolute target is taken from the root (a link /etc/x -> /usr/lib/y in the tree means
ROOT/usr/lib/y), and `..` never climbs above it, so a captured tree is never read through
onto the machine running the command.
"""

import contextlib
import errno
import fnmatch
import glob
import os
import posixpath
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from wire_preflight import safefile

_MAX_LINKS = 40  # as the kernel's ELOOP limit
_LOOP = ".symlink-loop"


# Who watches what the readers ask for: the support bundle (bundle/record.py) records the
# paths asked, the texts read and the directories listed during one collection, so a bundle
# holds exactly what the checks read. Empty in every other run: a call costs one test.
Observer = Callable[[str, str, Any], None]  # (event, host path, detail)
_OBSERVERS = []  # type: List[Observer]


@contextlib.contextmanager
def observed(observer: Observer) -> Iterator[None]:
    """Within it, `observer` hears "path" (a path resolved, detail None), "link" (a path
    looked at itself, not followed), "text" (a file read, detail its text), "unreadable" (a
    read that failed, detail why) and "listing" (a directory listed, detail its names)."""
    _OBSERVERS.append(observer)
    try:
        yield
    finally:
        _OBSERVERS.remove(observer)


def _note(event: str, path: str, detail: Any = None) -> None:
    for observer in _OBSERVERS:
        observer(event, path, detail)


def under(root: str, path: str) -> str:
    """The real path of a host path inside root, its links resolved within the root."""
    if _OBSERVERS:
        _note("path", path)
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
            return os.path.join(base, *resolved, part, *todo, _LOOP)
        if target.startswith("/"):
            resolved = []
        todo = [p for p in target.split("/") if p] + todo
    return os.path.join(base, *resolved)


def raw(root: str, path: str) -> str:
    """The path itself under root, its last component not followed (to inspect a link)."""
    directory, leaf = posixpath.split("/" + path.lstrip("/"))
    if _OBSERVERS:
        _note("link", path)
    return os.path.join(under(root, directory), leaf)


def matching(root: str, pattern: str) -> List[str]:
    """Host paths (without root) matching a glob under root, sorted.

    Each directory is listed where it resolves inside the root (the standard glob would
    follow a link in the tree onto the machine running the command, and name its files);
    as glob does, a wildcard matches a leading dot only when the pattern has one there, and
    a directory with more than MAX_ENTRIES entries is refused (Refused, an OSError)."""
    found = ["/"]
    parts = [p for p in pattern.split("/") if p]
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        step = []  # type: List[str]
        for directory in found:
            if glob.has_magic(part):
                names = _names_or_nothing(root, directory)
                if not part.startswith("."):
                    names = [n for n in names if not n.startswith(".")]
                step.extend(posixpath.join(directory, n) for n in fnmatch.filter(names, part))
            elif not last or os.path.lexists(raw(root, posixpath.join(directory, part))):
                step.append(posixpath.join(directory, part))
        found = step
        if len(found) > MAX_ENTRIES:  # globs through links to their own directory multiply
            raise safefile.Refused(
                errno.E2BIG, f"refused, more than {MAX_ENTRIES} paths match", pattern
            )
    return sorted(p for p in found if p != "/")


def _names_or_nothing(root: str, directory: str) -> List[str]:
    try:
        return entries(root, directory)
    except safefile.Refused:
        raise
    except OSError:
        return []  # missing or not a directory: nothing matches, as with glob


# More entries than any directory the readers list has on a real host (a Kubernetes node's
# /sys/class/net with its veth pairs), and more paths than a glob of theirs matches; a tree
# with more is refused, not read for minutes. /sys/devices/system/memory has its own bound.
MAX_ENTRIES = 4096

# What one collection of facts may spend reading files, whatever their number: a tree of
# ten thousand files each within its bound must still end in seconds. A real host's files
# cost 0.2 s of CPU and a few MiB. The seconds are the process's CPU time: the cost a
# hostile tree can cause is parsing, and a busy machine must not make a real host's files
# look too costly.
READ_SECONDS = 5.0
READ_BYTES = 64 * safefile.MiB


class _Budget:
    def __init__(self, seconds: float, total: int) -> None:
        self.seconds = seconds
        self.deadline = time.process_time() + seconds
        self.total = total
        self.left = total
        # Texts already read in this collection: several readers look at the same file
        # (/proc/cpuinfo: the CPU count, clock, virtualisation flags), one read serves them.
        self.texts = {}  # type: Dict[Tuple[str, str, int], str]


_BUDGETS = []  # type: List[_Budget]


@contextlib.contextmanager
def budget(seconds: float = READ_SECONDS, total: int = READ_BYTES) -> Iterator[None]:
    """Within it, read_text refuses files once `seconds` have passed or `total` bytes
    have been read: the facts collected so far stand, the rest say why they are missing. A
    file read once within it is not read again: a second reader gets the same text."""
    _BUDGETS.append(_Budget(seconds, total))
    try:
        yield
    finally:
        _BUDGETS.pop()


def _spend(key: Tuple[str, str, int], text: str) -> None:
    if not _BUDGETS:
        return
    spent = _BUDGETS[-1]
    spent.left -= len(text)
    spent.texts[key] = text


def _already_read(key: Tuple[str, str, int]) -> Optional[str]:
    return _BUDGETS[-1].texts.get(key) if _BUDGETS else None


def _affordable(path: str) -> None:
    if not _BUDGETS:
        return
    spent = _BUDGETS[-1]
    if time.process_time() > spent.deadline:
        raise safefile.Refused(
            errno.ETIME,
            f"refused, the run spent its {spent.seconds:g} s of CPU reading files",
            path,
        )
    if spent.left <= 0:
        raise safefile.Refused(
            errno.EFBIG,
            f"refused, the run read its {safefile.size_words(spent.total)} of files",
            path,
        )


def entries(root: str, directory: str, limit: int = MAX_ENTRIES) -> List[str]:
    """The names in a host directory, resolved within root; Refused past `limit` entries."""
    names = []  # type: List[str]
    with os.scandir(under(root, directory)) as listing:
        for entry in listing:
            names.append(entry.name)
            if len(names) > limit:
                raise safefile.Refused(
                    errno.E2BIG, f"refused, more than {limit} entries", directory
                )
    if _OBSERVERS:
        _note("listing", directory, names)
    return names


def read_text(root: str, path: str, limit: int = safefile.CONFIG) -> str:
    """A host file's text (not UTF-8: U+FFFD), read as safefile reads; OSError (Refused for a
    FIFO, a device, a directory, a file past `limit` bytes or a link out of the tree)."""
    key = (root, path, limit)
    text = _already_read(key)
    if text is not None:
        if _OBSERVERS:
            _note("text", path, text)
        return text
    try:
        text = _read_new(root, path, limit)
    except OSError as exc:
        if _OBSERVERS:
            _note("unreadable", path, exc.strerror or str(exc))
        raise
    _spend(key, text)
    if _OBSERVERS:
        _note("text", path, text)
    return text


def _read_new(root: str, path: str, limit: int) -> str:
    _affordable(path)
    real = under(root, path)
    if real.endswith("/" + _LOOP):
        raise safefile.Refused(errno.ELOOP, "refused, a loop of symbolic links", path)
    if not root or os.path.abspath(root) == "/":
        return safefile.read_text(real, limit)
    # Every link is resolved already (under): one left is a loop, or was put there since.
    return safefile.read_text(real, limit, follow=False, inside=os.path.realpath(root), shown=path)


def read_bytes(root: str, path: str, limit: int) -> bytes:
    """A host file's bytes (a compressed file), read as read_text reads; not cached."""
    _affordable(path)
    real = under(root, path)
    if real.endswith("/" + _LOOP):
        raise safefile.Refused(errno.ELOOP, "refused, a loop of symbolic links", path)
    if not root or os.path.abspath(root) == "/":
        data = safefile.read_bytes(real, limit)
    else:
        data = safefile.read_bytes(
            real, limit, follow=False, inside=os.path.realpath(root), shown=path
        )
    if _BUDGETS:
        _BUDGETS[-1].left -= len(data)
    return data


def read(
    root: str, path: str, errors: List[Dict[str, str]], limit: int = safefile.CONFIG
) -> Optional[str]:
    """The file's text, or None with {"file", "error"} appended to errors."""
    try:
        return read_text(root, path, limit)
    except OSError as exc:
        errors.append({"file": path, "error": exc.strerror or str(exc)})
        return None
