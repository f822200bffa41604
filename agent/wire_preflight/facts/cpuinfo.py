"""The processor as the host describes it: architecture, clock and hardware virtualisation.

Read from files only (the first processor block of /proc/cpuinfo, cpufreq in /sys, /dev/kvm):
no subprocess, so `check` stays as fast as before. Every CPU of a VM or a server is the same
model, so the first block says what all of them are.
"""

import contextlib
import os
import re
from typing import Any, Dict, Optional

from wire_preflight import safefile
from wire_preflight.facts import files

CPUINFO = "/proc/cpuinfo"
CPUFREQ = "/sys/devices/system/cpu/cpu0/cpufreq"
DEV_KVM = "/dev/kvm"

# The rated clock a vendor prints in the model name: "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz".
# A unit is required: "QEMU Virtual CPU version 2.5+" is a version, not a clock.
_MODEL_CLOCK = re.compile(r"(\d+(?:\.\d+)?)\s*([GM])Hz\b", re.IGNORECASE)
_X86_VENDORS = ("GenuineIntel", "AuthenticAMD", "HygonGenuine", "CentaurHauls", "Shanghai")


def first_processor(root: str = "/") -> Dict[str, str]:
    """The fields of /proc/cpuinfo's first processor block (key -> value, both stripped)."""
    fields = {}  # type: Dict[str, str]
    # Bounded and regular-file only: a FIFO or /dev/zero in a captured tree is refused.
    for line in files.read_text(root, CPUINFO, safefile.LARGE).splitlines():
        if not line.strip():
            if fields:
                break
            continue
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip(), value.strip())
    if not fields:
        raise ValueError(f"{CPUINFO} lists no processor")
    return fields


def model_clock_ghz(model_name: str) -> Optional[float]:
    """The nominal clock printed in a model name, in GHz, or None when it names none."""
    found = _MODEL_CLOCK.search(model_name or "")
    if not found:
        return None
    value = float(found.group(1))
    return value if found.group(2).upper() == "G" else value / 1000


def _read_khz(root: str, name: str) -> Optional[int]:
    try:
        return int(files.read_text(root, CPUFREQ + "/" + name, safefile.VALUE).strip())
    except (OSError, ValueError):
        return None


def _x86_64(fields: Dict[str, str], machine: Optional[str]) -> Optional[bool]:
    if machine:
        return machine in ("x86_64", "amd64")
    if fields.get("vendor_id") in _X86_VENDORS:
        # `lm` (long mode) is the CPUID bit of a 64-bit x86 processor.
        return "lm" in fields.get("flags", "").split()
    if any(key in fields for key in ("CPU implementer", "cpu model", "machine")):
        return False  # arm64, mips, s390: their cpuinfo has other fields
    return None


def clock(root: str = "/") -> Dict[str, Any]:
    """Architecture and every clock figure the host gives, for the checks to choose from.

    model_ghz: the vendor's rated clock in the model name (absent in AMD's names, and a VM
    shows the host's model name, or a generic one like "Common KVM processor").
    base_khz / max_khz: cpufreq's base_frequency (intel_pstate) and cpuinfo_max_freq (the
    highest the driver allows, turbo included with intel_pstate); absent in most VMs.
    mhz: `cpu MHz`, the clock now (on a VM, usually the host's TSC rate).
    """
    fields = first_processor(root)
    machine = os.uname().machine if root == "/" else None
    model = fields.get("model name", "")
    mhz = None  # type: Optional[float]
    with contextlib.suppress(KeyError, ValueError):
        mhz = float(fields["cpu MHz"])
    return {
        "machine": machine,
        "x86_64": _x86_64(fields, machine),
        "vendor_id": fields.get("vendor_id"),
        "model_name": model or None,
        "model_ghz": model_clock_ghz(model),
        "mhz": mhz,
        "base_khz": _read_khz(root, "base_frequency"),
        "max_khz": _read_khz(root, "cpuinfo_max_freq"),
        "source": CPUINFO,
    }


def hardware_virtualization(root: str = "/", live: Optional[bool] = None) -> Dict[str, Any]:
    """Can this host run VMs with hardware help? The CPU's vmx (Intel VT-x) or svm (AMD-V)
    flag, and whether /dev/kvm exists (the kvm module loaded and the feature not disabled in
    the firmware). Inside a VM both appear only when the hypervisor passes nesting through.
    A captured tree (--root) has no live /dev: dev_kvm is None there unless `live` says the
    root is a live system's.
    """
    live = root == "/" if live is None else live
    fields = first_processor(root)
    flags = set(fields.get("flags", "").split())
    cpu_flag = "vmx" if "vmx" in flags else "svm" if "svm" in flags else None
    return {
        "cpu_flag": cpu_flag,
        "dev_kvm": os.path.exists(files.under(root, DEV_KVM)) if live else None,
        "hypervisor_flag": "hypervisor" in flags,
        "source": CPUINFO,
    }
