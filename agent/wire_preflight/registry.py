"""The agent's checks by id: which module and function judge each, and the shape of its
rules in the host requirements. Nothing else: profiles/ (to validate a host requirements file)
and checks/ both read it, so it imports neither.

A check's id is written once, here.
"""

from typing import List, NamedTuple, Tuple


class Check(NamedTuple):
    id: str
    # checks/<module>.py and the function in it; imported only when `check` runs.
    module: str
    function: str
    # The shape of this check's table in profiles/host/*.toml (profiles/schema.py RULE_SHAPES),
    # or "" when the check reads no host requirements.
    host_rules: str = ""


REGISTRY = (
    Check("os", "system", "check_os"),
    Check("hostname", "system", "check_hostname"),
    Check("cpu", "resources", "check_cpu"),
    Check("memory", "resources", "check_memory"),
    Check("disk", "resources", "check_disk"),
    Check("ip-static", "ip_static", "check_ip_static"),
    Check("ip-range", "ip_range", "check_ip_range"),
    Check("ip-drift", "ip_drift", "check_ip_drift"),
    Check("host-firewall", "firewall", "check_host_firewall", "firewall"),
    Check("time-sync", "clock", "check_time_sync", "severity"),
    Check("swap", "kernel", "check_swap", "components"),
    Check("vm-max-map-count", "kernel", "check_max_map_count", "thresholds"),
    Check("ip-forward", "kernel", "check_ip_forward", "components"),
    Check("br-netfilter", "kernel", "check_br_netfilter", "components"),
    Check("calico-modules", "kernel", "check_calico_modules", "modules"),
    Check("thp", "kernel", "check_thp", "allowed-values"),
    Check("zone-reclaim", "kernel", "check_zone_reclaim", "components"),
    Check("nofile", "limits", "check_limit", "limits"),
    Check("nproc", "limits", "check_limit", "limits"),
    Check("memlock", "limits", "check_limit", "limits"),
    Check("ports", "services", "check_ports", "ports"),
    Check("tools", "services", "check_tools", "tools"),
    Check("minio-drive", "resources", "check_minio_drive", "filesystems"),
    Check("disk-rotational", "hardware", "check_disk_rotational", "components"),
    Check("cpu-clock", "hardware", "check_cpu_clock", "clock"),
    Check("virtualization", "hardware", "check_virtualization", "severity"),
    Check("apt-lock", "install", "check_apt_lock", "severity"),
    Check("assets-headroom", "install", "check_assets_headroom", "headroom"),
    Check("vm-host", "hypervisor", "check_vm_host", "components"),
)


def check_ids() -> List[str]:
    return [check.id for check in REGISTRY]


def host_rule_shapes() -> List[Tuple[str, str]]:
    """(check id, rule shape) for each check whose rules live in profiles/host/*.toml."""
    return [(check.id, check.host_rules) for check in REGISTRY if check.host_rules]
