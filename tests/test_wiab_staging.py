"""The wiab-staging profile: wire-server-deploy's WIAB staging plan (offline/wiab-staging.md,
ansible/inventory/offline/staging.yml at 682349dc), seven VMs on one physical machine."""

import pytest
from helpers import FIXTURES, GIB, judge, one, results_for, with_changes
from wire_preflight import profiles
from wire_preflight.fleet import inventory
from wire_preflight.model import ERROR, FAIL, PASS, SKIP, InputError
from wire_preflight.plan import vms as plan
from wire_preflight.render.tables import plan_lines

STAGING_INVENTORY = f"{FIXTURES}/wire-server-deploy/682349dc/ansible/inventory/offline/staging.yml"


@pytest.fixture(scope="module")
def staging():
    return profiles.load("wiab-staging")


def test_the_plan_adds_up_to_the_stated_totals(staging):
    # wiab-staging.md: 7 VMs; "55 GiB" RAM, "29" vCPUs, "850 GB" disk, derived from the rows.
    doc = plan.fleet_plan(staging)
    total = doc["fleet_total"]
    assert (total["vms"], total["cores"], total["memory_gib"], total["disk_gb"]) == (7, 29, 55, 850)
    assert total["memory_gb"] == pytest.approx(55 * GIB / 1e9)
    adminhost = staging.role("adminhost")
    assert (adminhost.cores, adminhost.memory_gib, adminhost.disk_gb) == (29, 55, 850)
    assert adminhost.carries == ("asset", "kubernetes", "datanode")
    # The stated 7 VMs is what the table adds up to: the one note is the machine's.
    assert [n.split(":")[0] for n in doc["notes"]] == ["adminhost"]
    assert "At least processor 6 cores" in doc["notes"][0]


def test_a_carried_row_changed_changes_the_machine_it_rides_on(tmp_path):
    with open(profiles.resolve("wiab-staging")) as handle:
        text = handle.read()
    start = text.index("[roles.kubernetes]")
    row = text[start : text.index("[roles.datanode]")]
    text = (
        text[:start]
        + row.replace("vms = 3", "vms = 4").replace("cores = 5", "cores = 6")
        + (text[start + len(row) :])
    )
    assert "vms = 4\ncores = 6" in text
    path = tmp_path / "staging.toml"
    path.write_text(text)
    edited = profiles.load(str(path))
    assert edited.role("adminhost").cores == 2 + 4 * 6 + 3 * 4


@pytest.mark.parametrize(
    "spec,words",
    [
        ('carries = ["nope"]', "roles.m.carries[0]' names 'nope'"),
        ('carries = ["a"]\ncores = 3', "roles.m.cores' is added up"),
    ],
)
def test_carries_is_checked_when_loaded(tmp_path, spec, words):
    path = tmp_path / "p.toml"
    path.write_text(
        'schema = 1\nname = "p"\n[os]\nid = "ubuntu"\nversions = ["22.04"]\n'
        "[units]\nbytes_per_gb = 1e9\nmemtotal_allowance = 0.08\nfilesystem_allowance = 0.05\n"
        "disk_free_warn_fraction = 0.1\n[roles.a]\nvms = 2\ncores = 1\nmemory_gib = 2\n"
        f"disk_gb = 10\n[roles.m]\nvms = 1\n{spec}\n"
    )
    with pytest.raises(InputError) as failed:
        profiles.load(str(path))
    assert words in str(failed.value)


def staging_vm(base, cores, gib, disk_gb, version="22.04"):
    facts = with_changes(
        base,
        os__version_id=version,
        cpu__logical_count=cores,
        memory__installed_bytes=int(gib * GIB),
        memory__total_bytes=int(gib * GIB * 0.96),
    )
    facts["disks"] = [
        dict(d, total_bytes=int(disk_gb * 1e9), free_bytes=int(disk_gb * 0.9e9))
        for d in base["disks"]
    ]
    return facts


@pytest.mark.parametrize(
    "role,cores,gib,disk",
    [("asset", 2, 4, 100), ("kubernetes", 5, 9, 150), ("datanode", 4, 8, 100)],
)
def test_each_vm_as_the_table_sizes_it_passes_and_a_step_smaller_fails(
    base_facts, role, cores, gib, disk
):
    for path in ("/", "/opt/assets", "/var/lib/containerd"):
        base_facts["disks"].append(dict(base_facts["disks"][0], path=path))
    exact = judge(staging_vm(base_facts, cores, gib, disk), [role], profile="wiab-staging")
    for check_id in ("os", "cpu", "memory", "disk"):
        assert one(exact, check_id).status == PASS, one(exact, check_id)
    # The plan states GiB: a VM given the same number of GB (less than that many GiB) fails.
    smaller = judge(
        staging_vm(base_facts, cores - 1, gib * 1e9 / GIB, disk * 0.9), [role], "wiab-staging"
    )
    for check_id in ("cpu", "memory", "disk"):
        assert one(smaller, check_id).status == FAIL, one(smaller, check_id)


def test_a_data_node_carries_every_data_services_host_requirements(base_facts):
    results = judge(staging_vm(base_facts, 4, 8, 100), ["datanode"], profile="wiab-staging")
    map_counts = results_for(results, "vm-max-map-count")
    assert len(map_counts) == 2  # cassandra's and elasticsearch's thresholds, each judged
    ports = " ".join(r.expected for r in results_for(results, "ports"))
    for port in ("9042", "5432", "9200", "9000", "5672"):
        assert port in ports
    # The plan gives MinIO no drive of its own: sharing the data node's disk only warns.
    assert one(results, "minio-drive").status != FAIL


def test_the_physical_machine_must_carry_the_seven_vms(base_facts):
    small = staging_vm(base_facts, 16, 32, 500)
    small["hardware_virtualization"] = {"cpu_flag": "vmx", "dev_kvm": True}
    small["disks"].append(dict(small["disks"][0], path="/var/lib/libvirt/images"))
    results = judge(small, ["adminhost"], profile="wiab-staging")
    assert one(results, "cpu").status == FAIL and ">= 29 cores" in one(results, "cpu").expected
    assert one(results, "memory").status == FAIL
    assert one(results, "disk").status == FAIL
    assert one(results, "vm-host").status == PASS
    big = staging_vm(base_facts, 32, 64, 1000)
    big["disks"].append(dict(big["disks"][0], path="/var/lib/libvirt/images"))
    big["hardware_virtualization"] = {"cpu_flag": "svm", "dev_kvm": True}
    results = judge(big, ["adminhost"], profile="wiab-staging")
    for check_id in ("cpu", "memory", "disk", "vm-host"):
        assert one(results, check_id).status == PASS, one(results, check_id)
    assert "1 asset, 3 kubernetes, 3 datanode" in one(results, "vm-host").message


@pytest.mark.parametrize(
    "virt,status,words",
    [
        ({"cpu_flag": None, "dev_kvm": False, "hypervisor_flag": True}, FAIL, "passed through"),
        ({"cpu_flag": "vmx", "dev_kvm": False}, FAIL, "/dev/kvm is missing"),
        ({"cpu_flag": "svm", "dev_kvm": None}, SKIP, "live host"),
        (None, ERROR, "hardware_virtualization"),
        ("absent", SKIP, "older agent"),
    ],
)
def test_hardware_virtualisation(base_facts, virt, status, words):
    facts = staging_vm(base_facts, 32, 64, 1000)
    facts.pop("hardware_virtualization", None)  # the fixture's own reading
    if virt != "absent":
        # None: the agent could not read it; "absent": facts of an agent older than the fact.
        facts["hardware_virtualization"] = virt
    result = one(judge(facts, ["adminhost"], profile="wiab-staging"), "vm-host")
    assert result.status == status and words in result.message, result


def test_vm_rules_of_the_plan_apply(base_facts):
    facts = staging_vm(base_facts, 5, 9, 150)
    facts["tunables"]["net.ipv4.ip_forward"] = {"value": 0, "file": "/proc/sys/net/ipv4/ip_forward"}
    results = judge(facts, ["kubernetes"], profile="wiab-staging")
    assert one(results, "ip-forward").status == FAIL
    assert results_for(results, "host-firewall")  # no host firewall may interfere
    assert results_for(results, "br-netfilter")


def test_the_staging_inventory_maps_every_vm(staging):
    planned = inventory.planned_hosts(
        inventory.load(STAGING_INVENTORY),
        staging.inventory_groups,
        staging.etcd_group,
        staging.interface_vars,
    )
    roles = {p["name"]: p["roles"] for p in planned}
    assert roles == {
        "assethost": ["asset"],
        "kubenode1": ["kubernetes"],
        "kubenode2": ["kubernetes"],
        "kubenode3": ["kubernetes"],
        "datanode1": ["datanode"],
        "datanode2": ["datanode"],
        "datanode3": ["datanode"],
    }
    assert sorted(p["name"] for p in planned if p["etcd"]) == [
        "kubenode1",
        "kubenode2",
        "kubenode3",
    ]
    assert {p["name"]: p["interface"] for p in planned if p["interface"]} == {
        f"datanode{n}": "enp1s0" for n in (1, 2, 3)
    }


def test_plan_text_for_the_staging_machine(staging):
    lines = plan_lines(plan.fleet_plan(staging), "wiab-staging", 0)
    text = "\n".join(lines)
    assert "fleet (without standalone roles): 7 VMs, 29 cores, 55 GiB" in text
    assert "adminhost carries 1 asset, 3 kubernetes, 3 datanode: 29 cores" in text
    assert "per physical server" not in text  # no role on every server of several


def test_memory_is_said_in_the_plans_gib(base_facts):
    result = one(judge(staging_vm(base_facts, 4, 6, 100), ["datanode"], "wiab-staging"), "memory")
    assert result.status == FAIL
    assert result.expected.startswith("8 GiB (8.59 GB): ")
    assert "the plan asks 8 GiB" in result.message
    machine = judge(staging_vm(base_facts, 8, 16, 100), ["adminhost"], "wiab-staging")
    assert "machine with at least 29 CPUs" in one(machine, "cpu").remedy
    assert one(machine, "memory").expected.startswith("55 GiB (59.06 GB)")
