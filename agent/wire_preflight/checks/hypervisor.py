"""Can this machine carry the VMs its role carries? The size (cores, memory, disk) is the
`cpu`, `memory` and `disk` checks' business, against the carried rows added up; this check
judges what only a hypervisor needs: hardware virtualisation, the CPU's vmx (Intel VT-x) or
svm (AMD-V) flag and a /dev/kvm to use it through. The fact is read as `virtualization`
reads it (checks/hardware.py); this check is per role and names the VMs at stake.
"""

from typing import List

from wire_preflight.checks import Context
from wire_preflight.checks.hardware import VIRTUALIZATION_EXPECTED, virtualization_verdict
from wire_preflight.model import PASS, SKIP, CheckResult


def _carried(context: Context, role: str) -> str:
    carried = [context.profile.roles[name] for name in context.profile.role(role).carries]
    return ", ".join(f"{r.vms} {r.name}" for r in carried) or "its VMs"


def check_vm_host(context: Context) -> List[CheckResult]:
    results = []
    virt = context.facts.get("hardware_virtualization")
    for role, _component, rule in context.rules():
        severity = rule if isinstance(rule, str) else rule.get("severity", "fail")
        if not isinstance(virt, dict):
            # As `virtualization`: facts of an agent older than the fact skip, not fail.
            results.append(context.absent("hardware_virtualization", role=role))
            continue
        carried = _carried(context, role)
        verdict = virtualization_verdict(virt)
        evidence = {"cpu_flag": virt.get("cpu_flag"), "dev_kvm": virt.get("dev_kvm")}
        evidence["carries"] = carried
        if verdict.usable is False:
            status, remedy = severity, verdict.remedy
            message = f"{verdict.problem}, for the VMs it carries ({carried})"
        elif verdict.usable is None:
            # A hypervisor that fails without /dev/kvm is not passed on the CPU flag alone.
            status, remedy = SKIP, ""
            message = "the CPU offers {}; /dev/kvm can be seen only on the live host".format(
                virt.get("cpu_flag")
            )
        else:
            status, remedy = PASS, ""
            message = f"can run the VMs it carries ({carried}) with KVM"
        results.append(
            context.result(
                status,
                observed=verdict.observed,
                expected=VIRTUALIZATION_EXPECTED,
                message=message,
                remedy=remedy,
                role=role,
                evidence=evidence,
            )
        )
    return results
