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
