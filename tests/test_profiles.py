"""Profiles as data: the classic table exactly, and broken profiles named precisely."""

import os

import pytest
from wire_preflight import profiles
from wire_preflight.model import InputError
from wire_preflight.plan.vms import fleet_plan

SEED_TABLE = {
    # role: (vms, cores, memory GB, disk GB), as the installation plan prints it
    "cassandra": (3, 2, 4, 80),
    "minio": (3, 1, 2, 400),
    "elasticsearch": (3, 1, 2, 60),
    "kubernetes": (3, 6, 8, 40),
    "restund": (2, 1, 2, 10),
    "admin": (1, 1, 4, 40),
    "asset": (1, 1, 4, 100),
    "demo": (1, 8, 8, 20),
}


def _classic_text():
    with open(profiles.resolve("classic")) as handle:
        return handle.read()


def test_classic_holds_the_seed_table_exactly():
    profile = profiles.load("classic")
    table = {name: (r.vms, r.cores, r.memory_gb, r.disk_gb) for name, r in profile.roles.items()}
    assert table == SEED_TABLE
    assert profile.os_id == "ubuntu"
    assert profile.os_versions == ["18.04"]
    assert profile.sft_users_per_core == 100
    assert profile.fleet["min_physical_servers"] == 3


def test_per_server_totals_are_derived_from_the_rows():
    plan = fleet_plan(profiles.load("classic"))
    base = plan["per_server"]
    assert (base["cores"], base["memory_gb"], base["disk_gb"]) == (11, 18, 590)
    full = plan["per_server_with_any_server_roles"]
    assert (full["cores"], full["memory_gb"], full["disk_gb"]) == (13, 26, 730)
    assert plan["fleet_total"]["vms"] == 16


def test_plan_applies_sft_to_each_kubernetes_node():
    plan = fleet_plan(profiles.load("classic"), sft_users=300)
    kubernetes = [r for r in plan["roles"] if r["role"] == "kubernetes"][0]
    assert kubernetes["cores"] == 9
    assert plan["per_server"]["cores"] == 14


def test_plan_states_its_own_contradictions():
    notes = " ".join(fleet_plan(profiles.load("classic"))["notes"])
    assert "says 17 VMs" in notes and "adds up to 16" in notes
    assert "redis" in notes
    assert "says 16" not in notes  # the 16 agrees with the table: not a contradiction


def test_changing_a_row_changes_the_totals(tmp_path):
    text = _classic_text().replace("disk_gb = 400", "disk_gb = 500")
    path = tmp_path / "bigger.toml"
    path.write_text(text)
    assert fleet_plan(profiles.load(str(path)))["per_server"]["disk_gb"] == 690


def test_unknown_builtin_profile():
    with pytest.raises(InputError, match=r"unknown profile 'nope'.*classic"):
        profiles.load("nope")


def test_unknown_role_names_the_roles_that_exist():
    with pytest.raises(InputError, match=r"unknown role 'redis'.*cassandra, minio"):
        profiles.load("classic").role("redis")


BROKEN = [
    ("schema = 1\nname = [", "not valid TOML"),
    ("name = 'x'", "field 'schema' is missing"),
    ('replace:cores = 2|cores = "two"', "field 'roles.cassandra.cores' must be"),
    ("replace:cores = 2|cores = true", "field 'roles.cassandra.cores' must be a number"),
    ("replace:cores = 2|cores = -2", "field 'roles.cassandra.cores' must be a positive number"),
    ('replace:placement = "any-server"|placement = "anywhere"', "field 'roles.admin.placement'"),
    ("replace:memtotal_allowance = 0.08|memtotal_allowance = 2", "'units.memtotal_allowance'"),
    ('replace:data_dir = "/var/lib/cassandra"|data_dir = "rel"', "'roles.cassandra.data_dir'"),
    ('replace:versions = ["18.04"]|versions = []', "field 'os.versions'"),
    ('replace:roles = ["kubernetes", "demo"]|roles = ["k8s"]', "field 'sft.roles' names 'k8s'"),
    ("schema = 2\nname = 'x'", "field 'schema' must be 1"),
    # one case (or more) per table: its file, table and key are named
    ("replace:schema = 1|schema = 1\ncolour = 'red'", "field 'colour' is not a known key"),
    ('replace:id = "ubuntu"|id = 18', "field 'os.id' must be a string, got 18"),
    ("replace:bytes_per_gb = 1_000_000_000|bytes_per_gb = '1e9'", "'units.bytes_per_gb' must be"),
    ("replace:users_per_core = 100|users_per_core = 0", "'sft.users_per_core' must be at least 1"),
    (
        'replace:severity = "fail"|severity = "wran"',
        "field 'hostname.severity' must be one of fail, warn, got 'wran'",
    ),
    ('replace:"10.233.0.0/18",|"10.233.0.0/33",', "field 'kubernetes.cidrs[0]' has an invalid"),
    (
        'replace:min_physical_servers = 3|min_physical_servers = "three"',
        "field 'fleet.min_physical_servers' must be an integer, got 'three'",
    ),
    ("replace:etcd_odd = true|etcd_odd = 'yes'", "field 'fleet.etcd_odd' must be true or false"),
    (
        "replace:min_physical_servers = 3|min_physical_server = 3",
        "field 'fleet.min_physical_server' is not a known key",
    ),
    (
        'replace:quorum_roles = ["cassandra"|quorum_roles = ["cassandr"',
        "field 'fleet.quorum_roles' names 'cassandr'",
    ),
    ('replace:kube-node = "kubernetes"|kube-node = "k8s"', "'inventory.groups.kube-node' maps"),
    ('replace:etcd_group = "etcd"|etcd_group = 1', "field 'inventory.etcd_group' must be a"),
    (
        "replace:{ vms = 17, quote|{ vms = '17', quote",
        "field 'plan.stated_vm_totals[0].vms' must be an integer",
    ),
    (
        'replace:{ name = "redis"|{ nam = "redis"',
        "field 'plan.unsized_components[0].name' is missing",
    ),
    ('replace:teams = "the team settings app"|teams = 1', "field 'dns.optional.teams' must be"),
    ("replace:required = [|required = 'nginz' #", "field 'dns.required' must be a list"),
    ("replace:tcp = [9042, 7000]|tcp = [9042, 70000]", "field 'reach[0].tcp[1]' must be a port"),
    ('replace:to = "cassandra"|to = "cassandr"', "field 'reach[0].to' names 'cassandr'"),
    ("replace:vms = 3|vms = 0", "field 'roles.cassandra.vms' must be at least 1"),
    ("replace:title = \"Cassandra\"|titel = 'C'", "field 'roles.cassandra.titel' is not a known"),
]


@pytest.mark.parametrize("edit,message", BROKEN)
def test_broken_profile_names_file_and_field(tmp_path, edit, message):
    if edit.startswith("replace:"):
        old, new = edit[len("replace:") :].split("|")
        original = _classic_text()
        assert old in original
        text = original.replace(old, new, 1)
    else:
        text = edit
    path = tmp_path / "broken.toml"
    path.write_text(text)
    with pytest.raises(InputError) as raised:
        profiles.load(str(path))
    assert str(path) in str(raised.value)
    assert message in str(raised.value)


def _components_text():
    path = os.path.join(profiles.BUILTIN_DIR, "host", "components.toml")
    with open(path) as handle:
        return handle.read()


HOST_BROKEN = [
    (
        'cassandra = "warn", elasticsearch = "warn" }|cassandra = "wran", elasticsearch = "warn" }',
        "field 'swap.components.cassandra' must be one of fail, warn, got 'wran'",
    ),
    (
        "fail_below = 262144|fail_below = '262144'",
        "field 'vm-max-map-count.elasticsearch.fail_below' must be an integer",
    ),
    ("warn_unless_unlimited = true|warn_unless_unlimited = 1", "'memlock.cassandra.warn_unless"),
    ('severity = "fail"|severity = "wran"', "field 'time-sync.severity' must be one of fail"),
    ("[thp]|[thpp]", "field 'thpp' is not a known key"),
    ("allowed = [\"never\"]|allowed = 'never'", "field 'thp.allowed' must be a list"),
    ('recommended_fstypes = ["xfs"]|recommended_fstypes = [1]', "'minio-drive.recommended_fs"),
    ("fail_tcp = [9000]|fail_tcp = [0]", "field 'ports.minio.fail_tcp[0]' must be a port"),
    ('required = ["ip",|requird = ["ip",', "field 'tools.kubernetes.requird' is not a known key"),
    ('service = "elasticsearch"|service = 1', "field 'nofile.elasticsearch.service' must be"),
]


@pytest.mark.parametrize("edit,message", HOST_BROKEN)
def test_broken_host_requirements_name_file_and_field(tmp_path, edit, message):
    old, new = edit.split("|")
    original = _components_text()
    assert old in original
    (tmp_path / "mine.toml").write_text(original.replace(old, new, 1))
    profile = tmp_path / "p.toml"
    profile.write_text('host_requirements = "mine.toml"\n' + _classic_text())
    with pytest.raises(InputError) as raised:
        profiles.load(str(profile))
    assert str(tmp_path / "mine.toml") in str(raised.value)
    assert message in str(raised.value)


def test_every_builtin_profile_and_its_host_requirements_load():
    for name in profiles.builtin_names():
        loaded = profiles.load(name)
        assert loaded.roles and loaded.host


def test_every_host_requirements_table_belongs_to_a_check():
    from wire_preflight import checks

    shapes = dict(checks.host_rule_shapes())
    tables = {
        key
        for name in profiles.builtin_names()
        for key in profiles.load(name).host
        if key != "schema"
    }
    assert tables == set(shapes)  # every table has a check, every check's rules are used


# Host requirements the checks could not read: each is refused when the profile is loaded, so
# `check` exits 2 naming the file, the table and the key instead of an error result blaming
# the facts (`[vm-max-map-count.components]` reached check_max_map_count as a string).
HOST_UNREADABLE = [
    (
        "[vm-max-map-count.cassandra]\nwarn_below = 1048575"
        '|[vm-max-map-count.components]\ncassandra = "fail"',
        "field 'vm-max-map-count.components' does not apply to this check",
    ),
    (
        '[nofile]\n|[nofile]\ncomponents = { cassandra = "fail" }\n',
        "field 'nofile.components' does not apply to this check",
    ),
    (
        '[tools]\n|[tools]\ncomponents = { kubernetes = "fail" }\n',
        "field 'tools.components' does not apply to this check",
    ),
    (
        '[ports]\n|[ports]\ncomponents = { minio = "warn" }\n',
        "field 'ports.components' does not apply to this check",
    ),
    (
        "[vm-max-map-count.cassandra]\nwarn_below = 1048575|[vm-max-map-count.cassandra]\n",
        "field 'vm-max-map-count.cassandra' needs fail_below or warn_below",
    ),
    (
        "fail_below = 262144|fail_below = 2000000",
        "field 'vm-max-map-count.elasticsearch.fail_below' (2000000) must not be above "
        "warn_below (1048576)",
    ),
    (
        'warn_below = 1048575|warn_below = 1048575\nseverity = "fail"',
        "field 'vm-max-map-count.cassandra.severity' is not a known key",
    ),
    (
        'user = "cassandra"\nwarn_below = 100000|user = "cassandra"',
        "field 'nofile.cassandra' needs fail_below or warn_below or warn_unless_unlimited = true",
    ),
    (
        "warn_unless_unlimited = true|warn_unless_unlimited = true\nwarn_below = 5",
        "field 'memlock.cassandra.warn_below' is not read when warn_unless_unlimited = true",
    ),
    ("schema = 1|schema = true", "field 'schema' must be one of 1, got True"),
]


@pytest.mark.parametrize("edit,message", HOST_UNREADABLE)
def test_host_requirements_a_check_cannot_read_exit_2(tmp_path, run_cli, edit, message):
    from helpers import fixture_path

    old, new = edit.split("|")
    original = _components_text()
    assert old in original
    mine = tmp_path / "mine.toml"
    mine.write_text(original.replace(old, new, 1))
    profile = tmp_path / "p.toml"
    profile.write_text('host_requirements = "mine.toml"\n' + _classic_text())
    code, _out, err = run_cli(
        "check",
        "--profile",
        str(profile),
        "--role",
        "cassandra",
        "--role",
        "kubernetes",
        "--role",
        "minio",
        "--facts",
        fixture_path("facts-ubuntu1804-kvm-4g.json"),
    )
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"wire-preflight: error: host requirements {mine}: {message}"), err


def test_a_profile_without_sft_plans_no_sft_cores():
    # wiab.toml has no [sft]: its users_per_core is never read, whatever --sft-users says.
    profile = profiles.load("wiab")
    assert not profile.sft_roles
    from wire_preflight.requirements import role_cores

    assert all(role_cores(profile, role, 500) == role.cores for role in profile.roles.values())
