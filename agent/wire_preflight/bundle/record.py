"""What the readers asked for during one collection of facts, as the members of a tree.

The readers tell facts/files.py every path they resolve, every path they look at without
following it (a link's own name), every file they read and every directory they list;
Recorder hears it (files.observed) and turns it into the tree a bundle holds: a file read
with the text the reader got, a directory listed with its names (a name nothing read is an
empty file or directory of the same kind, so a listing or an existence test answers the
same), a link looked at as the link itself. Nothing a reader did not ask for goes in, and a
file the reader could not read stays out (noted with the reason), so the tree answers as the
host did: missing, where the host refused or denied.
"""

import errno
import os
import posixpath
import stat
from typing import Any, Dict, List, NamedTuple, Optional, Set

from wire_preflight.facts import files

_MISSING = os.strerror(errno.ENOENT)


class Member(NamedTuple):
    path: str  # the host path, absolute and normalised
    kind: str  # "file", "dir" or "link"
    data: bytes = b""  # a file's content
    target: str = ""  # a link's target, as written on the host


class Recorder:
    def __init__(self, root: str = "/") -> None:
        self.root = root
        self.asked: Set[str] = set()
        self.looked_at: Set[str] = set()
        self.texts = {}  # type: Dict[str, str]
        self.listings = {}  # type: Dict[str, List[str]]
        self.unreadable = {}  # type: Dict[str, str]

    def __call__(self, event: str, path: str, detail: Any) -> None:
        path = _normal(path)
        if event == "text":
            self.texts[path] = detail
        elif event == "unreadable":
            self.unreadable[path] = str(detail)
        elif event == "listing":
            self.listings[path] = list(detail)
        elif event == "link":
            self.looked_at.add(path)
        else:
            self.asked.add(path)

    def members(self) -> "Capture":
        """The tree: every member by host path, and what could not be put in and why."""
        tree = {}  # type: Dict[str, Member]
        left_out = [
            {"path": path, "reason": "unreadable on the host: " + why}
            for path, why in sorted(self.unreadable.items())
            if path not in self.texts and why != _MISSING  # absent: nothing was left out
        ]  # type: List[Dict[str, str]]
        for path, text in self.texts.items():
            tree[path] = Member(path, "file", text.encode("utf-8"))
        for directory, names in self.listings.items():
            tree.setdefault(directory, Member(directory, "dir"))
            for name in names:
                child = posixpath.join(directory, name)
                if child not in tree:
                    self._stand_in(tree, left_out, child, follow=True)
        for path in sorted(self.asked - set(tree)):
            self._stand_in(tree, None, path, follow=True)
        for path in sorted(self.looked_at):
            self._link(tree, path)
        _make_parents_directories(tree, left_out)
        return Capture(tree, left_out)

    def _stand_in(
        self,
        tree: Dict[str, Member],
        left_out: Optional[List[Dict[str, str]]],
        path: str,
        follow: bool,
    ) -> None:
        """An empty member of the host path's kind, for a path asked or listed, not read.
        A path that is missing, unreadable or of another kind stays out (the tree answers
        "missing", as a host that could not be read says why elsewhere)."""
        if path in self.unreadable:
            return  # the host refused it: missing in the tree says the same
        real = files.under(self.root, path) if follow else files.raw(self.root, path)
        try:
            mode = (os.stat if follow else os.lstat)(real).st_mode
        except OSError:
            return
        if stat.S_ISDIR(mode):
            tree[path] = Member(path, "dir")
        elif stat.S_ISREG(mode):
            tree[path] = Member(path, "file")
        elif left_out is not None:
            left_out.append({"path": path, "reason": "not a file or directory (a device?)"})

    def _link(self, tree: Dict[str, Member], path: str) -> None:
        # The readers look at a link's own name (an interface's driver, a unit masked by a
        # link to /dev/null): keep it as the link, its target as the host wrote it.
        real = files.raw(self.root, path)
        try:
            if os.path.islink(real):
                tree[path] = Member(path, "link", target=os.readlink(real))
                return
        except OSError:
            return
        if path not in tree:
            self._stand_in(tree, None, path, follow=False)


class Capture(NamedTuple):
    tree: Dict[str, Member]
    left_out: List[Dict[str, str]]


def _normal(path: str) -> str:
    return posixpath.normpath("/" + path.lstrip("/"))


def _make_parents_directories(tree: Dict[str, Member], left_out: List[Dict[str, str]]) -> None:
    """Every parent of a member is a directory: a link asked as a link (`device`) that other
    paths were read through (`device/uevent`) is kept as the directory they were read in."""
    for path in list(tree):
        parent = posixpath.dirname(path)
        while parent != "/":
            held = tree.get(parent)
            if held is not None and held.kind == "dir":
                break
            if held is not None and held.kind == "file":
                # A file with members under it cannot be; the file's content wins.
                left_out.append({"path": path, "reason": f"{parent} is a file on the host"})
                tree.pop(path, None)
                break
            tree[parent] = Member(parent, "dir")
            parent = posixpath.dirname(parent)
