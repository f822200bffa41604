"""Facts for the host checks of issue 21: CPU clock and architecture, hardware virtualisation,
the data disk's rotational flag, the apt/dpkg locks. Read from captured-style trees in
tests/fixtures (README there says where each file comes from)."""

import os
import shutil

import pytest
from wire_preflight.facts import cpuinfo

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")


def cpu_tree(tmp_path, name, max_khz=None, base_khz=None, dev_kvm=False):
    (tmp_path / "proc").mkdir()
    shutil.copy(os.path.join(FIXTURES, "cpu", name), str(tmp_path / "proc/cpuinfo"))
    freq = tmp_path / "sys/devices/system/cpu/cpu0/cpufreq"
    if max_khz or base_khz:
        freq.mkdir(parents=True)
    if max_khz:
        (freq / "cpuinfo_max_freq").write_text(f"{max_khz}\n")
    if base_khz:
        (freq / "base_frequency").write_text(f"{base_khz}\n")
    if dev_kvm:
        (tmp_path / "dev").mkdir()
        (tmp_path / "dev/kvm").write_text("")
    return str(tmp_path)


@pytest.mark.parametrize(
    "model, ghz",
    [
        ("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz", 2.5),
        ("Intel(R) Xeon(R) CPU E5-2620 v4 @ 2.10GHz", 2.1),
        ("Intel(R) Pentium(R) III CPU 800MHz", 0.8),
        ("AMD EPYC 7543 32-Core Processor", None),
        ("QEMU Virtual CPU version 2.5+", None),  # a version, not a clock
        ("Common KVM processor", None),
        ("", None),
    ],
)
def test_model_clock_needs_a_unit(model, ghz):
    assert cpuinfo.model_clock_ghz(model) == ghz


def test_clock_of_a_xeon_vm_comes_from_its_model_name(tmp_path):
    facts = cpuinfo.clock(cpu_tree(tmp_path, "cpuinfo-xeon-gold-vmware-guest.txt"))
    assert facts["model_ghz"] == 2.5
    assert facts["mhz"] == pytest.approx(2494.14)
    assert facts["x86_64"] is True and facts["machine"] is None  # a tree: from `lm`
    assert facts["max_khz"] is None and facts["base_khz"] is None


def test_clock_of_an_epyc_host_has_cpufreq_but_no_clock_in_its_name(tmp_path):
    root = cpu_tree(tmp_path, "cpuinfo-epyc-7543-host.txt", max_khz=2800000)
    facts = cpuinfo.clock(root)
    assert facts["model_ghz"] is None
    assert facts["max_khz"] == 2800000
    assert facts["vendor_id"] == "AuthenticAMD"


def test_arm64_is_not_x86_64(tmp_path):
    facts = cpuinfo.clock(cpu_tree(tmp_path, "cpuinfo-arm64-neoverse.txt"))
    assert facts["x86_64"] is False
    assert facts["mhz"] is None and facts["model_ghz"] is None


def test_a_32_bit_x86_cpu_is_not_x86_64(tmp_path):
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/cpuinfo").write_text(
        "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Atom(TM) CPU N270 "
        "@ 1.60GHz\nflags\t\t: fpu vme de pse tsc msr pae\n\n"
    )
    assert cpuinfo.clock(str(tmp_path))["x86_64"] is False


def test_clock_reads_only_the_first_processor(tmp_path):
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/cpuinfo").write_text(
        "processor\t: 0\nmodel name\t: A @ 3.00GHz\n\nprocessor\t: 1\nmodel name\t: B @ 1.00GHz\n"
    )
    assert cpuinfo.clock(str(tmp_path))["model_ghz"] == 3.0


def test_empty_cpuinfo_is_an_error(tmp_path):
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/cpuinfo").write_text("\n")
    with pytest.raises(ValueError):
        cpuinfo.clock(str(tmp_path))


@pytest.mark.parametrize(
    "name, flag",
    [
        ("cpuinfo-xeon-e5-2620v4-host.txt", "vmx"),
        ("cpuinfo-epyc-7543-host.txt", "svm"),
        ("cpuinfo-xeon-gold-vmware-guest.txt", None),
        ("cpuinfo-epyc-kvm-guest.txt", None),
        ("cpuinfo-arm64-neoverse.txt", None),
    ],
)
def test_hardware_virtualization_flag(tmp_path, name, flag):
    info = cpuinfo.hardware_virtualization(cpu_tree(tmp_path, name))
    assert info["cpu_flag"] == flag
    # A captured tree has no live /dev: whether /dev/kvm exists is not known.
    assert info["dev_kvm"] is None


def test_dev_kvm_is_read_on_a_live_root(tmp_path):
    root = cpu_tree(tmp_path, "cpuinfo-epyc-7543-host.txt", dev_kvm=True)
    assert cpuinfo.hardware_virtualization(root, live=True)["dev_kvm"] is True
    os.remove(os.path.join(root, "dev/kvm"))
    assert cpuinfo.hardware_virtualization(root, live=True)["dev_kvm"] is False


def test_collect_of_a_tree_carries_the_cpu_facts(tmp_path):
    from wire_preflight.facts import collect

    facts = collect(["/"], root=cpu_tree(tmp_path, "cpuinfo-xeon-e5-2620v4-host.txt"))
    assert facts["cpu_clock"]["model_ghz"] == 2.1
    assert facts["hardware_virtualization"]["cpu_flag"] == "vmx"


# -- the data disk under a filesystem: partitions, LVM, md ---------------------------------------

SYS = os.path.join(FIXTURES, "sysblock")


def backing_of(major, minor):
    from wire_preflight.facts import disks

    return disks.block_device(os.makedev(major, minor), SYS)


def test_virtio_partition_resolves_to_its_disk_and_says_it_is_virtual():
    info = backing_of(252, 1)
    assert info["device"] == "/dev/vda1" and info["disk"] == "/dev/vda"
    (vda,) = info["backing"]
    assert vda["rotational"] is True and vda["driver"] == "virtio_blk"
    assert vda["virtual"] == "virtio-blk (vda)"


def test_lvm_on_an_nvme_partition_resolves_through_the_device_mapper():
    (nvme,) = backing_of(253, 0)["backing"]
    assert nvme["name"] == "nvme0n1" and nvme["rotational"] is False
    assert nvme["virtual"] is None and "Samsung" in nvme["model"]


def test_lvm_on_md_raid_lists_every_member_disk():
    members = backing_of(253, 1)["backing"]
    assert [(d["name"], d["rotational"]) for d in members] == [("sda", False), ("sdb", True)]


def test_emulated_scsi_disk_is_virtual_by_its_vendor():
    from wire_preflight.facts import disks

    sdc = os.path.join(SYS, "devices/pci0000:00/0000:00:05.0/virtio3/host2/target2:0:0/2:0:0:0")
    (disk,) = disks.backing_disks(os.path.join(sdc, "block/sdc"))
    assert disk["rotational"] is False and "QEMU" in disk["virtual"]


@pytest.mark.parametrize(
    "name, vendor, model, driver, virtual",
    [
        ("xvda", None, None, None, True),
        ("sda", "VMware", "Virtual disk", None, True),
        ("sda", "Msft", "Virtual Disk", None, True),
        ("sda", "VBOX", "HARDDISK", None, True),
        ("sda", "ATA", "Samsung SSD 870", None, False),
        ("nvme0n1", None, "QEMU NVMe Ctrl", None, True),
        ("nvme0n1", None, "INTEL SSDPE2KX040T8", None, False),
        ("sdb", None, None, "hv_storvsc", True),
    ],
)
def test_virtual_disk_evidence(name, vendor, model, driver, virtual):
    from wire_preflight.facts import disks

    assert bool(disks.virtual_evidence(name, vendor, model, driver)) is virtual


def test_a_filesystem_without_a_block_device_has_no_backing():
    from wire_preflight.facts import disks

    assert disks.block_device(os.makedev(0, 42), SYS) == {
        "device": None,
        "device_size_bytes": None,
        "disk": None,
    }


# -- apt's locks and unattended-upgrades ---------------------------------------------------------

HOLDER = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # apt's GetLock: fcntl F_SETLK, F_WRLCK
print("locked", flush=True)
sys.stdin.read()
"""


def test_a_lock_held_by_another_process_names_it_and_is_not_taken(tmp_path):
    import subprocess
    import sys

    from wire_preflight.facts import apt

    lock = tmp_path / "lock-frontend"
    lock.write_text("")
    assert apt.lock_holder(str(lock))["held"] is False
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lock)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        universal_newlines=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        found = apt.lock_holder(str(lock))
        assert found["held"] is True and found["pid"] == holder.pid
        assert found["process"]  # /proc/PID/comm of the holder
        # Asking twice changes nothing: the probe took no lock of its own.
        assert apt.lock_holder(str(lock))["pid"] == holder.pid
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)
    assert apt.lock_holder(str(lock))["held"] is False
    assert apt.lock_holder(str(tmp_path / "absent"))["exists"] is False


def test_collect_on_a_tree_reports_settings_not_locks(tmp_path):
    from wire_preflight.facts import apt

    conf = tmp_path / "etc/apt/apt.conf.d"
    conf.mkdir(parents=True)
    (conf / "20auto-upgrades").write_text(
        'APT::Periodic::Update-Package-Lists "1";\nAPT::Periodic::Unattended-Upgrade "1";\n'
    )
    out = apt.collect(str(tmp_path))
    assert out["locks"] is None
    assert out["unattended_upgrades"]["enabled"] is True
    assert out["unattended_upgrades"]["file"] == "/etc/apt/apt.conf.d/20auto-upgrades"


@pytest.mark.parametrize(
    "parts, enabled, value",
    [
        ({}, False, None),
        ({"20auto-upgrades": 'APT::Periodic::Unattended-Upgrade "0";\n'}, False, "0"),
        # A later file (by name) wins, as apt reads the parts in order.
        (
            {
                "20auto-upgrades": 'APT::Periodic::Unattended-Upgrade "1";\n',
                "99-wire-install": 'APT::Periodic::Unattended-Upgrade "0";\n',
            },
            False,
            "0",
        ),
        # Files apt does not read: a dpkg leftover, an extension other than .conf.
        ({"20auto-upgrades.dpkg-old": 'APT::Periodic::Unattended-Upgrade "1";\n'}, False, None),
        ({"50local.conf": 'APT::Periodic::Unattended-Upgrade "7";\n'}, True, "7"),
        # Comments do not count.
        ({"20auto-upgrades": '// APT::Periodic::Unattended-Upgrade "1";\n'}, False, None),
        ({"20auto-upgrades": '# APT::Periodic::Unattended-Upgrade "1";\n'}, False, None),
    ],
)
def test_unattended_upgrades_setting(tmp_path, parts, enabled, value):
    from wire_preflight.facts import apt

    conf = tmp_path / "etc/apt/apt.conf.d"
    conf.mkdir(parents=True)
    for name, text in parts.items():
        (conf / name).write_text(text)
    found = apt.unattended_upgrades(str(tmp_path))
    assert (found["enabled"], found["value"]) == (enabled, value)


# -- /opt/assets --------------------------------------------------------------------------------


def test_assets_usage_counts_blocks_once_per_file(tmp_path):
    from wire_preflight.facts import assets

    base = tmp_path / "opt/assets/debs-jammy/public"
    base.mkdir(parents=True)
    (base / "a.deb").write_bytes(b"x" * 100_000)
    (base / "b.deb").write_bytes(b"y" * 50_000)
    os.link(str(base / "a.deb"), str(base / "a-again.deb"))
    found = assets.usage(str(tmp_path))
    assert found["exists"] and found["complete"] and found["files"] == 2
    assert found["bytes"] >= 150_000
    assert assets.usage(str(tmp_path), max_entries=2)["complete"] is False
    assert assets.usage(str(tmp_path / "nowhere"))["exists"] is False


@pytest.mark.parametrize(
    "change, field",
    [
        ({"apt": "busy"}, "apt"),
        ({"apt": {"locks": "none", "unattended_upgrades": {}}}, "apt.locks"),
        ({"cpu_clock": [2.5]}, "cpu_clock"),
        ({"hardware_virtualization": True}, "hardware_virtualization"),
        ({"assets": 12}, "assets"),
    ],
)
def test_a_malformed_new_fact_is_refused_naming_its_field(base_facts, change, field):
    import copy

    from wire_preflight.facts.load import validate
    from wire_preflight.model import InputError

    facts = copy.deepcopy(base_facts)
    facts.update(change)
    with pytest.raises(InputError, match=f"field '{field}'"):
        validate(facts, "f.json")


def test_a_malformed_disk_backing_is_refused(base_facts):
    import copy

    from wire_preflight.facts.load import validate
    from wire_preflight.model import InputError

    facts = copy.deepcopy(base_facts)
    facts["disks"][0]["backing"] = ["vda"]
    with pytest.raises(InputError, match=r"disks\[0\].backing"):
        validate(facts, "f.json")
    validate(base_facts, "f.json")  # the fixture itself is fine
