"""Each component's own host requirements, judged on facts."""

import copy

import pytest
from helpers import GIB, judge, minio_facts, one, results_for, with_changes
from wire_preflight.model import ERROR, FAIL, PASS, WARN


def tuned(facts, **settings):
    out = copy.deepcopy(facts)
    for name, value in settings.items():
        out["tunables"][name.replace("__", ".")]["value"] = value
    return out


def kube_facts(base):
    facts = with_changes(base, cpu__logical_count=6, memory__installed_bytes=8 * GIB)
    facts["disks"][0]["path"] = "/var/lib/containerd"
    return facts


def test_prepared_cassandra_vm_passes_everything(base_facts):
    results = judge(base_facts, ["cassandra"])
    assert [r for r in results if r.status != PASS] == []
    for check_id in (
        "swap",
        "vm-max-map-count",
        "thp",
        "zone-reclaim",
        "nofile",
        "nproc",
        "memlock",
        "ports",
        "time-sync",
    ):
        assert one(results, check_id, "cassandra").source


def test_checks_apply_only_to_the_roles_that_need_them(base_facts):
    results = judge(base_facts, ["admin"], data_dirs={"admin": "/var/lib/cassandra"})
    ids = {r.id for r in results}
    assert "vm-max-map-count" not in ids and "ports" not in ids and "nofile" not in ids
    assert "time-sync" in ids and "ip-static" in ids


def test_swap_fails_kubernetes_and_warns_cassandra(base_facts):
    facts = with_changes(base_facts)
    facts["tunables"]["swaps"]["value"] = [
        {"device": "/swap.img", "type": "file", "size_bytes": 2 * GIB}
    ]
    assert one(judge(facts, ["cassandra"]), "swap").status == WARN
    kube = kube_facts(facts)
    kube["tunables"]["swaps"] = facts["tunables"]["swaps"]
    result = one(judge(kube, ["kubernetes"]), "swap")
    assert result.status == FAIL and "swapoff -a" in result.remedy


@pytest.mark.parametrize("value,status", [(65530, FAIL), (262144, WARN), (1048576, PASS)])
def test_max_map_count_for_elasticsearch(base_facts, value, status):
    facts = tuned(base_facts, vm__max_map_count=value)
    facts["disks"][0]["path"] = "/var/lib/elasticsearch"
    assert one(judge(facts, ["elasticsearch"]), "vm-max-map-count").status == status


def test_max_map_count_for_cassandra_only_warns(base_facts):
    result = one(
        judge(tuned(base_facts, vm__max_map_count=65530), ["cassandra"]), "vm-max-map-count"
    )
    assert result.status == WARN and "1048575" in result.remedy


def test_unreadable_setting_is_an_error(base_facts):
    facts = with_changes(base_facts)
    facts["tunables"]["vm.zone_reclaim_mode"] = {
        "error": "Permission denied reading /proc/sys/vm/zone_reclaim_mode",
        "file": "/proc/sys/vm/zone_reclaim_mode",
    }
    result = one(judge(facts, ["cassandra"]), "zone-reclaim")
    assert result.status == ERROR and "Permission denied" in result.message


def test_thp_and_zone_reclaim(base_facts):
    facts = tuned(base_facts, transparent_hugepage__enabled="always", vm__zone_reclaim_mode=1)
    results = judge(facts, ["cassandra"])
    assert one(results, "thp").status == WARN
    assert one(results, "zone-reclaim").status == WARN


def test_kubernetes_kernel_settings(base_facts):
    facts = kube_facts(base_facts)
    results = judge(facts, ["kubernetes"])
    assert one(results, "ip-forward").status == FAIL
    assert one(results, "br-netfilter").status == WARN
    facts = tuned(facts, net__ipv4__ip_forward=1)
    facts["tunables"]["net.bridge.bridge-nf-call-iptables"] = {"value": 1, "file": "x"}
    results = judge(facts, ["kubernetes"])
    assert one(results, "ip-forward").status == PASS
    assert one(results, "br-netfilter").status == PASS


def test_limits_of_an_installed_service_below_threshold_fail(base_facts):
    facts = with_changes(base_facts)
    facts["limits"]["services"]["elasticsearch"] = {
        "unit_file": "/lib/systemd/system/elasticsearch.service",
        "files": [],
        "limits": {
            "nofile": {
                "raw": "4096",
                "soft": 4096,
                "file": "/lib/systemd/system/elasticsearch.service",
            }
        },
    }
    facts["disks"][0]["path"] = "/var/lib/elasticsearch"
    result = one(judge(facts, ["elasticsearch"]), "nofile")
    assert result.status == FAIL
    assert "LimitNOFILE=4096 in /lib/systemd/system/elasticsearch.service" in result.message
    assert "LimitNOFILE=65535" in result.remedy


def test_limits_of_a_service_not_installed_only_warn_and_say_so(base_facts):
    facts = with_changes(base_facts)
    facts["disks"][0]["path"] = "/var/lib/elasticsearch"
    result = one(judge(facts, ["elasticsearch"]), "nofile")
    assert result.status == WARN
    assert "not installed yet" in result.message and result.observed == "1024"


def test_memlock_must_be_unlimited(base_facts):
    facts = with_changes(base_facts)
    facts["limits"]["services"]["cassandra"]["limits"]["memlock"]["soft"] = 65536
    assert one(judge(facts, ["cassandra"]), "memlock").status == WARN


def listener(port, process, proto="tcp"):
    return {"proto": proto, "address": "0.0.0.0", "port": port, "pid": 4242, "process": process}


def test_ports_taken_by_another_program_fail(base_facts):
    facts = with_changes(base_facts)
    facts["listeners"].append(listener(9042, "nginx"))
    result = one(judge(facts, ["cassandra"]), "ports")
    assert result.status == FAIL and "9042/tcp (nginx)" in result.observed


def test_ports_held_by_the_component_itself_pass(base_facts):
    facts = with_changes(base_facts)
    facts["listeners"] += [listener(9042, "java"), listener(7000, "java")]
    result = one(judge(facts, ["cassandra"]), "ports")
    assert result.status == PASS and "held by cassandra itself" in result.message


def test_turn_ports(base_facts):
    facts = with_changes(base_facts)
    facts["listeners"].append(listener(5349, "nginx"))
    facts["disks"][0]["path"] = "/"
    assert one(judge(facts, ["restund"]), "ports").status == WARN
    facts["listeners"].append(listener(3478, "dnsmasq", "udp"))
    result = one(judge(facts, ["restund"]), "ports")
    assert result.status == FAIL and "3478/udp" in result.observed


def test_tools(base_facts):
    facts = kube_facts(base_facts)
    result = one(judge(facts, ["kubernetes"]), "tools")
    assert result.status == WARN and "socat" in result.observed  # recommended only
    facts["tools"]["nsenter"] = None
    result = one(judge(facts, ["kubernetes"]), "tools")
    assert result.status == FAIL and "util-linux" in result.remedy


@pytest.mark.parametrize(
    "disk,fstype,status",
    [
        ("/dev/vdb", "xfs", PASS),
        ("/dev/vdb", "ext4", WARN),
        ("/dev/vda", "xfs", FAIL),
        ("/dev/vdb", "nfs4", FAIL),
    ],
)
def test_minio_drive(base_facts, disk, fstype, status):
    result = one(judge(minio_facts(base_facts, disk, fstype), ["minio"]), "minio-drive")
    assert result.status == status, result


def test_minio_drive_needs_the_root_filesystem_in_the_facts(base_facts):
    facts = minio_facts(base_facts)
    facts["disks"] = facts["disks"][1:]
    assert one(judge(facts, ["minio"]), "minio-drive").status == ERROR


def test_ignore_works_for_host_checks(base_facts):
    facts = tuned(kube_facts(base_facts), net__ipv4__ip_forward=0)
    result = one(judge(facts, ["kubernetes"], ignore=["ip-forward"]), "ip-forward")
    assert result.status == WARN and result.message.startswith("(ignored fail)")


def test_facts_from_an_older_agent_give_errors_not_tracebacks(base_facts):
    facts = with_changes(base_facts)
    for key in ("tunables", "limits", "listeners", "tools", "time", "network_config"):
        del facts[key]
    results = judge(facts, ["cassandra"])
    for check_id in ("swap", "nofile", "ports", "time-sync"):
        assert {r.status for r in results_for(results, check_id)} == {ERROR}, check_id


# -- the current profile -------------------------------------------------------------------------


def test_current_profile_table():
    from wire_preflight import profiles
    from wire_preflight.plan.vms import fleet_plan

    current = profiles.load("current")
    assert current.os_versions == ["22.04"]
    assert {"postgresql", "rabbitmq", "calling-kubernetes"} <= set(current.roles)
    assert "restund" not in current.roles
    assert fleet_plan(current)["fleet_total"]["vms"] == 23
    assert fleet_plan(current)["notes"] == []  # its stated 23 matches its table


def test_jammy_passes_current_and_classic_names_current(base_facts):
    from wire_preflight import profiles

    facts = with_changes(
        base_facts, os__version_id="22.04", memory__installed_bytes=2 * GIB, cpu__logical_count=1
    )
    assert one(judge(facts, ["cassandra"], profile="current"), "os").status == PASS
    classic = one(judge(facts, ["cassandra"], os_alternatives=profiles.os_alternatives()), "os")
    assert classic.status == WARN and "--profile current" in classic.message


def test_built_in_profiles_name_their_roles_for_the_os_check():
    from wire_preflight import profiles

    alternatives = profiles.os_alternatives()
    assert alternatives["wiab"].roles == ("wiab",)
    assert "cassandra" in alternatives["current"].roles
    assert alternatives["current"].versions == ["22.04"]
    for name in profiles.builtin_names():
        assert set(alternatives[name].roles) == set(profiles.load(name).roles), name


def test_noble_suggests_no_profile_to_a_cassandra_vm_but_wiab_to_its_own_role(base_facts):
    from wire_preflight import profiles

    facts = with_changes(base_facts, os__version_id="24.04")
    classic = one(judge(facts, ["cassandra"], os_alternatives=profiles.os_alternatives()), "os")
    assert classic.status == WARN and "--profile wiab" not in classic.message
    assert "no built-in profile has the role cassandra on ubuntu 24.04" in classic.message
    # A wiab VM on 22.04: current names the release but has no wiab role.
    jammy = with_changes(base_facts, os__version_id="22.04")
    alternatives = profiles.os_alternatives()
    wiab = one(judge(jammy, ["wiab"], profile="wiab", os_alternatives=alternatives), "os")
    assert "--profile current" not in wiab.message
    assert "current has this release, but not the role wiab" in wiab.message
    assert wiab.remedy.startswith("install ubuntu 24.04")


def test_calling_cluster_runs_kubernetes_and_turn_checks(base_facts):
    facts = with_changes(
        base_facts, cpu__logical_count=4, memory__installed_bytes=10 * GIB, os__version_id="22.04"
    )
    facts["disks"][0]["path"] = "/var/lib/containerd"
    results = judge(facts, ["calling-kubernetes"], profile="current", sft_users=200)
    assert one(results, "cpu").evidence["required"] == 6
    ports = results_for(results, "ports", "calling-kubernetes")
    assert len(ports) == 2  # kubernetes' ports and TURN's


# -- the runner: ids come from the registry ------------------------------------------------------


def test_results_carry_the_registry_id_role_and_source(base_facts):
    from wire_preflight import profiles

    host = profiles.load("classic").host
    swap = one(judge(base_facts, ["cassandra"]), "swap")
    assert (swap.id, swap.role, swap.source) == ("swap", "cassandra", host["swap"]["source"])


def test_a_result_with_another_checks_id_is_refused(base_facts, monkeypatch):
    from wire_preflight.checks import system

    def wrong_id(context):
        return [
            context._replace(check_id="os").result(
                PASS, observed="x", expected="x", message="made under the wrong id"
            )
        ]

    monkeypatch.setattr(system, "check_hostname", wrong_id)
    with pytest.raises(AssertionError, match="check hostname made a result with id 'os'"):
        judge(base_facts, ["cassandra"])


def test_every_registered_check_function_exists():
    from wire_preflight import checks

    for check in checks.REGISTRY:
        assert callable(checks.function(check)), check
    assert len(set(checks.check_ids())) == len(checks.REGISTRY)
