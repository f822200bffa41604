"""Is apt free to install packages now? The ansible run of an installation fails at its first
apt task when another process (unattended-upgrades, apt-daily) holds apt's or dpkg's lock.

apt and dpkg lock these files with fcntl() write locks (apt-pkg's GetLock, dpkg's
file_lock). F_GETLK on a descriptor of our own asks the kernel who holds a conflicting lock
without taking it, so the probe can never get in the way of an installation.
"""

import fcntl
import os
import re
import stat
import struct
from typing import Any, Dict, List, Optional

from wire_preflight import safefile
from wire_preflight.facts import files

LOCK_FILES = (
    "/var/lib/dpkg/lock-frontend",
    "/var/lib/dpkg/lock",
    "/var/lib/apt/lists/lock",
    "/var/cache/apt/archives/lock",
)
APT_CONF_DIR = "/etc/apt/apt.conf.d"
# struct flock on Linux (x86-64, arm64): short l_type, short l_whence, off_t l_start,
# off_t l_len, pid_t l_pid (and padding).
_FLOCK = "hhqqi"
_SETTING = re.compile(r'^\s*APT::Periodic::(Unattended-Upgrade|Update-Package-Lists)\s+"([^"]*)"')


def lock_holder(path: str) -> Dict[str, Any]:
    """{"path", "exists", "held", "pid"} for one lock file: held is None when it cannot be
    asked (no permission to open the file)."""
    out = {"path": path, "exists": os.path.exists(path), "held": False, "pid": None}  # type: Dict[str, Any]
    if not out["exists"]:
        return out
    try:
        # Non-blocking: a FIFO put where a lock file belongs must not hang the run.
        flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(path, flags)
    except OSError as exc:
        out["held"] = None
        out["error"] = exc.strerror or str(exc)
        return out
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            out["held"] = None
            out["error"] = "not a regular file"
            return out
        # Ask about a write lock over the whole file: any lock another process holds
        # conflicts with it. F_GETLK works on a read-only descriptor and takes nothing.
        query = struct.pack(_FLOCK, fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
        answer = fcntl.fcntl(fd, fcntl.F_GETLK, query)
    except OSError as exc:
        out["held"] = None
        out["error"] = exc.strerror or str(exc)
        return out
    finally:
        os.close(fd)
    l_type, _whence, _start, _len, pid = struct.unpack(_FLOCK, answer)
    if l_type != fcntl.F_UNLCK:
        out["held"] = True
        # An open file description lock (F_OFD_SETLK) has no single owner: the kernel says -1.
        out["pid"] = pid if pid > 0 else None
        out["process"] = _process_name(pid) if pid > 0 else None
    return out


def _process_name(pid: int) -> Optional[str]:
    try:
        return safefile.read_text(f"/proc/{pid}/comm", safefile.VALUE).strip() or None
    except OSError:
        return None


def unattended_upgrades(root: str = "/") -> Dict[str, Any]:
    """APT::Periodic::Unattended-Upgrade as apt.conf.d sets it (files read in name order, the
    last setting wins, as apt reads them), and the file that set it."""
    settings = {}  # type: Dict[str, Dict[str, str]]
    errors = []  # type: List[Dict[str, str]]
    try:
        # scandir, not glob: the parts' names are all that decides, in sorted order.
        parts = sorted(
            name
            for name in files.entries(root, APT_CONF_DIR)
            if _apt_reads(name) and os.path.isfile(files.under(root, APT_CONF_DIR + "/" + name))
        )
    except OSError:
        parts = []
    for name in parts:
        path = APT_CONF_DIR + "/" + name
        text = files.read(root, path, errors) or ""
        if "Periodic" not in text:
            continue  # most parts set other things: skip the line-by-line reading
        for line in text.splitlines():
            if line.lstrip().startswith("#"):
                continue
            found = _SETTING.match(line.split("//", 1)[0])
            if found:
                settings[found.group(1)] = {"value": found.group(2), "file": path}
    setting = settings.get("Unattended-Upgrade")
    value = setting["value"] if setting else None
    return {
        # Any value but "0" (or absent) runs it: apt's periodic script reads it as a number of days.
        "enabled": value is not None and value.strip() not in ("", "0"),
        "value": value,
        "file": setting["file"] if setting else None,
        "errors": errors,
    }


def _apt_reads(name: str) -> bool:
    """apt.conf(5) and apt-pkg's GetListOfFilesInDir: apt reads a regular file not starting
    with '.', whose name has only alphanumerics, '-', '_' and '.', with no extension or
    ".conf" (so 20auto-upgrades.dpkg-old is skipped)."""
    if name.startswith("."):
        return False
    if not re.match(r"^[A-Za-z0-9_.\-]+$", name):
        return False
    return "." not in name or name.endswith(".conf")


def collect(root: str = "/", lock_files: Optional[List[str]] = None) -> Dict[str, Any]:
    """The locks (live hosts only: a captured tree holds no processes) and the setting."""
    out = {"unattended_upgrades": unattended_upgrades(root)}  # type: Dict[str, Any]
    if root == "/" or lock_files is not None:
        out["locks"] = [lock_holder(path) for path in (lock_files or LOCK_FILES)]
    else:
        out["locks"] = None
    return out
