"""Can this machine carry the VMs its role carries? The size (cores, memory, disk) is the
`cpu`, `memory` and `disk` checks' business, against the carried rows added up; this check
judges what only a hypervisor needs: hardware virtualisation, the CPU's vmx (Intel VT-x) or
svm (AMD-V) flag and a /dev/kvm to use it through.

It reads the `hardware_virtualization` fact ({"cpu_flag", "dev_kvm", "hypervisor_flag"}).
"""

from typing import List

from wire_preflight.checks import Context
from wire_preflight.model import PASS, SKIP, CheckResult


def _carried(context: Context, role: str) -> str:
    carried = [context.profile.roles[name] for name in context.profile.role(role).carries]
    return ", ".join(f"{r.vms} {r.name}" for r in carried) or "its VMs"


def check_vm_host(context: Context) -> List[CheckResult]:
    results = []
    for role, _component, rule in context.rules():
        severity = rule if isinstance(rule, str) else rule.get("severity", "fail")
        virt = context.facts.get("hardware_virtualization")
        if not isinstance(virt, dict):
            results.append(context.missing("hardware_virtualization", role=role))
            continue
        carried = _carried(context, role)
        flag, dev_kvm = virt.get("cpu_flag"), virt.get("dev_kvm")
        observed = "{}, /dev/kvm {}".format(
            f"CPU flag {flag}" if flag else "no vmx/svm CPU flag",
            {True: "present", False: "absent", None: "not known"}[dev_kvm],
        )
        expected = "vmx or svm, and /dev/kvm"
        evidence = {"cpu_flag": flag, "dev_kvm": dev_kvm, "carries": carried}
        if not flag:
            inside = (
                " (inside a VM: the hypervisor must pass nesting through)"
                if virt.get("hypervisor_flag")
                else ""
            )
            results.append(
                context.result(
                    severity,
                    observed=observed,
                    expected=expected,
                    message=f"no hardware virtualisation for the VMs ({carried}){inside}",
                    remedy="enable VT-x/AMD-V (SVM) in the firmware setup, or run on a machine "
                    "that has it",
                    role=role,
                    evidence=evidence,
                )
            )
        elif dev_kvm is False:
            results.append(
                context.result(
                    severity,
                    observed=observed,
                    expected=expected,
                    message=f"the CPU offers {flag} but /dev/kvm is missing",
                    remedy="modprobe kvm_intel (or kvm_amd); if it fails, virtualisation is "
                    "disabled in the firmware",
                    role=role,
                    evidence=evidence,
                )
            )
        elif dev_kvm is None:
            results.append(
                context.result(
                    SKIP,
                    observed=observed,
                    expected=expected,
                    message=f"the CPU offers {flag}; /dev/kvm can be seen only on the live host",
                    role=role,
                    evidence=evidence,
                )
            )
        else:
            results.append(
                context.result(
                    PASS,
                    observed=observed,
                    expected=expected,
                    message=f"can run the VMs it carries ({carried}) with KVM",
                    role=role,
                    evidence=evidence,
                )
            )
    return results
