"""The bundle's file: writing it from memory, and unpacking one that may be hostile.

Written with tarfile from members held in memory (nothing is added by a path on disk, so
nothing is read that the screen did not see), owned by root:root, into a file only its owner
can read, renamed into place once complete.

Unpacked by hand, member by member, in one streaming pass, because a bundle comes from
another machine and may be made to hurt: tarfile's own extraction filters (`filter=`) are
missing on the Pythons of Ubuntu 18.04-22.04, and the rules here are narrower anyway. Refused,
with the member's name: an absolute name, a `..` part, a name outside the one top
directory, anything but a regular file, a directory or a symbolic link (hard links, devices,
FIFOs), a member through a link, a name given twice, a link whose target climbs out of the
tree, a member over MAX_MEMBER bytes, more than MAX_MEMBERS members. The whole is bounded as
well: the compressed file by MAX_COMPRESSED, what it unpacks to by MAX_UNPACKED and by RATIO
times its compressed size (a gzip bomb stops at the bound, not at the disk's end).
"""

import gzip
import io
import os
import tarfile
import time
from typing import Any, Dict, Iterable, List, Tuple

from wire_preflight import atomicfile, safefile
from wire_preflight.bundle import TREE
from wire_preflight.model import InputError

MAX_COMPRESSED = 64 * safefile.MiB
MAX_UNPACKED = 128 * safefile.MiB
# A real bundle unpacks to 5-15 times its size (text, and tar's 512-byte headers of the
# empty stand-ins compress well); gzip's own limit is about 1000.
RATIO = 100
# Below this, the ratio is not asked: a tiny bundle of empty stand-ins compresses far better.
RATIO_FLOOR = 16 * safefile.MiB
MAX_MEMBERS = 200_000
MAX_MEMBER = safefile.DOCUMENT
MAX_NAME = 4096
MAX_DEPTH = 64


# -- writing ----------------------------------------------------------------------------


def write(path: str, entries: Iterable[Tuple[str, str, bytes, str]]) -> int:
    """Write (name, kind, data, link target) entries as a tar.gz at path; returns its size.
    kind: "file", "dir" or "link". The file is made 0600 and renamed into place."""
    now = int(time.time())
    with atomicfile.replacing(path, binary=True, mode=0o600) as raw_file, gzip.GzipFile(
        fileobj=raw_file, mode="wb", mtime=now
    ) as zipped, tarfile.open(fileobj=zipped, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, data, target in entries:
            tar.addfile(*_info(name, kind, data, target, now))
    return os.path.getsize(path)


def _info(name: str, kind: str, data: bytes, target: str, now: int) -> Tuple[Any, Any]:
    info = tarfile.TarInfo(name)
    info.mtime = now
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    if kind == "dir":
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        return info, None
    if kind == "link":
        info.type = tarfile.SYMTYPE
        info.linkname = target
        info.mode = 0o777
        return info, None
    info.mode = 0o644
    info.size = len(data)
    return info, io.BytesIO(data)


# -- reading ----------------------------------------------------------------------------


class Hostile(InputError):
    """A bundle that cannot be read safely: the message names the bundle and the member."""


class _Bounded(io.RawIOBase):
    """The decompressed stream, refusing to give more than `limit` bytes."""

    def __init__(self, stream: Any, limit: int, origin: str) -> None:
        self.stream = stream
        self.limit = limit
        self.origin = origin
        self.given = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.stream.read(len(buffer))
        self.given += len(data)
        if self.given > self.limit:
            raise Hostile(
                f"bundle {self.origin}: unpacks to more than {safefile.size_words(self.limit)} "
                f"(a compression bomb?)"
            )
        buffer[: len(data)] = data
        return len(data)


def unpack(path: str, destination: str) -> str:
    """Unpack the bundle at path into the (empty, private) destination directory; returns
    the path of its top directory. Hostile (an InputError) names what is wrong."""
    try:
        compressed = safefile.read_bytes(path, MAX_COMPRESSED)
    except OSError as exc:
        raise InputError(f"cannot read bundle {path}: {exc.strerror}") from None
    limit = min(MAX_UNPACKED, max(RATIO_FLOOR, RATIO * len(compressed)))
    stream = io.BufferedReader(_Bounded(gzip.GzipFile(fileobj=io.BytesIO(compressed)), limit, path))
    try:
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            top = _extract_all(tar, destination, path)
    except Hostile:
        raise
    except (tarfile.TarError, OSError, EOFError, ValueError, UnicodeError) as exc:
        raise InputError(f"bundle {path} is not a readable tar.gz: {_why(exc)}") from None
    if top is None:
        raise InputError(f"bundle {path} is empty")
    return os.path.join(destination, top)


def _why(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return text.splitlines()[0]


def _extract_all(tar: Any, destination: str, origin: str) -> Any:
    top = None
    seen = set()  # type: set
    for count, member in enumerate(tar, 1):
        if count > MAX_MEMBERS:
            raise Hostile(f"bundle {origin}: more than {MAX_MEMBERS} members")
        parts = _parts(member.name, origin)
        if not parts and member.isdir():
            continue  # "./", the archive's own directory (`tar czf x.tar.gz -C DIR .`)
        if not parts:
            raise Hostile(f"bundle {origin}: member {member.name[:200]!r} has an empty name")
        if top is None:
            top = parts[0]
        elif parts[0] != top:
            raise Hostile(f"bundle {origin}: member {member.name!r} is outside {top}/")
        name = "/".join(parts)
        if name in seen:
            raise Hostile(f"bundle {origin}: member {name!r} is given twice")
        seen.add(name)
        _extract_one(tar, member, parts, destination, origin)
    return top


def _parts(name: str, origin: str) -> List[str]:
    def refuse(why: str) -> Hostile:
        return Hostile(f"bundle {origin}: member {name[:200]!r} refused: {why}")

    if len(name) > MAX_NAME or "\x00" in name:
        raise refuse("an overlong or binary name")
    if name.startswith("/"):
        raise refuse("an absolute name")
    # "." parts are dropped (an archive made by hand says ./x), ".." is refused
    parts = [p for p in name.split("/") if p and p != "."]
    if ".." in parts:
        raise refuse("a '..' in its name")
    if len(parts) > MAX_DEPTH:
        raise refuse(f"more than {MAX_DEPTH} levels deep")
    return parts


def _extract_one(tar: Any, member: Any, parts: List[str], destination: str, origin: str) -> None:
    def refuse(why: str) -> Hostile:
        return Hostile(f"bundle {origin}: member {'/'.join(parts)!r} refused: {why}")

    target = os.path.join(destination, *parts)
    if member.isdir():
        _make_dirs(destination, parts, refuse)
        return
    _make_dirs(destination, parts[:-1], refuse)
    if os.path.lexists(target):
        raise refuse("it is there already (a directory given as a file?)")
    if member.issym():
        if len(parts) < 3 or parts[1] != TREE:
            raise refuse("a link outside the host's tree")
        _check_link(member.linkname, parts, refuse)
        os.symlink(member.linkname, target)
        return
    if not member.isreg():
        raise refuse("not a regular file, directory or symbolic link (a device, FIFO or hard link)")
    if member.size > MAX_MEMBER:
        raise refuse(f"{member.size} bytes, more than the {safefile.size_words(MAX_MEMBER)} bound")
    source = tar.extractfile(member)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    with os.fdopen(fd, "wb") as out:
        left = member.size
        while left > 0:
            chunk = source.read(min(left, 256 * 1024))
            if not chunk:
                raise refuse("the archive ends inside it")
            out.write(chunk)
            left -= len(chunk)


def _make_dirs(destination: str, parts: List[str], refuse: Any) -> None:
    path = destination
    for part in parts:
        path = os.path.join(path, part)
        if os.path.islink(path):
            raise refuse("it would be written through a symbolic link")
        if os.path.lexists(path):
            if not os.path.isdir(path):
                raise refuse("a file is in its place")
            continue
        os.mkdir(path, 0o755)


def _check_link(target: str, parts: List[str], refuse: Any) -> None:
    """A link stays inside the tree: an absolute target is read from the tree's root (as
    the readers read a captured tree's links), a relative one may not climb above it."""
    if not target or len(target) > MAX_NAME or "\x00" in target:
        raise refuse("a link with an empty, overlong or binary target")
    if target.startswith("/"):
        return
    depth = len(parts) - 3  # directories between the tree's root and the link
    for part in target.split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                raise refuse(f"a link out of the tree ({target})")
        elif part not in ("", "."):
            depth += 1


def read_json(path: str, origin: str, what: str) -> Dict[str, Any]:
    """One of the bundle's own documents, bounded and parsed."""
    import json

    try:
        data = json.loads(safefile.read_bytes(path, safefile.DOCUMENT).decode("utf-8"))
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise InputError(f"bundle {origin}: cannot read {what}: {exc.strerror}") from None
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InputError(f"bundle {origin}: {what} is not valid JSON: {_why(exc)}") from None
    if not isinstance(data, dict):
        raise InputError(f"bundle {origin}: {what} must hold a JSON object")
    return data
