"""Identity of the host: names, ids, kernel, distribution, virtualisation."""

import os
import shutil
import socket
import subprocess
from typing import Any, Dict

from wire_preflight.facts import read_text


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


def os_release() -> Dict[str, str]:
    import distro  # lazy: only the os area needs it

    return {
        "id": distro.id(),
        "version_id": distro.version(),
        "codename": distro.codename(),
        "pretty_name": distro.name(pretty=True),
    }


def virtualization(root: str = "/") -> Dict[str, Any]:
    """What we run on. systemd-detect-virt knows every hypervisor; DMI is the fallback."""
    tool = shutil.which("systemd-detect-virt")
    if tool:
        done = subprocess.run(
            [tool], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, universal_newlines=True, timeout=5
        )
        # It exits 1 when it prints "none"; the printed word is the answer either way.
        return {"type": done.stdout.strip() or "none", "source": "systemd-detect-virt"}
    try:
        vendor = read_text("/sys/class/dmi/id/sys_vendor", root).strip()
    except OSError:
        vendor = ""
    return {"type": vendor or "unknown", "source": "/sys/class/dmi/id/sys_vendor"}
