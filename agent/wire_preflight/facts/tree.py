"""Facts of a captured tree (--root DIR) that the live readers take from the running system:
the name, kernel and CPUs as the tree's own files say them."""

import os
from typing import Any, Dict, Iterable, Optional

from wire_preflight import safefile
from wire_preflight.facts import files, programs


def hostname(root: str) -> str:
    name = files.read_text(root, "/etc/hostname", safefile.VALUE).split("#", 1)[0].strip()
    if not name:
        raise ValueError("/etc/hostname is empty")
    return name


def kernel(root: str) -> Dict[str, Optional[str]]:
    # /proc/sys/kernel/osrelease is there when the capture kept /proc.
    return {
        "release": files.read_text(root, "/proc/sys/kernel/osrelease", safefile.VALUE).strip(),
        "version": None,
        "machine": None,
    }


def cpu(root: str) -> Dict[str, Any]:
    text = files.read_text(root, "/proc/cpuinfo", safefile.LARGE)
    logical = sum(1 for line in text.splitlines() if line.split(":")[0].strip() == "processor")
    cores = set()
    for block in text.split("\n\n"):
        fields = dict(
            (k.strip(), v.strip())
            for k, _, v in (line.partition(":") for line in block.splitlines())
        )
        if "core id" in fields:
            cores.add((fields.get("physical id"), fields["core id"]))
    if not logical:
        raise ValueError("/proc/cpuinfo lists no processor")
    return {"logical_count": logical, "physical_count": len(cores) or None}


def tools(names: Iterable[str], root: str) -> Dict[str, Optional[str]]:
    """Where the tree has each program, as a path on that host."""
    out = {}  # type: Dict[str, Optional[str]]
    for name in sorted(set(names)):
        out[name] = None
        for directory in programs.SYSTEM_PATH.split(":"):
            candidate = files.under(root, directory + "/" + name)
            if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                out[name] = os.path.join(directory, name)
                break
    return out
