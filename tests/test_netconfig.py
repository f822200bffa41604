"""Network configuration parsers on files in their real formats, including broken ones."""

import pytest
from helpers import fixture_path
from wire_preflight import netresolve
from wire_preflight.facts import netconfig


@pytest.fixture(scope="module")
def dhcp_tree():
    return netconfig.collect(fixture_path("netconfig-dhcp"))


def test_netplan_merges_files_and_follows_set_name(dhcp_tree):
    interfaces = dhcp_tree["netplan"]["interfaces"]
    assert interfaces["ens3"]["dhcp4"] is True
    assert interfaces["ens3"]["file"] == "/etc/netplan/50-cloud-init.yaml"
    # 60-override.yaml comes later: its scalars win, its addresses are appended (netplan(5)).
    assert interfaces["ens4"] == {
        "dhcp4": False,
        "addresses": ["192.168.122.21/24", "192.168.122.22/24"],
        "file": "/etc/netplan/60-override.yaml",
    }
    assert dhcp_tree["errors"] == []


def test_netplan_yes_no_and_strings():
    parsed = netplan_of(
        "network:\n  ethernets:\n    a: {dhcp4: yes}\n    b: {dhcp4: 'true'}\n"
        "    c: {dhcp4: no}\n    d: {}\n"
    )
    assert {k: v["dhcp4"] for k, v in parsed.items()} == {
        "a": True,
        "b": True,
        "c": False,
        "d": False,
    }


def netplan_of(text):
    return netconfig.parse_netplan(text)


@pytest.mark.parametrize(
    "text,message",
    [
        ("network:\n  ethernets:\n    ens3:\n      dhcp4: true\n     bad: [\n", "not valid YAML"),
        ("- just\n- a list\n", "no 'network' mapping"),
        ("network:\n  ethernets: [ens3]\n", "'network.ethernets' must be a mapping"),
    ],
)
def test_netplan_broken(text, message):
    with pytest.raises(ValueError, match=message):
        netconfig.parse_netplan(text)


def test_empty_netplan_file_is_fine():
    assert netconfig.parse_netplan("") == {}


def test_networkd_lease_keyed_by_ifindex(dhcp_tree):
    lease = dhcp_tree["networkd_leases"]["2"]
    assert lease["address"] == "172.16.5.40" and lease["lifetime"] == "3600"


def test_networkmanager_methods(dhcp_tree):
    nm = {p["match"]["name"][0]: p for p in dhcp_tree["networkmanager"]["profiles"]}
    assert nm["ens5"]["ipv4_method"] == "auto"
    assert nm["ens6"]["ipv4_method"] == "manual"
    assert nm["ens6"]["addresses"] == ["192.168.7.5/24"]


def test_dhclient_keeps_the_newest_lease(dhcp_tree):
    lease = dhcp_tree["dhclient_leases"]["ens7"]
    assert lease["address"] == "192.168.9.21"
    assert lease["expire"] == "0 2026/11/22 09:04:55"


def test_ifupdown_follows_source(dhcp_tree):
    assert dhcp_tree["ifupdown"]["ens8"]["method"] == "dhcp"
    assert dhcp_tree["ifupdown"]["ens8"]["file"] == "/etc/network/interfaces.d/ens8"
    assert dhcp_tree["ifupdown"]["ens9"]["method"] == "static"
    assert dhcp_tree["ifupdown"]["lo"]["method"] == "loopback"


def test_broken_files_are_reported_not_raised():
    tree = netconfig.collect(fixture_path("netconfig-broken"))
    files = {e["file"]: e["error"] for e in tree["errors"]}
    assert "not valid YAML" in files["/etc/netplan/50-cloud-init.yaml"]
    assert (
        "not a valid keyfile" in files["/etc/NetworkManager/system-connections/broken.nmconnection"]
    )
    assert tree["netplan"]["interfaces"] == {}


def test_unreadable_file_is_reported(tmp_path):
    netplan = tmp_path / "etc" / "netplan"
    netplan.mkdir(parents=True)
    (netplan / "01.yaml").mkdir()  # a directory where a file should be: reading fails
    tree = netconfig.collect(str(tmp_path))
    assert tree["errors"][0]["file"] == "/etc/netplan/01.yaml"


def test_empty_host():
    tree = netconfig.collect("/nonexistent-root")
    assert tree["errors"] == [] and tree["netplan"]["interfaces"] == {}


def test_known_links_skip_a_kernel_link_without_a_name():
    # A malformed facts file: a name-less interface has nothing to match a configuration by,
    # and must not end up as a None key beside the configured names (sorting those failed).
    config = {"links": [{"name": "ens3", "link_type": "ether"}]}
    kernel = [{"index": 7, "mac": "52:54:00:00:00:07"}, {"name": "ens4", "index": 3}]
    assert [link["name"] for link in netresolve.known_links(config, kernel)] == ["ens3", "ens4"]
