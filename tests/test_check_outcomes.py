"""Every check in checks.REGISTRY has a host that passes it and one that it fails, here, as
data: CASES holds, per check id, the two hosts (the captured Ubuntu 18.04 VM's facts, changed
only where the check looks) and the profile and roles they are judged for. A check added to
the registry without its two cases fails test_every_check_has_a_pass_and_a_fail_case.

"Fails" is the check's verdict against the host, as the profiles rate it: `fail`, or `warn`
for the checks whose worst verdict on a host is a warning (WARNS_AT_WORST, checked against
the profiles' data).

The checks' own test files test the edges; these are the floor every check stands on."""

import copy
from typing import Any, Callable, Dict, NamedTuple, Tuple

import pytest
from helpers import (
    GIB,
    UFW_DEFAULT_DROP,
    UFW_ON,
    demo_facts,
    judge,
    minio_facts,
    results_for,
    ufw_user_rules,
    with_changes,
)
from wire_preflight import checks, profiles
from wire_preflight.model import FAIL, PASS, WARN


class Case(NamedTuple):
    roles: Tuple[str, ...]
    # (captured facts, a temporary directory) -> the facts to judge
    facts: Callable[[Dict[str, Any], Any], Dict[str, Any]]
    profile: str = "classic"
    # checks.Context fields (previous, ...)
    context: Dict[str, Any] = {}


def unchanged(base, tmp_path):
    return base


def changed(**changes):
    return lambda base, tmp_path: with_changes(base, **changes)


def tunable(name, value, roles=("cassandra",), profile="classic", then=unchanged):
    def facts(base, tmp_path):
        out = copy.deepcopy(then(base, tmp_path))
        out["tunables"][name] = dict(out["tunables"].get(name) or {}, value=value)
        out["tunables"][name].setdefault("file", "/proc/sys/" + name.replace(".", "/"))
        return out

    return Case(roles, facts, profile)


def sized_for_kubernetes(base, tmp_path):
    return with_changes(base, cpu__logical_count=6, memory__installed_bytes=8 * GIB)


def data_disk_of(size):
    def facts(base, tmp_path):
        disk = dict(base["disks"][0], total_bytes=size, device_size_bytes=size)
        return with_changes(base, disks=[disk])

    return facts


def on_address(address, dynamic=False):
    def facts(base, tmp_path):
        out = copy.deepcopy(base)
        entry = out["network"]["interfaces"][1]["addresses"][0]
        entry.update(address=address, dynamic=dynamic)
        if dynamic:
            entry.update(valid_lifetime=3412, preferred_lifetime=3412)
            out["network_config"]["netplan"]["interfaces"]["ens3"]["dhcp4"] = True
        out["network"]["primary"]["address"] = address
        return out

    return facts


def service_limit(service, name, soft, unit=True):
    """The service's systemd unit sets limit `name` to `soft` (-1: unlimited)."""

    def facts(base, tmp_path):
        out = copy.deepcopy(base)
        path = f"/etc/systemd/system/{service}.service"
        raw = "infinity" if soft == -1 else str(soft)
        out["limits"]["services"][service] = {
            "unit_file": path if unit else None,
            "files": [path] if unit else [],
            "limits": {name: {"raw": raw, "soft": soft, "file": path}} if unit else {},
        }
        return out

    return facts


def listening(port, process):
    def facts(base, tmp_path):
        out = copy.deepcopy(base)
        out["listeners"].append(
            {"proto": "tcp", "address": "0.0.0.0", "port": port, "pid": 4242, "process": process}
        )
        return out

    return facts


def kubernetes_tools(missing=()):
    def facts(base, tmp_path):
        out = sized_for_kubernetes(base, tmp_path)
        for tool in ("conntrack", "socat"):
            out["tools"][tool] = "/usr/sbin/" + tool
        for tool in missing:
            out["tools"][tool] = None
        return out

    return facts


def minio_data(fstype="xfs", device="/dev/vdb"):
    return lambda base, tmp_path: minio_facts(base, device, fstype)


def without_kernel_module(name):
    """A Kubernetes node whose kernel neither has nor can load `name`."""

    def facts(base, tmp_path):
        out = copy.deepcopy(sized_for_kubernetes(base, tmp_path))
        gone = {"loaded": False, "builtin": False, "file": None, "loadable": False}
        out["kernel_modules"]["modules"][name] = gone
        return out

    return facts


def rotational(spinning):
    def facts(base, tmp_path):
        out = copy.deepcopy(base)
        out["disks"][0]["backing"][0]["rotational"] = spinning
        return out

    return facts


def kvm(flag, dev_kvm):
    return changed(hardware_virtualization__cpu_flag=flag, hardware_virtualization__dev_kvm=dev_kvm)


def lock_held_by_unattended_upgrades(base, tmp_path):
    out = copy.deepcopy(base)
    out["apt"]["locks"][0].update(held=True, pid=1234, process="unattended-upgr")
    return out


def assets(free_gb, held_gb):
    def facts(base, tmp_path):
        out = copy.deepcopy(base)
        out["disks"][0].update(
            path="/opt/assets", total_bytes=int(200e9), free_bytes=int(free_gb * 1e9)
        )
        out["assets"] = {
            "path": "/opt/assets",
            "exists": True,
            "bytes": int(held_gb * 1e9),
            "files": 1200,
            "complete": True,
        }
        return out

    return facts


def demo_vm_with_ufw(*tuples):
    """The demo VM sized for the wiab profile; without tuples, a VM without ufw."""
    files = {
        "/etc/ufw/ufw.conf": UFW_ON,
        "/etc/default/ufw": UFW_DEFAULT_DROP,
        "/etc/ufw/user.rules": ufw_user_rules(*tuples),
    }
    return lambda base, tmp_path: demo_facts(base, tmp_path, files if tuples else {})


DEMO_PORTS = (
    "allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in",
    "allow tcp 80,443 0.0.0.0/0 any 0.0.0.0/0 in",
    "allow any 3478 0.0.0.0/0 any 0.0.0.0/0 in",
    "allow udp 32768:65535 0.0.0.0/0 any 0.0.0.0/0 in",
)

PREVIOUS_RUN = {
    "primary": {"address": "192.168.122.21", "interface": "ens3"},
    "seen_at": "2026-11-19T09:00:00Z",
    "file": "/var/lib/wire-preflight/state.json",
}
CASSANDRA = ("cassandra",)
ELASTICSEARCH = ("elasticsearch",)
KUBERNETES = ("kubernetes",)
KUBE = {"roles": KUBERNETES, "then": sized_for_kubernetes}

CASES = {
    ("os", "pass"): Case(CASSANDRA, unchanged),
    ("os", "fail"): Case(CASSANDRA, changed(os__id="debian", os__version_id="12")),
    ("hostname", "pass"): Case(CASSANDRA, unchanged),
    ("hostname", "fail"): Case(CASSANDRA, changed(hostname="Cassandra_1")),
    ("cpu", "pass"): Case(CASSANDRA, unchanged),
    ("cpu", "fail"): Case(CASSANDRA, changed(cpu__logical_count=1)),
    ("memory", "pass"): Case(CASSANDRA, unchanged),
    ("memory", "fail"): Case(
        CASSANDRA,
        changed(memory__installed_bytes=3 * GIB, memory__total_bytes=int(2.9 * GIB)),
    ),
    ("disk", "pass"): Case(CASSANDRA, unchanged),
    ("disk", "fail"): Case(CASSANDRA, data_disk_of(int(60e9))),
    ("ip-static", "pass"): Case(CASSANDRA, unchanged),
    ("ip-static", "fail"): Case(CASSANDRA, on_address("192.168.122.21", dynamic=True)),
    ("ip-range", "pass"): Case(CASSANDRA, unchanged),
    ("ip-range", "fail"): Case(CASSANDRA, on_address("10.233.0.21")),
    ("ip-drift", "pass"): Case(CASSANDRA, unchanged, context={"previous": PREVIOUS_RUN}),
    ("ip-drift", "fail"): Case(
        CASSANDRA,
        unchanged,
        context={"previous": dict(PREVIOUS_RUN, primary={"address": "192.168.122.20"})},
    ),
    ("host-firewall", "pass"): Case(("wiab",), demo_vm_with_ufw(), "wiab"),
    ("host-firewall", "fail"): Case(("wiab",), demo_vm_with_ufw(DEMO_PORTS[0]), "wiab"),
    ("time-sync", "pass"): Case(CASSANDRA, unchanged),
    ("time-sync", "fail"): Case(CASSANDRA, changed(time__synchronized=False)),
    ("swap", "pass"): Case(KUBERNETES, sized_for_kubernetes),
    ("swap", "fail"): tunable(
        "swaps",
        [{"device": "/swap.img", "type": "file", "size_bytes": 2 * GIB}],
        KUBERNETES,
        then=sized_for_kubernetes,
    ),
    ("vm-max-map-count", "pass"): tunable("vm.max_map_count", 1048576, ELASTICSEARCH),
    ("vm-max-map-count", "fail"): tunable("vm.max_map_count", 65530, ELASTICSEARCH),
    ("ip-forward", "pass"): tunable(
        "net.ipv4.ip_forward", 1, KUBERNETES, then=sized_for_kubernetes
    ),
    ("ip-forward", "fail"): tunable(
        "net.ipv4.ip_forward", 0, KUBERNETES, then=sized_for_kubernetes
    ),
    ("br-netfilter", "pass"): tunable(
        "net.bridge.bridge-nf-call-iptables", 1, KUBERNETES, then=sized_for_kubernetes
    ),
    ("br-netfilter", "fail"): tunable(
        "net.bridge.bridge-nf-call-iptables", 0, KUBERNETES, then=sized_for_kubernetes
    ),
    ("calico-modules", "pass"): Case(KUBERNETES, sized_for_kubernetes),
    ("calico-modules", "fail"): Case(KUBERNETES, without_kernel_module("xt_set")),
    ("thp", "pass"): tunable("transparent_hugepage.enabled", "never"),
    ("thp", "fail"): tunable("transparent_hugepage.enabled", "always"),
    ("zone-reclaim", "pass"): tunable("vm.zone_reclaim_mode", 0),
    ("zone-reclaim", "fail"): tunable("vm.zone_reclaim_mode", 1),
    ("nofile", "pass"): Case(ELASTICSEARCH, service_limit("elasticsearch", "nofile", 65535)),
    ("nofile", "fail"): Case(ELASTICSEARCH, service_limit("elasticsearch", "nofile", 4096)),
    ("nproc", "pass"): Case(ELASTICSEARCH, service_limit("elasticsearch", "nproc", 4096)),
    ("nproc", "fail"): Case(ELASTICSEARCH, service_limit("elasticsearch", "nproc", 1024)),
    ("memlock", "pass"): Case(CASSANDRA, service_limit("cassandra", "memlock", -1)),
    ("memlock", "fail"): Case(CASSANDRA, service_limit("cassandra", "memlock", 65536)),
    ("ports", "pass"): Case(CASSANDRA, unchanged),
    ("ports", "fail"): Case(CASSANDRA, listening(9042, "nginx")),
    ("tools", "pass"): Case(KUBERNETES, kubernetes_tools()),
    ("tools", "fail"): Case(KUBERNETES, kubernetes_tools(missing=("nsenter",))),
    ("minio-drive", "pass"): Case(("minio",), minio_data()),
    ("minio-drive", "fail"): Case(("minio",), minio_data(device="/dev/vda")),
    ("disk-rotational", "pass"): Case(CASSANDRA, rotational(False), "current"),
    ("disk-rotational", "fail"): Case(CASSANDRA, rotational(True), "current"),
    ("cpu-clock", "pass"): Case(CASSANDRA, changed(cpu_clock__mhz=3000.0), "current"),
    ("cpu-clock", "fail"): Case(CASSANDRA, changed(cpu_clock__mhz=2100.0), "current"),
    ("virtualization", "pass"): Case(CASSANDRA, kvm("vmx", True), "current"),
    ("virtualization", "fail"): Case(CASSANDRA, kvm(None, False), "current"),
    ("apt-lock", "pass"): Case(CASSANDRA, unchanged),
    ("apt-lock", "fail"): Case(CASSANDRA, lock_held_by_unattended_upgrades),
    ("assets-headroom", "pass"): Case(("asset",), assets(free_gb=120, held_gb=50)),
    ("assets-headroom", "fail"): Case(("asset",), assets(free_gb=20, held_gb=50)),
    ("vm-host", "pass"): Case(("adminhost",), kvm("vmx", True), "wiab-staging"),
    ("vm-host", "fail"): Case(("adminhost",), kvm(None, False), "wiab-staging"),
}

# Checks whose verdict on a host is a warning at worst: their "fail" case is a warn. ip-static
# by its code (a dynamic address warns); the others as every built-in profile rates them.
WARNS_AT_WORST = {
    "ip-static",
    "br-netfilter",
    "thp",
    "zone-reclaim",
    "memlock",
    "disk-rotational",
    "cpu-clock",
    "virtualization",
    "apt-lock",
    "assets-headroom",
}


@pytest.mark.parametrize("check_id", checks.check_ids())
def test_every_check_has_a_pass_and_a_fail_case(check_id):
    assert (check_id, "pass") in CASES, f"no host that passes {check_id} in CASES"
    assert (check_id, "fail") in CASES, f"no host that {check_id} fails in CASES"


def test_no_case_for_a_check_that_is_not_registered():
    assert {check_id for check_id, _ in CASES} <= set(checks.check_ids())


def rates_fail(table: Any) -> bool:
    """Whether a check's table in the host requirements rates anything `fail`."""
    if isinstance(table, dict):
        return any("fail" in str(key) or rates_fail(v) for key, v in table.items())
    if isinstance(table, list):
        return any(rates_fail(v) for v in table)
    return table == "fail"


@pytest.mark.parametrize("check_id", sorted(WARNS_AT_WORST))
def test_warns_at_worst_is_what_every_profile_says(check_id):
    for name in profiles.builtin_names():
        table = profiles.load(name).host.get(check_id, {})
        assert not rates_fail(table), f"{name} rates {check_id} fail: take it out of WARNS_AT_WORST"


@pytest.mark.parametrize("check_id,outcome", sorted(CASES))
def test_check_outcome(base_facts, tmp_path, check_id, outcome):
    case = CASES[check_id, outcome]
    facts = case.facts(base_facts, tmp_path)
    results = results_for(judge(facts, list(case.roles), case.profile, **case.context), check_id)
    statuses = sorted({r.status for r in results})
    if outcome == "pass":
        assert statuses == [PASS], [(r.status, r.message) for r in results]
    else:
        worst = WARN if check_id in WARNS_AT_WORST else FAIL
        assert worst in statuses, [(r.status, r.message) for r in results]
