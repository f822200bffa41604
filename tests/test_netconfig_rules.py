"""The readers' rules a reviewer found missing, each on files in its tool's real format:
captured trees without /sys, netplan's scalars and definition order, NetworkManager's device
kinds and [match], networkd's per-line negation, ifupdown's keywords and hooks, leases that
expired or belong to another profile, and a captured tree's absolute symlinks."""

import json
import os

import pytest
from helpers import judge, one, with_changes
from nettree import link, write
from wire_preflight import netmatch, netresolve
from wire_preflight.facts import (
    files,
    ifupdown,
    netconfig,
    netplan,
    networkd,
    networkmanager,
)
from wire_preflight.model import ERROR, PASS, WARN

MAC3, MAC4 = "52:54:00:12:34:56", "52:54:00:12:34:57"
NM = "/etc/NetworkManager/system-connections/"


def host(tmp_path, tree, links=(("ens3", MAC3, 2), ("ens4", MAC4, 3))):
    write(tmp_path, tree)
    for name, mac, index, *rest in links:
        link(tmp_path, name, mac, index, driver=rest[0] if rest else None)
    return netconfig.collect(str(tmp_path))


def tree_without_sys(tmp_path, tree):
    root = tmp_path / "capture"
    base = {
        "/etc/hostname": "cassandra1\n",
        "/etc/os-release": 'NAME="Ubuntu"\nID=ubuntu\nVERSION_ID="24.04"\n',
        "/proc/meminfo": "MemTotal:       16314200 kB\nSwapTotal:             0 kB\n",
    }
    base.update(tree)
    write(root, base)
    return str(root)


def ip_static(run_cli, root):
    code, out, err = run_cli("check", "--root", root, "--role", "cassandra", "--json")
    assert code in (0, 3, 4, 5), err
    return {r["id"]: r for r in json.loads(out)["checks"]}["ip-static"]


# -- 1. a captured tree without /sys ------------------------------------------------------------


def test_root_without_sys_judges_netplan_match_entries_by_their_selector(run_cli, tmp_path):
    # cloud-init's netplan for a cloud image: one entry matching every en* interface.
    root = tree_without_sys(
        tmp_path,
        {
            "/etc/netplan/50-cloud-init.yaml": (
                "network:\n    ethernets:\n        all-en:\n            match:\n"
                "                name: en*\n            dhcp4: true\n    version: 2\n"
            )
        },
    )
    static = ip_static(run_cli, root)
    assert static["status"] == WARN
    assert "interfaces matching en* (netplan entry all-en): DHCP" in static["message"]
    assert "/sys/class/net" in static["remedy"]


def test_root_without_sys_judges_an_nm_profile_bound_by_mac(run_cli, tmp_path):
    root = tree_without_sys(
        tmp_path,
        {
            NM + "lan.nmconnection": (
                "[connection]\nid=lan\nuuid=11111111-1111-1111-1111-111111111111\n"
                f"type=ethernet\n\n[ethernet]\nmac-address={MAC3.upper()}\n\n"
                "[ipv4]\naddress1=192.168.122.21/24,192.168.122.1\nmethod=manual\n"
            )
        },
    )
    static = ip_static(run_cli, root)
    assert static["status"] == PASS
    assert f"interfaces with MAC {MAC3} (NetworkManager entry lan): static" in static["message"]
    assert "/sys/class/net" in static["remedy"]


def test_root_without_sys_and_only_a_vpn_profile_says_what_to_capture(run_cli, tmp_path):
    root = tree_without_sys(
        tmp_path,
        {NM + "work.nmconnection": "[connection]\nid=work\ntype=vpn\n[vpn]\nservice-type=x\n"},
    )
    static = ip_static(run_cli, root)
    assert static["status"] == ERROR
    assert "/sys/class/net" in static["remedy"]


# -- 2. netplan reads scalars as strings --------------------------------------------------------


def test_netplan_unquoted_all_digit_mac_is_a_mac_not_a_base60_integer(tmp_path):
    config = host(
        tmp_path,
        {
            "/etc/netplan/50-cloud-init.yaml": (
                "network:\n  version: 2\n  ethernets:\n    eth0:\n      match:\n"
                f"        macaddress: {MAC3}\n      set-name: eth0\n      mtu: 1500\n"
                "      dhcp4: on\n      dhcp6: no\n"
                "      routes:\n        - to: default\n          via: 10.0.0.1\n"
            ),
            "/etc/netplan/60-static.yaml": (
                "network:\n  ethernets:\n    ens4:\n      dhcp4: 'false'\n"
                "      addresses:\n        - 10.0.0.4/24\n        - 2001:db8::4/64:\n"
                "            label: ens4:v6\n"
            ),
        },
    )
    assert config["errors"] == []
    assert config["interfaces"]["ens3"]["method"] == "dhcp"  # matched by its MAC
    assert config["interfaces"]["ens3"]["method6"] == "none"
    assert config["interfaces"]["ens4"]["method"] == "static"
    assert config["interfaces"]["ens4"]["addresses"] == ["10.0.0.4/24", "2001:db8::4/64"]
    network = netplan.load("network:\n  ethernets:\n    e:\n      mtu: 1500\n      x: 0x1F\n")
    assert network["ethernets"]["e"] == {"mtu": "1500", "x": "0x1F"}
    assert netplan.load("network:\n") == {}


# -- 3. NetworkManager device kinds -------------------------------------------------------------


def test_nm_virtual_and_vpn_profiles_never_claim_a_hardware_link(tmp_path):
    parent = "22222222-2222-2222-2222-222222222222"
    config = host(
        tmp_path,
        {
            NM + "ens3.nmconnection": (
                f"[connection]\nid=ens3\nuuid={parent}\ntype=ethernet\ninterface-name=ens3\n"
                "[ipv4]\nmethod=manual\naddress1=192.168.1.3/24\n"
            ),
            NM + "vlan10.nmconnection": (
                "[connection]\nid=vlan10\ntype=vlan\n[vlan]\nparent=ens3\nid=10\n"
                "[ipv4]\nmethod=auto\n"
            ),
            NM + "vlan20.nmconnection": (
                f"[connection]\nid=vlan20\ntype=vlan\n[vlan]\nparent={parent}\nid=20\n"
                "[ipv4]\nmethod=auto\n"
            ),
            NM + "vpn.nmconnection": (
                "[connection]\nid=office\ntype=vpn\n[vpn]\nservice-type=org.freedesktop."
                "NetworkManager.openvpn\n[ipv4]\nmethod=auto\n"
            ),
            NM + "wg.nmconnection": "[connection]\nid=wg\ntype=wireguard\n[ipv4]\nmethod=auto\n",
            NM + "bond.nmconnection": "[connection]\nid=bond\ntype=bond\n[ipv4]\nmethod=auto\n",
            NM + "lte.nmconnection": "[connection]\nid=lte\ntype=gsm\n[gsm]\napn=internet\n",
        },
        links=(("ens3", MAC3, 2), ("ens3.10", MAC3, 4), ("ens3.20", MAC3, 5), ("ens4", MAC4, 3)),
    )
    assert config["interfaces"]["ens3"]["id"] == "ens3"
    assert config["interfaces"]["ens3"]["method"] == "static"
    assert config["interfaces"]["ens3.10"]["id"] == "vlan10"
    assert config["interfaces"]["ens3.20"]["id"] == "vlan20"  # parent given by UUID
    assert config["interfaces"]["ens4"]["source"] is None


# -- 4. networkd [Match] negation is per line ---------------------------------------------------


def test_networkd_negation_is_per_line_as_systemd_stores_it():
    entry = networkd.parse_network(
        "[Match]\nName=en*\nName=!enp0s31f6 enp1s0\n[Network]\nDHCP=yes\n", "/x"
    )
    assert netmatch.matches(entry, {"name": "ens3"})
    assert not netmatch.matches(entry, {"name": "enp0s31f6"})
    assert not netmatch.matches(entry, {"name": "enp1s0"})
    assert not netmatch.matches(entry, {"name": "wlan0"})  # no positive pattern matches
    only_negative = networkd.parse_network("[Match]\nName=!wl*\n", "/x")
    assert netmatch.matches(only_negative, {"name": "ens3"})
    assert not netmatch.matches(only_negative, {"name": "wlp2s0"})
    reset = networkd.parse_network("[Match]\nName=!ens3\nName=\nName=ens*\n", "/x")
    assert netmatch.matches(reset, {"name": "ens3"})


def test_networkd_unchecked_match_keys_are_said_by_ip_static(base_facts, tmp_path):
    write(
        tmp_path,
        {
            "/etc/systemd/network/10-lan.network": (
                "[Match]\nName=ens3\nVirtualization=kvm\n[Network]\nAddress=192.168.122.21/24\n"
            )
        },
    )
    facts = with_changes(base_facts)
    facts["network_config"] = netconfig.collect(str(tmp_path))
    result = one(judge(facts, ["cassandra"]), "ip-static")
    assert result.status == PASS
    assert "not checked: Virtualization=kvm" in result.message
    assert result.evidence["unchecked_match"] == ["Virtualization=kvm"]


# -- 5. ifupdown keywords and hooks -------------------------------------------------------------


def test_ifupdown_option_starting_with_auto_keeps_the_stanza_open():
    stanzas, _ = ifupdown.parse(
        "auto ens3\niface ens3 inet6 static\n    autoconf 0\n    address fd00::3/64\n"
        "allow-hotplug ens4\niface ens4 inet dhcp\n"
    )
    assert stanzas["ens3"]["addresses"] == ["fd00::3/64"]


def test_ifupdown_dhcp_client_must_be_the_command_run():
    def method(hook):
        stanzas, _ = ifupdown.parse(f"iface ens3 inet manual\n    {hook}\n")
        return netresolve.ifupdown_records(stanzas)[0]["method"]

    assert method("post-up killall dhclient") == "none"
    assert method("pre-down dhclient -r ens3") == "none"
    assert method("post-up dhclient -r ens3") == "none"
    assert method("post-up echo starting udhcpc > /dev/kmsg") == "none"
    assert method("post-up sudo /sbin/dhclient -4 ens3") == "dhcp"
    assert method("up ip link set ens3 up; env FOO=1 dhclient ens3 &") == "dhcp"


def test_ifupdown_hooks_count_for_their_own_family():
    stanzas, _ = ifupdown.parse(
        "iface ens3 inet static\n    address 192.168.1.3/24\n"
        "iface ens3 inet6 manual\n    post-up dhclient -6 ens3\n"
    )
    (entry,) = netresolve.ifupdown_records(stanzas)
    assert (entry["method"], entry["method6"]) == ("static", "dhcp")


# -- 6. leases ----------------------------------------------------------------------------------


def dhclient_lease(address, expire):
    return (
        f'lease {{\n  interface "ens3";\n  fixed-address {address};\n'
        f"  renew 2 {expire};\n  expire 2 {expire};\n}}\n"
    )


def test_an_expired_dhclient_lease_is_no_evidence(base_facts, tmp_path):
    # base_facts were collected on 2026-11-20 09:12:44 UTC.
    write(
        tmp_path,
        {
            "/var/lib/dhcp/dhclient.ens3.leases": dhclient_lease(
                "192.168.122.21", "2026/11/19 10:00:00"
            )
        },
    )
    facts = with_changes(base_facts)
    facts["network_config"] = netconfig.collect(str(tmp_path))
    assert one(judge(facts, ["cassandra"]), "ip-static").status == PASS
    write(
        tmp_path,
        {
            "/var/lib/dhcp/dhclient.ens3.leases": dhclient_lease(
                "192.168.122.21", "2026/11/21 10:00:00"
            )
        },
    )
    facts["network_config"] = netconfig.collect(str(tmp_path))
    result = one(judge(facts, ["cassandra"]), "ip-static")
    assert result.status == WARN and "dhclient lease" in result.message


def test_nm_leases_of_the_applying_profile_win_over_the_last_file(tmp_path):
    mine, other = "11111111-1111-1111-1111-111111111111", "99999999-9999-9999-9999-999999999999"
    config = host(
        tmp_path,
        {
            NM + "ens3.nmconnection": (
                f"[connection]\nid=ens3\nuuid={mine}\ntype=ethernet\ninterface-name=ens3\n"
            ),
            f"/var/lib/NetworkManager/internal-{mine}-ens3.lease": "ADDRESS=192.168.1.50\n",
            f"/var/lib/NetworkManager/internal-{other}-ens3.lease": "ADDRESS=192.168.1.99\n",
        },
    )
    assert [lease["address"] for lease in config["interfaces"]["ens3"]["leases"]] == [
        "192.168.1.50"
    ]
    assert len(config["networkmanager"]["leases"]["ens3"]) == 2


# -- 7. netplan: several definitions, set-name --------------------------------------------------


def test_netplan_first_definition_by_id_wins_not_by_file(tmp_path):
    config = host(
        tmp_path,
        {
            "/etc/netplan/01-first-file.yaml": (
                "network:\n  ethernets:\n    zz-static:\n      match: {name: ens3}\n"
                "      addresses: [192.168.1.3/24]\n"
            ),
            "/etc/netplan/02-second-file.yaml": (
                "network:\n  ethernets:\n    aa-dhcp:\n      match: {name: 'ens*'}\n"
                "      dhcp4: true\n"
            ),
        },
    )
    assert config["interfaces"]["ens3"]["id"] == "aa-dhcp"
    assert config["interfaces"]["ens3"]["method"] == "dhcp"


def test_netplan_set_name_selects_the_renamed_link_also_with_a_name_match(tmp_path):
    config = host(
        tmp_path,
        {
            "/etc/netplan/01.yaml": (
                "network:\n  ethernets:\n    uplink:\n      match: {name: 'eth*'}\n"
                "      set-name: uplink0\n      dhcp4: true\n"
            )
        },
        links=(("uplink0", MAC3, 2), ("ens4", MAC4, 3)),
    )
    assert config["interfaces"]["uplink0"]["id"] == "uplink"
    assert config["interfaces"]["ens4"]["source"] is None


# -- 8. NetworkManager [match] ------------------------------------------------------------------


def test_nm_match_interface_name_and_driver_narrow_the_profile(tmp_path):
    config = host(
        tmp_path,
        {
            NM + "wired.nmconnection": (
                "[connection]\nid=wired\ntype=ethernet\n"
                "[match]\ninterface-name=ens*;!ens4;\n[ipv4]\nmethod=auto\n"
            ),
            NM + "fast.nmconnection": (
                "[connection]\nid=fast\ntype=ethernet\n"
                "[match]\ndriver=ixgbe;i40e;\n[ipv4]\nmethod=manual\naddress1=10.1.0.5/24\n"
            ),
        },
        links=(
            ("ens3", MAC3, 2, "virtio_net"),
            ("ens4", MAC4, 3, "virtio_net"),
            ("ens5", "52:54:00:12:34:58", 4, "ixgbe"),
        ),
    )
    assert config["interfaces"]["ens3"]["id"] == "wired"
    assert config["interfaces"]["ens4"]["source"] is None
    assert {"wired", "fast"} >= {config["interfaces"]["ens5"]["id"]}
    entry = {"nm_match": {"name": ["&ens*", "|eth0", "|ens5"]}}
    assert netmatch.matches(entry, {"name": "ens5"})
    assert not netmatch.matches(entry, {"name": "ens3"})
    assert not netmatch.matches(entry, {"name": "eth0"})  # the mandatory ens* fails


# -- 10. a captured tree's symlinks stay in the tree --------------------------------------------


def test_absolute_symlinks_resolve_inside_the_captured_tree(tmp_path):
    root = tmp_path / "capture"
    write(
        root,
        {
            "/usr/lib/netplan-ci/50-cloud-init.yaml": (
                "network:\n  ethernets:\n    ens3: {dhcp4: true}\n"
            )
        },
    )
    os.makedirs(str(root / "etc/netplan"))
    os.symlink(
        "/usr/lib/netplan-ci/50-cloud-init.yaml", str(root / "etc/netplan/50-cloud-init.yaml")
    )
    # A link that would read the machine running the command if followed as it is.
    os.symlink("/etc/hostname", str(root / "etc/netplan/99-host.yaml"))
    os.symlink("../../../../../../etc/passwd", str(root / "etc/netplan/98-up.yaml"))
    config = netconfig.collect(str(root))
    assert config["interfaces"]["ens3"]["method"] == "dhcp"
    assert sorted(e["file"] for e in config["errors"]) == [
        "/etc/netplan/98-up.yaml",
        "/etc/netplan/99-host.yaml",
    ]
    assert files.under(str(root), "/etc/netplan/99-host.yaml") == str(root / "etc/hostname")
    os.makedirs(str(root / "srv/sysnet/ens3"))
    os.symlink("/srv/sysnet", str(root / "sys"))
    assert files.under(str(root), "/sys/ens3") == str(root / "srv/sysnet/ens3")


def test_facts_without_sys_list_what_each_unnamed_entry_selects(tmp_path):
    write(
        tmp_path,
        {
            "/etc/netplan/50-cloud-init.yaml": (
                "network:\n  ethernets:\n    all-en:\n      match: {name: 'en*'}\n"
                "      dhcp4: true\n    eth0: {addresses: [10.0.0.5/24]}\n"
            )
        },
    )
    config = netconfig.collect(str(tmp_path))
    assert config["interfaces"]["eth0"]["method"] == "static"
    assert [(s["selector"], s["id"], s["method"]) for s in config["selected"]] == [
        ("interfaces matching en*", "all-en", "dhcp")
    ]


def test_nm_ethernet_profile_by_mac_does_not_take_a_vlan_sharing_the_mac(tmp_path):
    config = host(
        tmp_path,
        {
            NM + "lan.nmconnection": (
                f"[connection]\nid=lan\ntype=ethernet\n[ethernet]\nmac-address={MAC3}\n"
                "[ipv4]\nmethod=auto\n"
            )
        },
        links=(("ens3", MAC3, 2),),
    )
    link(tmp_path, "ens3.10", MAC3, 4, devtype="vlan")
    config = netconfig.collect(str(tmp_path))
    assert config["interfaces"]["ens3"]["id"] == "lan"
    assert config["interfaces"]["ens3.10"]["source"] is None


def test_networkd_permanent_mac_is_a_list_of_its_own():
    entry = networkd.parse_network(
        f"[Match]\nMACAddress={MAC3}\nPermanentMACAddress={MAC4}\n[Network]\nDHCP=yes\n", "/x"
    )
    # Both must hold: a link whose MAC is MAC3 is not matched through MAC4 alone.
    assert not netmatch.matches(entry, {"name": "ens4", "mac": MAC4})


def test_nm_match_keys_beyond_the_agent_are_assumed_and_said(tmp_path):
    config = host(
        tmp_path,
        {
            NM + "pci.nmconnection": (
                "[connection]\nid=pci\ntype=ethernet\ninterface-name=ens3\n"
                "[match]\npath=pci-0000:00:03.0\n[ipv4]\nmethod=manual\naddress1=10.0.0.3/24\n"
            )
        },
    )
    (profile,) = config["networkmanager"]["profiles"]
    assert profile["unchecked"] == ["match.path=pci-0000:00:03.0"]
    assert config["interfaces"]["ens3"]["id"] == "pci"


def test_remedy_for_a_glob_entry_says_a_new_definition_alone_does_not_win(base_facts, tmp_path):
    write(
        tmp_path,
        {
            "/etc/netplan/50-cloud-init.yaml": (
                "network:\n  ethernets:\n    all-en:\n      match: {name: 'en*'}\n"
                "      dhcp4: true\n"
            )
        },
    )
    facts = with_changes(base_facts)
    facts["network_config"] = netconfig.collect(str(tmp_path))
    result = one(judge(facts, ["cassandra"]), "ip-static")
    assert result.status == WARN
    assert "take ens3 out of entry all-en's match" in result.remedy


# -- netplan's renderer: device, then section (at first definition), then global, then networkd -


def renderers(tmp_path, files):
    write(tmp_path, files)
    found = netplan.collect(str(tmp_path), [])
    return {e["id"]: e["renderer"] for e in found["entries"]}


def test_netplan_renderer_defaults_to_networkd(tmp_path):
    got = renderers(tmp_path, {"/etc/netplan/a.yaml": "network:\n  ethernets:\n    ens3: {}\n"})
    assert got == {"ens3": "networkd"}


def test_netplan_global_renderer_applies_to_every_device_of_every_file(tmp_path):
    got = renderers(
        tmp_path,
        {
            "/etc/netplan/10-a.yaml": "network:\n  ethernets:\n    ens3: {dhcp4: true}\n",
            # A later file's global renderer reaches the devices of earlier files too: netplan
            # gives the global backend to undecided devices after reading every file.
            "/etc/netplan/90-b.yaml": "network:\n  renderer: NetworkManager\n  bridges:\n"
            "    br0: {}\n",
        },
    )
    assert got == {"ens3": "NetworkManager", "br0": "NetworkManager"}


def test_netplan_last_global_renderer_wins(tmp_path):
    got = renderers(
        tmp_path,
        {
            "/etc/netplan/10-a.yaml": "network:\n  renderer: NetworkManager\n  ethernets:\n"
            "    ens3: {}\n",
            "/etc/netplan/20-b.yaml": "network:\n  renderer: networkd\n",
        },
    )
    assert got == {"ens3": "networkd"}


def test_netplan_section_renderer_covers_the_devices_after_it_in_that_section(tmp_path):
    got = renderers(
        tmp_path,
        {
            "/etc/netplan/10-a.yaml": (
                "network:\n  renderer: networkd\n  ethernets:\n"
                "    ens2: {}\n"  # before the section's renderer: the global one
                "    renderer: NetworkManager\n"
                "    ens3: {}\n    ens4: {}\n"
                "  vlans:\n    vlan10: {id: 10, link: ens3}\n"  # another section: global
            )
        },
    )
    assert got == {
        "ens2": "networkd",
        "ens3": "NetworkManager",
        "ens4": "NetworkManager",
        "vlan10": "networkd",
    }


def test_netplan_section_renderer_does_not_change_a_device_an_earlier_file_defined(tmp_path):
    got = renderers(
        tmp_path,
        {
            "/etc/netplan/10-a.yaml": "network:\n  ethernets:\n    ens3: {dhcp4: true}\n",
            "/etc/netplan/20-b.yaml": "network:\n  ethernets:\n    renderer: NetworkManager\n"
            "    ens3: {dhcp6: true}\n    ens4: {}\n",
        },
    )
    assert got == {"ens3": "networkd", "ens4": "NetworkManager"}


def test_netplan_device_renderer_beats_section_and_global_and_the_last_file_wins(tmp_path):
    got = renderers(
        tmp_path,
        {
            "/etc/netplan/10-a.yaml": (
                "network:\n  renderer: NetworkManager\n  ethernets:\n    renderer: NetworkManager\n"
                "    ens3:\n      renderer: networkd\n    ens4: {}\n"
            ),
            "/etc/netplan/20-b.yaml": (
                "network:\n  ethernets:\n    ens4:\n      renderer: networkd\n"
            ),
        },
    )
    assert got == {"ens3": "networkd", "ens4": "networkd"}


def test_netplan_vlan_sriov_renderer_is_not_a_backend(tmp_path):
    got = renderers(
        tmp_path,
        {
            "/etc/netplan/a.yaml": (
                "network:\n  renderer: NetworkManager\n  vlans:\n"
                "    vlan7:\n      id: 7\n      link: ens3\n      renderer: sriov\n"
            )
        },
    )
    assert got == {"vlan7": "NetworkManager"}


def test_netplan_section_renderer_key_is_not_a_device_and_the_file_still_counts(tmp_path):
    config = host(
        tmp_path,
        {
            "/etc/netplan/01-netcfg.yaml": (
                "network:\n  version: 2\n  ethernets:\n    renderer: networkd\n"
                "    ens3:\n      addresses: [192.168.7.3/24]\n"
            )
        },
    )
    assert config["errors"] == []
    assert [e["id"] for e in config["netplan"]["entries"]] == ["ens3"]
    assert config["interfaces"]["ens3"]["method"] == "static"
    assert config["interfaces"]["ens3"]["renderer"] == "networkd"


# -- netplan `match:`: every key given must hold; name and driver are fnmatch(3) globs -----------


def matched(tmp_path, match_yaml, links):
    config = host(
        tmp_path,
        {
            "/etc/netplan/50-m.yaml": "network:\n  ethernets:\n    sel:\n      match:\n"
            + match_yaml
            + "      dhcp4: true\n"
        },
        links=links,
    )
    return sorted(n for n, i in config["interfaces"].items() if i["id"] == "sel")


LINKS = (
    ("ens3", MAC3, 2, "virtio_net"),
    ("ens4", MAC4, 3, "e1000e"),
    ("eth0", "52:54:00:12:34:58", 4, "ixgbe"),
    ("enp1s0f1", "52:54:00:12:34:59", 5, "i40e"),
)


@pytest.mark.parametrize(
    "match_yaml, selected",
    [
        ("        name: en*\n", ["enp1s0f1", "ens3", "ens4"]),
        ("        name: ens?\n", ["ens3", "ens4"]),
        ('        name: "ens[34]"\n', ["ens3", "ens4"]),
        ('        name: "ens[!3]"\n', ["ens4"]),
        ('        name: "ens[^3]"\n', ["ens4"]),  # fnmatch(3) negates with ^ too
        ('        name: "e*[0-9]"\n', ["enp1s0f1", "ens3", "ens4", "eth0"]),
        ('        name: "ens\\\\3"\n', ["ens3"]),  # a backslash quotes the next character
        ("        name: ENS3\n", []),  # case matters
        # name and macaddress together: both must hold
        (f"        name: en*\n        macaddress: {MAC4}\n", ["ens4"]),
        (f"        name: eth*\n        macaddress: {MAC4}\n", []),
        (f"        macaddress: {MAC3.upper()}\n", ["ens3"]),  # MACs compare case-blind
        # driver: a glob, or a list of globs of which one must hold
        ("        driver: e1000*\n", ["ens4"]),
        ("        driver: [virtio_net, 'i40*']\n", ["enp1s0f1", "ens3"]),
        ("        driver: ixgbe\n        name: en*\n", []),
        ("        {}\n", ["enp1s0f1", "ens3", "ens4", "eth0"]),  # an empty match takes all
    ],
)
def test_netplan_match(tmp_path, match_yaml, selected):
    assert matched(tmp_path, match_yaml, LINKS) == selected


def test_glob_match_agrees_with_the_c_library_fnmatch():
    """The readers' globs are fnmatch(3)'s: checked against glibc's own on patterns netplan,
    networkd and NetworkManager configurations use, and on edge cases of the syntax."""
    import ctypes
    import ctypes.util

    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    patterns = [
        "en*", "en?", "eth[0-9]", "eth[!0-9]", "eth[^0-9]", "eth\\*", "e*[]]", "[]a]*",
        "[!]a]x", "eth[", "[a-]x", "[[:digit:]]*", "[[:alpha:]][[:digit:]]", "*\\", "\\e*",
        "[\\]]", "en[o-p]s*", "[z-a]", "[!z-a]", "*", "", "[a\\-z]", "ens[3-5]*0",
        "[[:upper:]]*", "?*?", "e[[:alnum:]]?[!3]", "wl*", "vlan.[0-9][0-9]",
    ]  # fmt: skip
    names = [
        "en0", "ens3", "ens30", "enp1s0", "eth0", "etha", "eth^", "eth*", "e]", "]abc", "ax",
        "x", "eth[", "-x", "1", "a1", "e", "\\", "]", "", "ens40", "z", "a-z", "-", "Eth0",
        "en", "ens4", "wlp2s0", "vlan.10",
    ]  # fmt: skip
    for pattern in patterns:
        for name in names:
            expected = libc.fnmatch(pattern.encode(), name.encode(), 0) == 0
            assert netmatch.glob_match(pattern, name) is expected, (pattern, name)


# -- NetworkManager: which ports lose their own IP configuration (libnm _supports_addr_family) --


def nm_method(
    tmp_path, connection, kind="ethernet", ipv4="[ipv4]\nmethod=manual\naddress1=192.168.9.3/24\n"
):
    config = host(
        tmp_path,
        {
            NM + "member.nmconnection": (
                f"[connection]\nid=member\ntype={kind}\ninterface-name=ens3\n{connection}\n{ipv4}"
            )
        },
    )
    return config["interfaces"]["ens3"]


@pytest.mark.parametrize(
    "connection, method",
    [
        ("master=vrf-blue\nslave-type=vrf\n", "static"),
        ("controller=vrf-blue\nport-type=vrf\n", "static"),
        ("master=bond0\nslave-type=bond\n", "port"),
        ("master=br0\nslave-type=bridge\n", "port"),
        ("master=team0\nslave-type=team\n", "port"),
        ("controller=ovs-port-1\nport-type=ovs-port\n", "port"),
        ("master=br0\n", "port"),  # the controller alone makes a port
        ("", "static"),
    ],
)
def test_nm_port_types(tmp_path, connection, method):
    assert nm_method(tmp_path, connection)["method"] == method


def test_nm_vrf_member_keeps_its_dhcp(tmp_path):
    member = nm_method(tmp_path, "master=vrf-blue\nslave-type=vrf\n", ipv4="[ipv4]\nmethod=auto\n")
    assert member["method"] == "dhcp" and member["port_of"] is None


def test_nm_ovs_interface_keeps_its_addresses(tmp_path):
    ovs = nm_method(tmp_path, "controller=ovs-port-1\nport-type=ovs-port\n", kind="ovs-interface")
    assert ovs["method"] == "static" and ovs["addresses"] == ["192.168.9.3/24"]


def test_nm_dummy_and_wireguard_without_ipv4_are_not_dhcp():
    for kind in ("dummy", "wireguard"):
        profile = networkmanager.parse_keyfile(
            f"[connection]\nid=d\ntype={kind}\ninterface-name=dummy0\n"
        )
        assert profile["method"] == "none" and profile["ipv4_method"] == "disabled", kind
    ethernet = networkmanager.parse_keyfile("[connection]\nid=e\ntype=ethernet\n")
    assert ethernet["method"] == "dhcp"


def test_vrf_members_keep_their_addresses_in_netplan_and_networkd(tmp_path):
    config = host(
        tmp_path,
        {
            "/etc/netplan/10-vrf.yaml": (
                "network:\n  ethernets:\n    ens3:\n      addresses: [192.168.20.3/24]\n"
                "  vrfs:\n    vrf-blue:\n      table: 1000\n      interfaces: [ens3]\n"
            ),
            "/etc/systemd/network/20-ens4.network": (
                "[Match]\nName=ens4\n\n[Network]\nVRF=vrf-red\nDHCP=ipv4\n"
            ),
        },
    )
    assert config["interfaces"]["ens3"]["method"] == "static"
    assert config["interfaces"]["ens3"]["port_of"] is None
    assert config["interfaces"]["ens4"]["method"] == "dhcp"
