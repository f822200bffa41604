"""Profiles as data: the classic table exactly, and broken profiles named precisely."""

import pytest
from wire_preflight import profiles
from wire_preflight.model import InputError
from wire_preflight.plan import fleet_plan

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
