"""Identity of the host: names, ids, kernel, distribution, virtualisation."""

import os
import platform
import socket
from typing import Any, Dict, Optional

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


def os_release(root: str = "/") -> Dict[str, str]:
    """id, version_id, codename and pretty name from /etc/os-release.

    Python >= 3.10 reads it with the standard library (platform.freedesktop_os_release);
    older ones with distro, whose import costs 10-20 ms of the agent's run.
    """
    if root == "/" and hasattr(platform, "freedesktop_os_release"):
        try:
            fields = platform.freedesktop_os_release()
        except OSError:
            fields = None
        if fields is not None:
            return {
                "id": fields.get("ID", "linux"),
                "version_id": fields.get("VERSION_ID", ""),
                "codename": fields.get("VERSION_CODENAME", ""),
                "pretty_name": fields.get("PRETTY_NAME", fields.get("NAME", "")),
            }
    import distro  # lazy: only the os area needs it

    # No lsb_release subprocess and no uname: /etc/os-release says all we need, and
    # distro would otherwise run `lsb_release -a` for every version() call.
    info = distro.LinuxDistribution(
        include_lsb=False, include_uname=False, root_dir=None if root == "/" else root
    )
    return {
        "id": info.id(),
        "version_id": info.version(),
        "codename": info.codename(),
        "pretty_name": info.name(pretty=True),
    }


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
        with open(files.under(root, "/proc/cpuinfo"), encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("flags"):
                    return "hypervisor" in line.split(":", 1)[1].split()
    except OSError:
        return None
    return False
