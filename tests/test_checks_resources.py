"""The size checks on facts of VMs provisioned exactly as the table says, and a step smaller."""

import pytest
from helpers import DELETE, GIB, judge, with_changes
from wire_preflight.model import ERROR, FAIL, PASS, WARN


def result(results, check_id):
    found = [r for r in results if r.id == check_id]
    assert len(found) == 1, found
    return found[0]


def disk_facts(base, total_bytes, path="/var/lib/cassandra"):
    disk = dict(base["disks"][0], path=path, total_bytes=total_bytes, free_bytes=total_bytes // 2)
    return with_changes(base, disks=[disk])


# -- memory: installed RAM where the kernel shows it -------------------------------------------


def test_4gib_vm_passes_4gb_role(base_facts):
    assert result(judge(base_facts, ["cassandra"]), "memory").status == PASS


def test_3gib_vm_fails_4gb_role(base_facts):
    facts = with_changes(
        base_facts, memory__installed_bytes=3 * GIB, memory__total_bytes=3029800 * 1024
    )
    memory = result(judge(facts, ["cassandra"]), "memory")
    assert memory.status == FAIL
    assert "4 GB" in memory.remedy
    assert memory.evidence["basis"] == "installed RAM"


def test_7gib_vm_fails_8gb_role(base_facts):
    facts = with_changes(base_facts, memory__installed_bytes=7 * GIB, cpu__logical_count=8)
    assert result(judge(facts, ["kubernetes"]), "memory").status == FAIL


# -- memory: MemTotal only (no /sys/devices/system/memory) --------------------------------------


def test_memtotal_of_4gib_vm_passes(base_facts):
    # 3.85 GiB MemTotal: what a "4 GB" hypervisor VM shows.
    facts = with_changes(base_facts, memory__installed_bytes=DELETE)
    memory = result(judge(facts, ["cassandra"]), "memory")
    assert memory.status == PASS
    assert memory.evidence["basis"] == "MemTotal"


def test_memtotal_of_4e9_byte_cloud_vm_passes(base_facts):
    # A cloud "4 GB" of 4e9 bytes keeps about 3.55 GiB after the kernel's reservations.
    facts = with_changes(
        base_facts, memory__installed_bytes=DELETE, memory__total_bytes=int(3.55 * GIB)
    )
    assert result(judge(facts, ["cassandra"]), "memory").status == PASS


def test_memtotal_of_3gib_vm_fails(base_facts):
    facts = with_changes(
        base_facts, memory__installed_bytes=DELETE, memory__total_bytes=3029800 * 1024
    )
    assert result(judge(facts, ["cassandra"]), "memory").status == FAIL


def test_memtotal_threshold_edges(base_facts):
    # 4 GB with an 8% allowance: 3.68e9 bytes. One byte below fails, exactly at passes.
    threshold = int(4 * 1e9 * (1 - 0.08))
    at = with_changes(base_facts, memory__installed_bytes=DELETE, memory__total_bytes=threshold)
    below = with_changes(at, memory__total_bytes=threshold - 1)
    assert result(judge(at, ["cassandra"]), "memory").status == PASS
    assert result(judge(below, ["cassandra"]), "memory").status == FAIL


# -- disk ---------------------------------------------------------------------------------------


def test_80e9_byte_disk_passes_80gb_role(base_facts):
    # ext4 on an 80e9-byte disk reports about 78.7e9 bytes of filesystem.
    assert result(judge(base_facts, ["cassandra"]), "disk").status == PASS


def test_80gib_disk_passes(base_facts):
    facts = disk_facts(base_facts, int(80 * GIB * 0.985))
    assert result(judge(facts, ["cassandra"]), "disk").status == PASS


@pytest.mark.parametrize("disk_bytes", [70 * 10**9, 70 * GIB], ids=["70e9", "70GiB"])
def test_70gb_disk_fails_80gb_role(base_facts, disk_bytes):
    facts = disk_facts(base_facts, int(disk_bytes * 0.985))
    disk = result(judge(facts, ["cassandra"]), "disk")
    assert disk.status == FAIL
    assert "80 GB" in disk.remedy


def test_disk_nearly_full_warns(base_facts):
    facts = with_changes(base_facts)
    facts["disks"][0]["free_bytes"] = facts["disks"][0]["total_bytes"] // 20
    disk = result(judge(facts, ["cassandra"]), "disk")
    assert disk.status == WARN
    assert "free" in disk.message


def test_two_roles_on_one_filesystem_need_the_sum(base_facts):
    # cassandra 80 + elasticsearch 60 on the same 80 GB root filesystem: not enough.
    es_disk = dict(base_facts["disks"][0], path="/var/lib/elasticsearch")
    facts = with_changes(base_facts, disks=[base_facts["disks"][0], es_disk])
    disk = result(judge(facts, ["cassandra", "elasticsearch"]), "disk")
    assert disk.status == FAIL
    assert disk.role == "cassandra+elasticsearch"
    assert "140 GB" in disk.expected


def test_two_roles_on_separate_filesystems_judged_apart(base_facts):
    es_disk = dict(
        base_facts["disks"][0],
        path="/var/lib/elasticsearch",
        mountpoint="/var/lib/elasticsearch",
        device="/dev/vdb1",
        total_bytes=int(60e9 * 0.985),
    )
    facts = with_changes(base_facts, disks=[base_facts["disks"][0], es_disk], cpu__logical_count=3)
    facts["memory"]["installed_bytes"] = 6 * GIB
    results = judge(facts, ["cassandra", "elasticsearch"])
    disks = [r for r in results if r.id == "disk"]
    assert [d.status for d in disks] == [PASS, PASS]
    assert {d.role for d in disks} == {"cassandra", "elasticsearch"}


def test_data_dir_missing_from_facts_is_an_error(base_facts):
    results = judge(base_facts, ["cassandra"], data_dirs={"cassandra": "/srv/cassandra"})
    disk = result(results, "disk")
    assert disk.status == ERROR
    assert "/srv/cassandra" in disk.message


# -- cpu, sums, sft -----------------------------------------------------------------------------


def test_cores(base_facts):
    assert result(judge(base_facts, ["cassandra"]), "cpu").status == PASS
    one = with_changes(base_facts, cpu__logical_count=1)
    assert result(judge(one, ["cassandra"]), "cpu").status == FAIL


def test_two_roles_need_the_sum_of_cores_and_memory(base_facts):
    # cassandra (2 cores, 4 GB) + minio (1 core, 2 GB) = 3 cores, 6 GB.
    results = judge(base_facts, ["cassandra", "minio"], data_dirs={"minio": "/var/lib/cassandra"})
    assert result(results, "cpu").status == FAIL
    assert result(results, "cpu").evidence["required"] == 3
    assert result(results, "memory").status == FAIL


@pytest.mark.parametrize("users,cores", [(0, 6), (1, 7), (100, 7), (101, 8), (250, 9)])
def test_sft_adds_a_core_per_started_100_users_on_kubernetes(base_facts, users, cores):
    facts = with_changes(base_facts, cpu__logical_count=cores, memory__installed_bytes=8 * GIB)
    facts["disks"][0]["path"] = "/var/lib/containerd"
    results = judge(facts, ["kubernetes"], sft_users=users)
    assert result(results, "cpu").status == PASS
    assert result(results, "cpu").evidence["required"] == cores
    short = with_changes(facts, cpu__logical_count=cores - 1)
    assert result(judge(short, ["kubernetes"], sft_users=users), "cpu").status == FAIL


def test_sft_does_not_touch_cassandra(base_facts):
    results = judge(base_facts, ["cassandra"], sft_users=500)
    assert result(results, "cpu").evidence["required"] == 2


# -- unreadable facts and --ignore --------------------------------------------------------------


def test_unreadable_memory_is_an_error_with_the_reason(base_facts):
    facts = with_changes(base_facts, memory=None, errors={"memory": "Permission denied"})
    memory = result(judge(facts, ["cassandra"]), "memory")
    assert memory.status == ERROR
    assert "Permission denied" in memory.message


def test_mistyped_fact_becomes_an_error_not_a_traceback(base_facts):
    facts = with_changes(base_facts, cpu={"logical_count": "two"})
    assert result(judge(facts, ["cassandra"]), "cpu").status == ERROR


def test_ignore_turns_failure_into_warning(base_facts):
    facts = with_changes(base_facts, cpu__logical_count=1)
    cpu = result(judge(facts, ["cassandra"], ignore=["cpu"]), "cpu")
    assert cpu.status == WARN
    assert cpu.message.startswith("(ignored fail)")
