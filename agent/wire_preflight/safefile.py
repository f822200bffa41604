"""Reading a file the agent does not control: a regular file only, and never more of it than
its format can need.

Every file the agent reads may be hostile or simply odd: a captured tree (--root) can hold a
FIFO where /etc/hostname should be (opening it blocks until a writer comes, forever), a device
node or a link to /dev/zero (a read that never ends), a 1 GB sparse os-release (free to make,
slow to read), and a live host can hold the same. So a file is stat'ed before it is opened and
refused unless it is a regular file, opened without blocking and never as a controlling
terminal, checked again on the open descriptor (the name may have been swapped in between),
and read up to a bound for its format: a larger one is refused, not cut short, because half a
file could be judged as if it were the whole. A refusal is a `Refused`, an OSError whose
strerror says why, so the readers that already report an unreadable file report it as well.
"""

import errno
import os
import stat
from typing import Any, List, Optional

KiB = 1024
MiB = 1024 * KiB

# Bounds by format, generous for any real host and small enough that the parser of each
# ends in about a second on its costliest input (a line-based parser: about 1 s for 1 MiB of
# empty lines; configparser 3 s; pure-Python PyYAML worse than linear, so boundedyaml has
# its own, smaller bound): one value of /proc/sys or /sys (a page), a configuration file, and the
# files that grow with the machine (/proc/cpuinfo of a many-core host, lease histories,
# saved firewall rules), read by line-based parsers only.
VALUE = 64 * KiB
CONFIG = 256 * KiB
LARGE = 2 * MiB
# Documents the agent wrote itself (saved facts and reports, spooled reports, its state): a
# report of a host with hundreds of interfaces stays well under this, and parsing this much
# JSON of the most costly shape (`[{},{},...]`) stays within a few hundred MB of memory.
DOCUMENT = 8 * MiB

_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISLNK, "a symbolic link"),
)


class Refused(OSError):
    """A file the agent will not read; strerror says why, filename which file."""

    strerror: str  # always given (_refuse), unlike OSError's


def describe(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def _refuse(path: str, why: str) -> Refused:
    return Refused(errno.EINVAL, "refused, " + why, path)


def size_words(limit: int) -> str:
    if limit >= MiB:
        return f"{limit // MiB} MiB"
    return f"{limit // KiB} KiB" if limit >= KiB else f"{limit} bytes"


def read_bytes(
    path: str,
    limit: int,
    follow: bool = True,
    inside: Optional[str] = None,
    shown: Optional[str] = None,
) -> bytes:
    """The whole content of a regular file of at most `limit` bytes; Refused otherwise.

    follow=False refuses a symbolic link as the last component (O_NOFOLLOW). `inside`, a real
    directory path, refuses a file whose opened descriptor is not under it (the kernel's own
    view, /proc/self/fd, so a link swapped in mid-way cannot lead out). `shown` is the name
    errors give (a host path rather than its place in a captured tree).
    """
    name = shown or path
    try:
        before = os.stat(path) if follow else os.lstat(path)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, name) from None
    if not stat.S_ISREG(before.st_mode):
        raise _refuse(name, describe(before.st_mode) + ", not a regular file")
    if before.st_size > limit:
        raise _refuse(name, f"{before.st_size} bytes, more than the {size_words(limit)} bound")
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)
    if not follow:
        flags |= os.O_NOFOLLOW
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _refuse(name, "a symbolic link (a loop, or changed while read)") from None
        raise OSError(exc.errno, exc.strerror, name) from None
    try:
        now = os.fstat(fd)
        if (now.st_dev, now.st_ino) != (before.st_dev, before.st_ino) or not stat.S_ISREG(
            now.st_mode
        ):
            raise _refuse(name, "it changed while it was opened")
        if inside is not None and not _opened_inside(fd, inside):
            raise _refuse(name, "it resolves outside " + inside)
        return _read_at_most(fd, limit, name)
    finally:
        os.close(fd)


def read_text(path: str, limit: int, **kwargs: Any) -> str:
    """read_bytes as UTF-8 text; bytes that are not UTF-8 become U+FFFD."""
    return read_bytes(path, limit, **kwargs).decode("utf-8", errors="replace")


def _read_at_most(fd: int, limit: int, name: str) -> bytes:
    # /proc and /sys files report a size of 0 or 4096 whatever they hold, and a file may grow
    # while it is read: the bound holds on what is read, not on what stat said.
    chunks: List[bytes] = []
    total = 0
    while True:
        chunk = os.read(fd, min(256 * KiB, limit + 1 - total))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            raise _refuse(name, f"more than the {size_words(limit)} bound")


def _opened_inside(fd: int, directory: str) -> bool:
    try:
        opened = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return True  # no /proc here: the path was resolved within the tree, and stays so
    return opened.startswith(directory.rstrip("/") + "/")
