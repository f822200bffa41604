"""Issue 21's host checks, judged on captured-style facts: the pending production plan's
cpu-clock, virtualization and disk-rotational (warnings in the current profile only), apt-lock
on every host, assets-headroom on the asset host, and time-sync on every role of every profile."""

import copy

import pytest
from helpers import judge, one, results_for
from wire_preflight import profiles
from wire_preflight.model import ERROR, FAIL, PASS, SKIP, WARN

GB = 1_000_000_000


def facts_with(base, **areas):
    out = copy.deepcopy(base)
    for key, value in areas.items():
        out[key] = value
    return out


def clock(**fields):
    base = {
        "machine": "x86_64",
        "x86_64": True,
        "vendor_id": "GenuineIntel",
        "model_name": "",
        "model_ghz": None,
        "mhz": None,
        "base_khz": None,
        "max_khz": None,
    }
    base.update(fields)
    return base


def current(facts, roles=("cassandra",), **kw):
    return judge(facts, list(roles), profile="current", **kw)


# -- which profile asks what --------------------------------------------------------------------


def test_pending_plan_rules_are_in_current_only(base_facts):
    classic = {r.id for r in judge(base_facts, ["cassandra"])}
    assert not classic & {"cpu-clock", "virtualization", "disk-rotational"}
    now = {r.id for r in current(base_facts)}
    assert {"cpu-clock", "virtualization", "disk-rotational", "apt-lock"} <= now
    for result in current(base_facts):
        if result.id in ("cpu-clock", "virtualization", "disk-rotational"):
            assert "PR #99" in result.source and "pending" in result.source


@pytest.mark.parametrize("name", profiles.builtin_names())
def test_time_sync_and_apt_lock_judge_every_role_of_every_profile(base_facts, name):
    profile = profiles.load(name)
    for role in profile.roles:
        results = judge(base_facts, [role], profile=name, data_dirs={role: "/var/lib/cassandra"})
        sync = one(results, "time-sync")
        assert sync.status == PASS and sync.source, (name, role)
        assert one(results, "apt-lock").status == PASS


def test_time_sync_source_cites_the_playbooks_own_todo():
    host = profiles.load("classic").host
    assert "TODO" in host["time-sync"]["source"] or "all hosts" in host["time-sync"]["source"]


# -- cpu-clock ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields, status, basis",
    [
        (
            {"model_name": "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz", "model_ghz": 2.5},
            PASS,
            "model name",
        ),
        (
            {
                "model_name": "Intel(R) Xeon(R) CPU E5-2620 v4 @ 2.10GHz",
                "model_ghz": 2.1,
                "max_khz": 3000000,
            },
            WARN,
            "model name",
        ),
        (
            {"model_name": "AMD EPYC 7543 32-Core Processor", "max_khz": 2800000},
            PASS,
            "cpuinfo_max_freq",
        ),
        ({"model_name": "AMD EPYC", "mhz": 2596.138}, PASS, "cpu MHz"),
        ({"model_name": "Common KVM processor", "mhz": 2095.0}, WARN, "cpu MHz"),
        ({"model_name": "X", "base_khz": 2400000, "max_khz": 3900000}, WARN, "base_frequency"),
    ],
)
def test_cpu_clock_says_which_figure_it_used(base_facts, fields, status, basis):
    result = one(current(facts_with(base_facts, cpu_clock=clock(**fields))), "cpu-clock")
    assert result.status == status
    assert basis in result.observed
    assert result.expected == "x86-64, >= 2.5 GHz"


def test_cpu_clock_exactly_at_the_threshold_passes(base_facts):
    facts = facts_with(base_facts, cpu_clock=clock(max_khz=2500000))
    assert one(current(facts), "cpu-clock").status == PASS
    facts = facts_with(base_facts, cpu_clock=clock(max_khz=2499000))
    assert one(current(facts), "cpu-clock").status == WARN


def test_cpu_clock_warns_on_arm64_and_skips_without_any_figure(base_facts):
    arm = clock(machine="aarch64", x86_64=False, vendor_id=None)
    result = one(current(facts_with(base_facts, cpu_clock=arm)), "cpu-clock")
    assert result.status == WARN and "aarch64" in result.observed and "AMD64" in result.message
    none = one(current(facts_with(base_facts, cpu_clock=clock())), "cpu-clock")
    assert none.status == SKIP


def test_cpu_clock_never_fails_on_the_clock_now(tmp_path, base_facts):
    """A user's profile may make it a failure; `cpu MHz` (the clock now) still only warns."""
    path = _profile_with(tmp_path, '[cpu-clock]\nseverity = "fail"\nmin_ghz = 2.5\n')
    slow_now = facts_with(base_facts, cpu_clock=clock(mhz=1200.0))
    assert one(judge(slow_now, ["cassandra"], profile=path), "cpu-clock").status == WARN
    rated = facts_with(base_facts, cpu_clock=clock(model_ghz=2.1, model_name="X @ 2.10GHz"))
    assert one(judge(rated, ["cassandra"], profile=path), "cpu-clock").status == FAIL


def _profile_with(tmp_path, host_rules):
    with open(profiles.resolve("classic")) as handle:
        text = handle.read()
    (tmp_path / "rules.toml").write_text("schema = 1\n" + host_rules)
    (tmp_path / "p.toml").write_text('host_requirements = "rules.toml"\n' + text)
    return str(tmp_path / "p.toml")


# -- virtualization -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "info, status, words",
    [
        ({"cpu_flag": "vmx", "dev_kvm": True, "hypervisor_flag": False}, PASS, "VT-x"),
        ({"cpu_flag": "svm", "dev_kvm": True, "hypervisor_flag": True}, PASS, "AMD-V"),
        ({"cpu_flag": "svm", "dev_kvm": None, "hypervisor_flag": False}, PASS, "AMD-V"),
        (
            {"cpu_flag": "vmx", "dev_kvm": False, "hypervisor_flag": False},
            WARN,
            "/dev/kvm is missing",
        ),
        ({"cpu_flag": None, "dev_kvm": False, "hypervisor_flag": True}, WARN, "passed through"),
        ({"cpu_flag": None, "dev_kvm": False, "hypervisor_flag": False}, WARN, "no hardware"),
    ],
)
def test_virtualization(base_facts, info, status, words):
    result = one(current(facts_with(base_facts, hardware_virtualization=info)), "virtualization")
    assert result.status == status
    assert words in result.message
    if status == WARN:
        assert result.remedy


def test_virtualization_in_a_vm_points_at_nested_virtualisation(base_facts):
    info = {"cpu_flag": None, "dev_kvm": False, "hypervisor_flag": True}
    result = one(current(facts_with(base_facts, hardware_virtualization=info)), "virtualization")
    assert "nested" in result.remedy


# -- disk-rotational ----------------------------------------------------------------------------


def disk(name, rotational, virtual=None, vendor=None, model=None):
    return {
        "name": name,
        "rotational": rotational,
        "vendor": vendor,
        "model": model,
        "driver": None,
        "virtual": virtual,
    }


def with_backing(base, *backing):
    facts = copy.deepcopy(base)
    facts["disks"][0]["backing"] = list(backing)
    return facts


def test_nvme_and_sata_ssd_pass(base_facts):
    for backing in (disk("nvme0n1", False), disk("sda", False, model="Samsung SSD 870")):
        result = one(current(with_backing(base_facts, backing)), "disk-rotational", "cassandra")
        assert result.status == PASS and "solid-state" in result.message


def test_spinning_physical_disk_warns_with_the_plans_words(base_facts):
    facts = with_backing(base_facts, disk("sda", True, vendor="ATA", model="ST4000NM0035"))
    result = one(current(facts), "disk-rotational", "cassandra")
    assert result.status == WARN
    assert "spinning" in result.message and "SSD or NVMe" in result.source


def test_md_raid_with_one_spinning_member_warns(base_facts):
    facts = with_backing(base_facts, disk("nvme0n1", False), disk("sdb", True))
    result = one(current(facts), "disk-rotational", "cassandra")
    assert result.status == WARN and "sdb (rotational 1)" in result.observed


def test_a_virtual_disk_never_fails_and_says_what_it_cannot_tell(tmp_path, base_facts):
    path = _profile_with(tmp_path, '[disk-rotational]\ncomponents = { cassandra = "fail" }\n')
    virtio = with_backing(base_facts, disk("vda", True, virtual="virtio-blk (vda)"))
    result = one(judge(virtio, ["cassandra"], profile=path), "disk-rotational")
    assert result.status == WARN
    assert "virtio-blk" in result.message and "hypervisor" in result.message
    claimed_ssd = with_backing(
        base_facts, disk("sda", False, virtual="vendor/model 'QEMU HARDDISK'")
    )
    result = one(judge(claimed_ssd, ["cassandra"], profile=path), "disk-rotational")
    assert result.status == PASS and "not what is under it" in result.message
    real_hdd = with_backing(base_facts, disk("sda", True))
    assert one(judge(real_hdd, ["cassandra"], profile=path), "disk-rotational").status == FAIL


def test_disk_rotational_without_disk_facts(base_facts):
    facts = copy.deepcopy(base_facts)
    del facts["disks"][0]["backing"]  # saved by an older agent
    assert one(current(facts), "disk-rotational", "cassandra").status == SKIP
    facts["disks"][0]["path"] = "/elsewhere"
    assert one(current(facts), "disk-rotational", "cassandra").status == ERROR
    unknown = with_backing(base_facts, disk("sda", None))
    assert one(current(unknown), "disk-rotational", "cassandra").status == SKIP


def test_disk_rotational_applies_to_data_services_not_the_admin_host(base_facts):
    results = current(base_facts, roles=("admin",), data_dirs={"admin": "/var/lib/cassandra"})
    assert results_for(results, "disk-rotational") == []


# -- apt-lock -----------------------------------------------------------------------------------


def apt(enabled=False, held=(), locks=True, value=None):
    paths = ("/var/lib/dpkg/lock-frontend", "/var/lib/dpkg/lock")
    return {
        "unattended_upgrades": {
            "enabled": enabled,
            "value": value if value is not None else ("1" if enabled else "0"),
            "file": "/etc/apt/apt.conf.d/20auto-upgrades",
            "errors": [],
        },
        "locks": [
            {
                "path": p,
                "exists": True,
                "held": p in held,
                "pid": 1719 if p in held else None,
                "process": "unattended-upgr" if p in held else None,
            }
            for p in paths
        ]
        if locks
        else None,
    }


def test_apt_lock_pass_and_warns(base_facts):
    assert one(judge(facts_with(base_facts, apt=apt()), ["cassandra"]), "apt-lock").status == PASS
    held = one(
        judge(
            facts_with(base_facts, apt=apt(True, held=("/var/lib/dpkg/lock-frontend",))),
            ["cassandra"],
        ),
        "apt-lock",
    )
    assert held.status == WARN
    assert "process 1719 (unattended-upgr)" in held.observed
    assert "wait" in held.remedy and "unattended-upgrades" in held.remedy
    enabled = one(judge(facts_with(base_facts, apt=apt(True)), ["cassandra"]), "apt-lock")
    assert enabled.status == WARN and "20auto-upgrades" in enabled.observed


def test_apt_lock_on_a_captured_tree_reports_the_files_only(base_facts):
    result = one(judge(facts_with(base_facts, apt=apt(locks=False)), ["cassandra"]), "apt-lock")
    assert result.status == SKIP and "live host" in result.message
    result = one(
        judge(facts_with(base_facts, apt=apt(True, locks=False)), ["cassandra"]), "apt-lock"
    )
    assert result.status == WARN


def test_apt_lock_unreadable_is_an_error(base_facts):
    facts = facts_with(base_facts, apt=apt())
    facts["apt"]["locks"][0].update(held=None, error="Permission denied")
    result = one(judge(facts, ["cassandra"]), "apt-lock")
    assert result.status == ERROR and "Permission denied" in result.message


def test_new_checks_skip_on_facts_of_an_older_agent(base_facts):
    facts = copy.deepcopy(base_facts)
    for key in ("apt", "cpu_clock", "hardware_virtualization"):
        del facts[key]
    results = current(facts)
    for check_id in ("apt-lock", "cpu-clock", "virtualization"):
        assert one(results, check_id).status == SKIP
    facts["apt"] = None
    facts["errors"] = {"apt": "Permission denied reading /etc/apt/apt.conf.d"}
    assert one(current(facts), "apt-lock").status == ERROR


# -- assets-headroom ----------------------------------------------------------------------------


def asset_facts(base, total_gb, free_gb, assets_gb, exists=True):
    facts = copy.deepcopy(base)
    facts["disks"][0].update(
        path="/opt/assets", total_bytes=int(total_gb * GB), free_bytes=int(free_gb * GB)
    )
    facts["assets"] = {
        "path": "/opt/assets",
        "exists": exists,
        "bytes": int(assets_gb * GB),
        "files": 1200,
        "complete": True,
    }
    return facts


@pytest.mark.parametrize("profile", ["classic", "current"])
@pytest.mark.parametrize(
    "free, held, status",
    [(60, 30, PASS), (30, 30, PASS), (29.9, 30, WARN), (10, 45, WARN), (90, 0, SKIP)],
)
def test_assets_headroom(base_facts, profile, free, held, status):
    facts = asset_facts(base_facts, 100, free, held)
    result = one(judge(facts, ["asset"], profile=profile), "assets-headroom", "asset")
    assert result.status == status
    if status == WARN:
        assert "rm -rvf /opt/assets" in result.remedy and "setup-offline-sources" in result.remedy
        assert "5.24" in result.source


def test_assets_headroom_only_on_the_asset_host(base_facts):
    assert results_for(judge(base_facts, ["cassandra"]), "assets-headroom") == []


def test_assets_headroom_missing_facts(base_facts):
    facts = asset_facts(base_facts, 100, 60, 30)
    facts["disks"] = None
    assert one(judge(facts, ["asset"]), "assets-headroom").status == ERROR
