"""wire-server-deploy inventories in both of ansible's formats."""

import pytest
from helpers import fixture_path
from wire_preflight import profiles
from wire_preflight.fleet import inventory
from wire_preflight.model import InputError


def planned(name):
    profile = profiles.load("classic")
    return inventory.planned_hosts(
        inventory.load(fixture_path("inventory", name)),
        profile.inventory_groups,
        profile.etcd_group,
    )


def comparable(hosts):
    return [
        (h["name"], h["roles"], h["etcd"], h["physical_host"], h["ip"], h["ansible_host"])
        for h in hosts
    ]


def test_ini_and_yaml_describe_the_same_fleet():
    ini, yml = planned("hosts.ini"), planned("inventory.yml")
    assert comparable(ini) == comparable(yml)
    assert len(ini) == 15
    roles = {}
    for host in ini:
        for role in host["roles"]:
            roles[role] = roles.get(role, 0) + 1
    assert roles == {
        "kubernetes": 3,
        "cassandra": 3,
        "elasticsearch": 3,
        "minio": 3,
        "restund": 2,
        "asset": 1,
    }
    assert [h["name"] for h in ini if h["etcd"]] == ["kubenode1", "kubenode2", "kubenode3"]


@pytest.mark.parametrize("name", ["hosts.ini", "inventory.yml"])
def test_children_and_vars(name):
    hosts = {h["name"]: h for h in planned(name)}
    assert "k8s-cluster" in hosts["kubenode2"]["groups"]  # through kube-master/kube-node
    assert "elasticsearch_master" in hosts["elasticsearch1"]["groups"]  # a parent group
    assert hosts["cassandra1"]["vars"]["cassandra_network_interface"] == "enp1s0"
    assert hosts["cassandra1"]["vars"]["ansible_user"] == "demo"  # [all:vars]
    assert hosts["minio1"]["vars"]["ansible_python_interpreter"] == "/usr/bin/python3"
    assert "cassandra_seed" in hosts["cassandra1"]["groups"]


def test_host_vars_beat_group_vars_and_children_beat_parents():
    inv = inventory.parse_ini(
        "[parent:vars]\nx=parent\ny=parent\n[child:vars]\nx=child\n[parent:children]\nchild\n"
        "[child]\nh1 y=host\n"
    )
    host = inv.hosts()["h1"]
    assert host["vars"] == {"x": "child", "y": "host"}
    assert host["groups"] == ["parent", "child"]


def test_ranges_keep_padding():
    assert inventory.expand("node[01:03].dc") == ["node01.dc", "node02.dc", "node03.dc"]
    assert inventory.expand("plain") == ["plain"]


def test_quoted_values_and_inline_comments():
    inv = inventory.parse_ini('[g]\nh1 ansible_host="10.0.0.1" note="two words" # comment\n')
    assert inv.hosts()["h1"]["vars"] == {"ansible_host": "10.0.0.1", "note": "two words"}


@pytest.mark.parametrize(
    "text,words",
    [
        ("[cassandra\nc1\n", "line 1: malformed section header"),
        ("[g:weird]\n", "unknown section kind"),
        ("[g]\nh1 novalue\n", "line 2: expected key=value"),
        ("[g:vars]\njustaword\n", "expected key=value"),
        ('[g]\nh1 x="unterminated\n', "line 2"),
    ],
)
def test_malformed_ini(text, words, tmp_path):
    path = tmp_path / "hosts.ini"
    path.write_text(text)
    with pytest.raises(InputError) as raised:
        inventory.load(str(path))
    assert words in str(raised.value) and str(path) in str(raised.value)


@pytest.mark.parametrize(
    "text,words",
    [
        ("all:\n  hosts: [a, b]\n", "'all.hosts' must be a mapping"),
        ("all:\n  children:\n    g: [1]\n", "group 'all.children.g' must be a mapping"),
        ("all: {hosts: {a: 5}}\n", "vars of host 'a'"),
        ("all:\n  hosts:\n    a: {x: [\n", "not valid YAML"),
    ],
)
def test_malformed_yaml(text, words, tmp_path):
    path = tmp_path / "inventory.yml"
    path.write_text(text)
    with pytest.raises(InputError, match="inventory") as raised:
        inventory.load(str(path))
    assert words in str(raised.value)


def test_missing_file():
    with pytest.raises(InputError, match="cannot read inventory"):
        inventory.load("/nonexistent/hosts.ini")


def roles_of(text, profile_name, name="hosts.ini", tmp_path=None):
    profile = profiles.load(profile_name)
    path = tmp_path / name
    path.write_text(text)
    hosts = inventory.planned_hosts(
        inventory.load(str(path)), profile.inventory_groups, profile.etcd_group
    )
    return {h["name"]: h["roles"] for h in hosts}


@pytest.mark.parametrize("profile_name", ["classic", "current"])
def test_elasticsearch_master_only_host_is_elasticsearch(tmp_path, profile_name):
    roles = roles_of(
        "[elasticsearch_master]\nes1 ansible_host=192.168.1.5\n", profile_name, tmp_path=tmp_path
    )
    assert roles == {"es1": ["elasticsearch"]}


def test_current_profile_maps_rabbitmq_and_postgresql_groups(tmp_path):
    roles = roles_of(
        "[rabbitmq]\nrmq1\n[rmq-cluster]\nrmq2\n[postgresql_rw]\npg1\n[postgresql_ro]\npg2\npg3\n",
        "current",
        tmp_path=tmp_path,
    )
    assert roles == {
        "rmq1": ["rabbitmq"],
        "rmq2": ["rabbitmq"],
        "pg1": ["postgresql"],
        "pg2": ["postgresql"],
        "pg3": ["postgresql"],
    }


@pytest.mark.parametrize("name", ["hosts.yaml", "inventory.yml"])
def test_ini_saved_with_a_yaml_name_is_read_as_ini(tmp_path, name):
    with open(fixture_path("inventory", "hosts.ini")) as handle:
        text = handle.read()
    roles = roles_of(text, "classic", name=name, tmp_path=tmp_path)
    assert roles["cassandra1"] == ["cassandra"]
    assert len(roles) == 15


def test_neither_yaml_nor_ini_names_both_failures(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("[cassandra\nhost: [unclosed\n")
    with pytest.raises(InputError) as failed:
        inventory.load(str(path))
    assert "not valid YAML" in str(failed.value)
    assert "read as INI instead" in str(failed.value)


def test_extensionless_yaml_starting_with_a_document_marker_is_yaml(tmp_path):
    # ansible's yaml plugin takes files without an extension, before the ini plugin.
    path = tmp_path / "hosts"
    path.write_text(
        "---\n# staging\nall:\n  children:\n    cassandra:\n      hosts:\n"
        "        cassandra1: {ansible_host: 192.168.122.21}\n"
    )
    hosts = inventory.load(str(path)).hosts()
    assert hosts["cassandra1"]["groups"] == ["all", "cassandra"]
    assert hosts["cassandra1"]["vars"]["ansible_host"] == "192.168.122.21"


def test_host_with_a_port_names_the_host_and_sets_ansible_port():
    inv = inventory.parse_ini(
        "[cassandra]\ncassandra1:2222 ansible_host=192.168.122.21\n[::1]:2200\n"
        "[restund]\n2001:db8::7\n"
    )
    hosts = inv.hosts()
    assert hosts["cassandra1"]["vars"]["ansible_port"] == 2222
    assert hosts["::1"]["vars"]["ansible_port"] == 2200
    assert "ansible_port" not in hosts["2001:db8::7"]["vars"]
    yml = inventory.parse_yaml("cassandra:\n  hosts:\n    cassandra2:2022:\n")
    assert yml.hosts()["cassandra2"]["vars"]["ansible_port"] == 2022


def test_ranges_with_a_stride_and_letters_expand_as_ansible_does():
    assert inventory.expand("web[01:09:2]") == ["web01", "web03", "web05", "web07", "web09"]
    assert inventory.expand("db-[a:d]") == ["db-a", "db-b", "db-c", "db-d"]
    assert inventory.expand("n[1:2]-[a:b]") == ["n1-a", "n1-b", "n2-a", "n2-b"]
    assert inventory.expand("kubenode[:2]") == ["kubenode0", "kubenode1", "kubenode2"]
    with pytest.raises(InputError):
        inventory.expand("web[01:100]")  # ansible: begin and end of equal width
