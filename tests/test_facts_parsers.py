"""Fact parsers on files in the kernel's and iproute2's own formats."""

import json

import pytest
from helpers import GIB, fixture_path
from wire_preflight.facts import network, resources, system


def read(name):
    with open(fixture_path(name)) as handle:
        return handle.read()


def test_meminfo_4g():
    values = resources.parse_meminfo(read("meminfo-4g.txt"))
    assert values["MemTotal"] == 4039556 * 1024
    assert values["SwapTotal"] == 0
    assert values["HugePages_Total"] == 0  # unitless lines stay counts


def test_meminfo_without_memtotal_is_refused():
    with pytest.raises(ValueError, match="MemTotal"):
        resources.parse_meminfo("MemFree: 10 kB\n")


def test_installed_memory_counts_blocks(tmp_path):
    sysfs = tmp_path / "sys/devices/system/memory"
    sysfs.mkdir(parents=True)
    (sysfs / "block_size_bytes").write_text("8000000\n")  # hex: 128 MiB
    for index in list(range(24)) + list(range(32, 40)):  # the PCI hole leaves a gap
        (sysfs / f"memory{index}").mkdir()
    (sysfs / "auto_online_blocks").write_text("online\n")
    assert resources.installed_memory(str(tmp_path)) == 4 * GIB


def test_installed_memory_absent_or_broken(tmp_path):
    assert resources.installed_memory(str(tmp_path / "missing")) is None
    sysfs = tmp_path / "sys/devices/system/memory"
    sysfs.mkdir(parents=True)
    (sysfs / "block_size_bytes").write_text("not hex\n")
    assert resources.installed_memory(str(tmp_path)) is None


def test_memory_reads_a_captured_tree(tmp_path):
    proc = tmp_path / "proc"
    proc.mkdir()
    (proc / "meminfo").write_text(read("meminfo-3g.txt"))
    memory = resources.memory(str(tmp_path))
    assert memory["total_bytes"] == 3029800 * 1024
    assert memory["swap_total_bytes"] == 2097148 * 1024
    assert "installed_bytes" not in memory


def test_addresses_keep_flags_and_lifetimes():
    interfaces = network.parse_addresses(json.loads(read("ip-addr.json")))
    by_name = {i["name"]: i for i in interfaces}
    static = by_name["ens3"]["addresses"][0]
    assert static["address"] == "192.168.122.21"
    assert static["dynamic"] is False and static["valid_lifetime"] is None
    dhcp = by_name["ens4"]["addresses"][0]
    assert dhcp["dynamic"] is True and dhcp["valid_lifetime"] == 3412
    assert by_name["ens4"]["mac"] == "52:54:00:ab:cd:ef"


def test_primary_address_follows_the_lowest_metric_default_route():
    interfaces = network.parse_addresses(json.loads(read("ip-addr.json")))
    routes = network.parse_routes(json.loads(read("ip-route.json")))
    primary = network.primary_address(interfaces, routes)
    assert primary == {
        "interface": "ens3",
        "address": "192.168.122.21",
        "prefixlen": 24,
        "family": "inet",
        "mtu": 1500,
    }


def test_no_default_route_means_no_primary():
    interfaces = network.parse_addresses(json.loads(read("ip-addr.json")))
    assert network.primary_address(interfaces, []) is None


def test_proc_net_route_fallback():
    routes = network.parse_proc_route(read("proc-net-route.txt"))
    assert routes == [{"dev": "ens3", "gateway": "192.168.122.1", "metric": 0, "protocol": None}]


def test_os_release_of_a_captured_tree():
    info = system.os_release(fixture_path("ubuntu-18.04"))
    assert (info["id"], info["version_id"], info["codename"]) == ("ubuntu", "18.04", "bionic")


def test_machine_id_falls_back_to_dbus(tmp_path):
    (tmp_path / "var/lib/dbus").mkdir(parents=True)
    (tmp_path / "var/lib/dbus/machine-id").write_text("abc123\n")
    assert system.machine_id(str(tmp_path)) == "abc123"
    with pytest.raises(OSError):
        system.machine_id(str(tmp_path / "empty"))


def test_nearest_existing_parent(tmp_path):
    from wire_preflight.facts.disks import nearest_existing

    assert nearest_existing(str(tmp_path / "a" / "b" / "c")) == str(tmp_path)
    assert nearest_existing(str(tmp_path)) == str(tmp_path)


def test_collect_records_unreadable_areas_instead_of_raising(tmp_path):
    from wire_preflight.facts import collect

    facts = collect(["/"], root=str(tmp_path))  # an empty tree: no /proc/meminfo, no machine-id
    assert facts["memory"] is None
    assert "meminfo" in facts["errors"]["memory"]
    assert facts["machine_id"] is None and "machine_id" in facts["errors"]
    # A captured tree's CPUs are its /proc/cpuinfo's, never the machine running the command.
    assert facts["cpu"] is None and "cpuinfo" in facts["errors"]["cpu"]


def test_virtualization_evidence_from_a_captured_tree(tmp_path):
    (tmp_path / "sys/class/dmi/id").mkdir(parents=True)
    (tmp_path / "sys/class/dmi/id/sys_vendor").write_text("QEMU\n")
    (tmp_path / "sys/class/dmi/id/product_name").write_text("Standard PC (Q35 + ICH9, 2009)\n")
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/cpuinfo").write_text(
        "processor\t: 0\nflags\t\t: fpu vme de pse tsc msr hypervisor lahf_lm\n"
    )
    info = system.virtualization(str(tmp_path))
    assert info["sys_vendor"] == "QEMU"
    assert info["hypervisor_flag"] is True
    assert info["container"] is None
    (tmp_path / "proc/cpuinfo").write_text("processor\t: 0\nflags\t\t: fpu vme de pse\n")
    assert system.virtualization(str(tmp_path))["hypervisor_flag"] is False


def test_os_release_agrees_with_distro_on_the_live_host():
    """Python >= 3.10 reads os-release with the standard library, older ones with distro:
    both must say the same."""
    import distro

    info = distro.LinuxDistribution(include_lsb=False, include_uname=False)
    assert system.os_release() == {
        "id": info.id(),
        "version_id": info.version(),
        "codename": info.codename(),
        "pretty_name": info.name(pretty=True),
    }
