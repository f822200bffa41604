"""Identity of the host: names, ids, kernel, distribution, virtualisation."""

import errno
import os
import re
import socket
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from wire_preflight import safefile
from wire_preflight.facts import files

if TYPE_CHECKING:
    from wire_preflight.shapes import OsFacts


def hostname() -> str:
    return socket.gethostname()


def machine_id(root: str = "/") -> str:
    # systemd writes /etc/machine-id; dbus keeps a copy on hosts without systemd.
    last_error = None  # type: Optional[OSError]
    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            value = files.read_text(root, path, safefile.VALUE).strip()
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
    return files.read_text(root, "/sys/class/dmi/id/product_uuid", safefile.VALUE).strip().lower()


def kernel() -> Dict[str, str]:
    uname = os.uname()
    return {"release": uname.release, "version": uname.version, "machine": uname.machine}


OS_RELEASE = ("/etc/os-release", "/usr/lib/os-release")


def os_release(root: str = "/") -> "OsFacts":
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


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")  # a shell variable's name, ASCII only
# Inside double quotes the shell takes a backslash as an escape before these only.
_ESCAPED_IN_DOUBLE_QUOTES = ("$", "`", '"', "\\")


def parse_os_release(text: str) -> Dict[str, str]:
    """os-release(5): one VAR=value a line, the value quoted and escaped as in a shell (the
    format is shell-compatible on purpose, read here as /bin/sh reads it); comments, blank
    lines and lines that are not assignments are ignored, a line with an unclosed quote too."""
    fields = {}  # type: Dict[str, str]
    for line in text.split("\n"):
        name, sep, value = line.rstrip("\r").lstrip(" \t").partition("=")
        if not sep or not _NAME.match(name):
            continue
        words = _shell_words(value)
        if words is not None:
            # More than one word is not an assignment in a shell; kept, as one value.
            fields[name] = " ".join(word for word in words if word)
    return fields


def _shell_words(value: str) -> Optional[List[str]]:
    """The words of one line as a POSIX shell splits and unquotes them, no expansion, up to
    an unquoted `#` that starts a word (the value's first character does not: it follows
    `NAME=`); None for an unclosed quote. shlex cannot: it keeps the backslash of \\$ and \\`
    inside double quotes, and takes a `#` inside a word for a comment."""
    words = []  # type: List[str]
    word = []  # type: Optional[List[str]]
    index = 0
    while index < len(value):
        char = value[index]
        index += 1
        if char in " \t":
            if word is not None:
                words.append("".join(word))
                word = None
            continue
        if char == "#" and word is None:
            break
        word = [] if word is None else word
        if char == "\\":
            word.append(value[index : index + 1])
            index += 1
        elif char == "'":
            end = value.find("'", index)
            if end < 0:
                return None
            word.append(value[index:end])
            index = end + 1
        elif char == '"':
            while True:
                if index >= len(value):
                    return None
                char = value[index]
                index += 1
                if char == '"':
                    break
                if char == "\\" and value[index : index + 1] in _ESCAPED_IN_DOUBLE_QUOTES:
                    char = value[index]
                    index += 1
                word.append(char)
        else:
            word.append(char)
    if word is not None:
        words.append("".join(word))
    return words


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
            out[key] = files.read_text(root, "/sys/class/dmi/id/" + key, safefile.VALUE).strip()
        except OSError:
            out[key] = None
    out["hypervisor_flag"] = cpu_has_hypervisor_flag(root)
    try:
        out["container"] = files.read_text(root, "/run/systemd/container", safefile.VALUE).strip()
    except OSError:
        out["container"] = None
    return out


def cpu_has_hypervisor_flag(root: str = "/") -> Optional[bool]:
    """The 'hypervisor' CPU flag: set by every hypervisor that exposes CPUID leaf 0x40000000."""
    try:
        text = files.read_text(root, "/proc/cpuinfo", safefile.LARGE)
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("flags"):
            return "hypervisor" in line.split(":", 1)[1].split()
    return False
