"""Identity of the host: names, ids, kernel, distribution, virtualisation."""

import errno
import os
import re
import socket
from typing import Any, Dict, Optional

from wire_preflight import safefile
from wire_preflight.facts import files, read_text


def hostname() -> str:
    return socket.gethostname()


def machine_id(root: str = "/") -> str:
    # systemd writes /etc/machine-id; dbus keeps a copy on hosts without systemd.
    last_error = None  # type: Optional[OSError]
    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            value = read_text(path, root).strip()
        except OSError as exc:
            # A file refused (a FIFO, a directory) says more than the copy that is missing.
            if not isinstance(last_error, safefile.Refused):
                last_error = exc
            continue
        if value:
            return value
    raise last_error or FileNotFoundError(2, "empty machine-id", "/etc/machine-id")


def product_uuid(root: str = "/") -> str:
    # Readable by root only; a cloned VM keeps its template's uuid unless the hypervisor resets it.
    return read_text("/sys/class/dmi/id/product_uuid", root).strip().lower()


def kernel() -> Dict[str, str]:
    uname = os.uname()
    return {"release": uname.release, "version": uname.version, "machine": uname.machine}


OS_RELEASE = ("/etc/os-release", "/usr/lib/os-release")


def os_release(root: str = "/") -> Dict[str, str]:
    """id, version_id, codename and pretty name from /etc/os-release (else /usr/lib/os-release,
    as os-release(5) says).

    Read through files.read_text like every other file, live or captured, and parsed here:
    neither the standard library (platform.freedesktop_os_release, Python >= 3.10) nor distro
    takes the text, only a path they open themselves, and an open of their own follows a link
    in a captured tree onto the machine running the command and blocks on a FIFO.
    """
    text = None  # type: Optional[str]
    for path in OS_RELEASE:
        try:
            text = files.read_text(root, path, safefile.VALUE)
            break
        except FileNotFoundError:
            continue
    if text is None:
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", OS_RELEASE[0])
    fields = parse_os_release(text)
    return {
        "id": fields.get("ID", "linux").lower(),
        "version_id": fields.get("VERSION_ID", ""),
        "codename": _codename(fields),
        "pretty_name": fields.get("PRETTY_NAME") or fields.get("NAME", ""),
    }


def parse_os_release(text: str) -> Dict[str, str]:
    """os-release(5): one VAR=value a line, the value quoted and escaped as in a shell (the
    format is shell-compatible on purpose; shlex reads it as a shell would); comments and
    lines that are not assignments are ignored."""
    import shlex

    fields = {}  # type: Dict[str, str]
    for line in text.splitlines():
        name, sep, value = line.strip().partition("=")
        if not sep or not name or not (name[0].isalpha() or name[0] == "_"):
            continue
        if not all(ch.isalnum() or ch == "_" for ch in name):
            continue
        try:
            words = shlex.split(value, comments=True)
        except ValueError:  # an unbalanced quote: this line only is unreadable
            continue
        fields[name] = " ".join(words)
    return fields


def _codename(fields: Dict[str, str]) -> str:
    # VERSION_CODENAME since systemd 231; older Ubuntu says UBUNTU_CODENAME, older still only
    # VERSION="14.04.6 LTS, Trusty Tahr".
    for key in ("VERSION_CODENAME", "UBUNTU_CODENAME"):
        if key in fields:
            return fields[key]
    # A real VERSION is a few words; the cut keeps the search's backtracking small.
    found = re.search(r"\((\D+)\)|,\s*(\D+)", fields.get("VERSION", "")[:200])
    return (found.group(1) or found.group(2)) if found else ""


def virtualization(root: str = "/") -> Dict[str, Any]:
    """What the VM says it runs on, as raw evidence: the DMI strings the hypervisor sets
    ("QEMU"/"KVM", "VMware, Inc.", "Microsoft Corporation") and the CPU's hypervisor flag.

    Not systemd-detect-virt: it costs a subprocess (8 ms of a 170 ms run) for a fact no
    check judges; these files say the same for the hypervisors Wire is installed on.
    """
    out = {}  # type: Dict[str, Any]
    for key in ("sys_vendor", "product_name"):
        try:
            out[key] = read_text("/sys/class/dmi/id/" + key, root).strip()
        except OSError:
            out[key] = None
    out["hypervisor_flag"] = cpu_has_hypervisor_flag(root)
    try:
        out["container"] = read_text("/run/systemd/container", root).strip()
    except OSError:
        out["container"] = None
    return out


def cpu_has_hypervisor_flag(root: str = "/") -> Optional[bool]:
    """The 'hypervisor' CPU flag: set by every hypervisor that exposes CPUID leaf 0x40000000."""
    try:
        text = read_text("/proc/cpuinfo", root, safefile.LARGE)
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("flags"):
            return "hypervisor" in line.split(":", 1)[1].split()
    return False
