"""What the hardware under the VM is: the processor's architecture and clock, hardware
virtualisation, and whether the data services' disks are solid-state. The production plan
asks these of the physical servers; a VM sees them only partly, and the messages say so."""

from typing import Any, Dict, List, NamedTuple, Optional, Tuple

from wire_preflight.checks import Context
from wire_preflight.model import ERROR, PASS, SKIP, WARN, CheckResult


def _mild(severity: str) -> str:
    """A claim the host cannot vouch for is at most a warning."""
    return WARN if severity == "fail" else severity


# -- cpu-clock ---------------------------------------------------------------------------------


def clock_figure(clock: Dict[str, Any]) -> Optional[Tuple[float, str]]:
    """(GHz, where it came from), the vendor's rated clock first: what the plan's "clocked at
    2.5 GHz" means. A VM usually shows its host's model name, so this is the host's CPU."""
    if clock.get("model_ghz"):
        return float(clock["model_ghz"]), "the model name ({})".format(clock.get("model_name"))
    if clock.get("base_khz"):
        return clock["base_khz"] / 1e6, "cpufreq base_frequency"
    if clock.get("max_khz"):
        return clock["max_khz"] / 1e6, "cpufreq cpuinfo_max_freq (the highest clock allowed)"
    if clock.get("mhz"):
        return clock["mhz"] / 1000, "`cpu MHz` in /proc/cpuinfo (the clock now)"
    return None


def check_cpu_clock(context: Context) -> List[CheckResult]:
    table = context.table()
    if not table:
        return []
    clock = context.facts.get("cpu_clock")
    if clock is None:
        return [context.absent("cpu_clock")]
    severity = table.get("severity", WARN)
    want = float(table.get("min_ghz", 0))
    expected = f"x86-64, >= {want:g} GHz"
    evidence = dict(clock)
    if clock.get("x86_64") is False:
        return [
            context.result(
                severity,
                observed="not x86-64 ({})".format(
                    clock.get("machine") or clock.get("vendor_id") or "another architecture"
                ),
                expected=expected,
                message="Wire's packages and images are built for AMD64 (x86-64) only",
                remedy="run the VM on an x86-64 (Intel or AMD) server",
                evidence=evidence,
            )
        ]
    figure = clock_figure(clock)
    if figure is None:
        return [
            context.result(
                SKIP,
                observed="no clock figure",
                expected=expected,
                message="the host shows no clock: no GHz in the model name "
                "({}), no cpufreq, no `cpu MHz`".format(clock.get("model_name") or "none"),
                evidence=evidence,
            )
        ]
    ghz, basis = figure
    evidence["judged_ghz"] = ghz
    evidence["basis"] = basis
    observed = f"{ghz:.2f} GHz, from {basis}"
    if ghz + 1e-9 >= want:
        return [
            context.result(
                PASS,
                observed=observed,
                expected=expected,
                message=f"clocked at {ghz:.2f} GHz",
                evidence=evidence,
            )
        ]
    # `cpu MHz` and cpuinfo_max_freq are not the rated clock: a power-saving host shows less
    # now than it runs at under load, so that reading warns at most.
    status = severity if basis.startswith(("the model", "cpufreq base")) else _mild(severity)
    return [
        context.result(
            status,
            observed=observed,
            expected=expected,
            message=f"{ghz:.2f} GHz is below the {want:g} GHz the plan assumes",
            remedy=f"plan for servers clocked at {want:g} GHz or more, or more cores to make up "
            "for the slower ones",
            evidence=evidence,
        )
    ]


# -- virtualization ----------------------------------------------------------------------------


class VirtualizationVerdict(NamedTuple):
    """What the `hardware_virtualization` fact says, for `virtualization` and `vm-host`."""

    usable: Optional[bool]  # None: the CPU can, /dev/kvm is unseen (a captured tree)
    observed: str
    problem: str  # why not, when usable is False
    remedy: str


VIRTUALIZATION_EXPECTED = "vmx or svm CPU flag, /dev/kvm"


def virtualization_verdict(info: Dict[str, Any]) -> VirtualizationVerdict:
    flag = info.get("cpu_flag")
    dev_kvm = info.get("dev_kvm")
    observed = "{} flag, /dev/kvm {}".format(
        flag or "no vmx/svm",
        {True: "present", False: "absent", None: "not known (captured tree)"}.get(dev_kvm),
    )
    if flag and dev_kvm is not False:
        return VirtualizationVerdict(True if dev_kvm else None, observed, "", "")
    if flag:  # the CPU can, the kernel does not offer it
        return VirtualizationVerdict(
            False,
            observed,
            f"the CPU has {flag} but /dev/kvm is missing: the kvm module is not loaded "
            "or virtualisation is disabled in the firmware",
            "modprobe kvm_{} (and enable VT-x/AMD-V in the BIOS if that fails)".format(
                "intel" if flag == "vmx" else "amd"
            ),
        )
    in_vm = bool(info.get("hypervisor_flag"))
    remedy = (
        "enable nested virtualisation for this VM in its hypervisor (KVM: the kvm_intel/kvm_amd "
        "`nested=1` option and CPU mode host-passthrough; VMware: 'Expose hardware assisted "
        "virtualization to the guest OS')"
        if in_vm
        else "enable VT-x/AMD-V (SVM) in the server's firmware settings"
    )
    problem = "no hardware virtualisation" + (" passed through to this VM" if in_vm else "")
    return VirtualizationVerdict(False, observed, problem, remedy)


def check_virtualization(context: Context) -> List[CheckResult]:
    table = context.table()
    if not table:
        return []
    info = context.facts.get("hardware_virtualization")
    if info is None:
        return [context.absent("hardware_virtualization")]
    verdict = virtualization_verdict(info)
    evidence = dict(info)
    if verdict.usable is not False:
        # The plan asks for the CPU's support; /dev/kvm unseen in a captured tree is no doubt
        # about that (vm-host, which fails a hypervisor, skips instead).
        flag = info.get("cpu_flag")
        return [
            context.result(
                PASS,
                observed=verdict.observed,
                expected=VIRTUALIZATION_EXPECTED,
                message="hardware virtualisation ({})".format(
                    "Intel VT-x" if flag == "vmx" else "AMD-V"
                ),
                evidence=evidence,
            )
        ]
    return [
        context.result(
            table.get("severity", WARN),
            observed=verdict.observed,
            expected=VIRTUALIZATION_EXPECTED,
            message=verdict.problem,
            remedy=verdict.remedy,
            evidence=evidence,
        )
    ]


# -- disk-rotational ---------------------------------------------------------------------------


def check_disk_rotational(context: Context) -> List[CheckResult]:
    disks = context.facts.get("disks")
    results = []
    for role, component, severity in context.rules():
        if disks is None:
            results.append(context.absent("disks", role))
            continue
        path = next((n.path for n in context.needs.disks if role in n.roles), None)
        entry = next((d for d in disks if d.get("path") == path), None)
        if entry is None or "backing" not in entry:
            # No entry: facts collected for another data directory. No "backing": facts
            # saved by an agent from before this check.
            results.append(
                context.result(
                    ERROR if entry is None else SKIP,
                    observed=None,
                    expected="SSD or NVMe",
                    message="the facts hold {} for {}".format(
                        "no filesystem" if entry is None else "no disks under the filesystem",
                        path,
                    ),
                    remedy="collect facts on the host with this --data-dir",
                    role=role,
                )
            )
            continue
        results.append(_judge_backing(context, role, component, severity, path, entry))
    return results


def _judge_backing(
    context: Context,
    role: str,
    component: str,
    severity: str,
    path: Optional[str],
    entry: Dict[str, Any],
) -> CheckResult:
    backing = entry.get("backing") or []
    expected = "SSD or NVMe (queue/rotational = 0)"
    evidence = {"path": path, "device": entry.get("device"), "backing": backing}
    if not backing:
        return context.result(
            SKIP,
            observed="no block device",
            expected=expected,
            message="{} is on {} with no block device under it".format(
                path, entry.get("fstype") or "a filesystem"
            ),
            role=role,
            evidence=evidence,
        )
    names = ", ".join(
        "{} (rotational {})".format(
            d["name"], {True: "1", False: "0", None: "unknown"}[d.get("rotational")]
        )
        for d in backing
    )
    observed = f"{path} on {names}"
    spinning = [d for d in backing if d.get("rotational") is True]
    unknown = [d for d in backing if d.get("rotational") is None]
    virtual = [d for d in backing if d.get("virtual")]
    if virtual:
        why = "; ".join("{}: {}".format(d["name"], d["virtual"]) for d in virtual)
        caveat = (
            "a virtual disk's rotational flag is what the hypervisor chose to report "
            "(virtio and emulated disks often say 1 on SSDs, or 0 on spinning arrays), "
            "not what is under it"
        )
        if spinning:
            return context.result(
                WARN,
                observed=observed,
                expected=expected,
                message=f"{component}'s data disk reports itself rotational ({why}); {caveat}",
                remedy="confirm with the hypervisor's admin that the datastore is SSD/NVMe; "
                "QEMU/libvirt can pass it on with rotation_rate=1 on the disk",
                role=role,
                evidence=evidence,
            )
        return context.result(
            PASS,
            observed=observed,
            expected=expected,
            message=f"reported non-rotational ({why}); {caveat}",
            role=role,
            evidence=evidence,
        )
    if spinning:
        return context.result(
            severity,
            observed=observed,
            expected=expected,
            message=f"{component}'s data is on a spinning disk",
            remedy=f"move {path} to an SSD or NVMe disk",
            role=role,
            evidence=evidence,
        )
    if unknown:
        return context.result(
            SKIP,
            observed=observed,
            expected=expected,
            message="the kernel does not say whether {} rotates".format(
                ", ".join(d["name"] for d in unknown)
            ),
            role=role,
            evidence=evidence,
        )
    return context.result(
        PASS,
        observed=observed,
        expected=expected,
        message="solid-state",
        role=role,
        evidence=evidence,
    )
