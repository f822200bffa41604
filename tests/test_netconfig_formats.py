"""Each network configuration reader on files in its tool's real format, one test per rule
the reader follows; the per-interface verdict resolves them against /sys/class/net."""

import pytest
from nettree import link, write
from wire_preflight import netmatch, netresolve
from wire_preflight.facts import dhclient, ifupdown, netconfig, networkd, networkmanager

MAC3, MAC4, MAC5 = "52:54:00:aa:00:03", "52:54:00:aa:00:04", "52:54:00:aa:00:05"


def host(tmp_path, files, links=(("ens3", MAC3, 2), ("ens4", MAC4, 3))):
    write(tmp_path, files)
    link(tmp_path, "lo", "00:00:00:00:00:00", 1, arphrd=772)
    for name, mac, index, *rest in links:
        link(tmp_path, name, mac, index, driver=rest[0] if rest else None)
    return netconfig.collect(str(tmp_path))


# -- netplan ------------------------------------------------------------------------------------


def test_netplan_name_glob_selects_real_interfaces(tmp_path):
    config = host(
        tmp_path,
        {
            "/etc/netplan/50-cloud-init.yaml": (
                "network:\n  version: 2\n  ethernets:\n    all-en:\n"
                "      match:\n        name: en*\n      dhcp4: true\n"
            )
        },
    )
    for name in ("ens3", "ens4"):
        assert config["interfaces"][name]["method"] == "dhcp"
        assert config["interfaces"][name]["id"] == "all-en"
    assert config["interfaces"]["lo"]["source"] is None


def test_netplan_mac_match_without_set_name(tmp_path):
    config = host(
        tmp_path,
        {
            "/etc/netplan/01.yaml": (
                "network:\n  ethernets:\n    generic:\n      match:\n"
                f"        macaddress: '{MAC4.upper()}'\n      dhcp4: yes\n"
            )
        },
    )
    assert config["interfaces"]["ens4"]["method"] == "dhcp"
    assert config["interfaces"]["ens3"]["source"] is None


def test_netplan_driver_match_and_set_name(tmp_path):
    config = host(
        tmp_path,
        {
            "/etc/netplan/01.yaml": (
                "network:\n  ethernets:\n"
                "    by-driver:\n      match: {driver: ['virtio*', e1000]}\n"
                "      addresses: [192.168.1.3/24]\n"
                "    lan:\n      match: {macaddress: " + MAC5 + "}\n      set-name: lan0\n"
                "      dhcp4: true\n"
            )
        },
        links=(("ens3", MAC3, 2, "virtio_net"), ("ens4", MAC4, 3, "ixgbe"), ("lan0", MAC5, 4)),
    )
    assert config["interfaces"]["ens3"]["method"] == "static"
    assert config["interfaces"]["ens3"]["addresses"] == ["192.168.1.3/24"]
    assert config["interfaces"]["ens4"]["source"] is None  # ixgbe is not matched
    assert config["interfaces"]["lan0"]["method"] == "dhcp"


def test_netplan_merges_files_as_netplan_does(tmp_path):
    config = host(
        tmp_path,
        {
            "/etc/netplan/50-cloud-init.yaml": (
                "network:\n  ethernets:\n    ens3:\n      dhcp4: true\n"
                "      addresses: [192.168.1.3/24]\n      mtu: 1500\n"
            ),
            # Leaves out dhcp4 (it stays true), adds an address, overrides mtu.
            "/etc/netplan/60-extra.yaml": (
                "network:\n  ethernets:\n    ens3:\n      addresses:\n"
                "        - 192.168.1.4/24:\n            label: ens3:1\n      mtu: 9000\n"
            ),
        },
    )
    entry = config["netplan"]["entries"][0]
    assert entry["dhcp4"] is True
    assert entry["addresses"] == ["192.168.1.3/24", "192.168.1.4/24"]
    assert entry["files"] == ["/etc/netplan/50-cloud-init.yaml", "/etc/netplan/60-extra.yaml"]
    assert config["interfaces"]["ens3"]["method"] == "dhcp"


def test_netplan_later_scalar_overrides(tmp_path):
    config = host(
        tmp_path,
        {
            "/etc/netplan/50-cloud-init.yaml": "network:\n  ethernets:\n    ens3: {dhcp4: true}\n",
            "/etc/netplan/90-static.yaml": (
                "network:\n  ethernets:\n    ens3: {dhcp4: false, addresses: [10.1.0.3/24]}\n"
            ),
        },
    )
    assert config["interfaces"]["ens3"]["method"] == "static"
    assert config["interfaces"]["ens3"]["file"] == "/etc/netplan/90-static.yaml"


def test_netplan_run_shadows_etc_and_lexical_order_spans_directories(tmp_path):
    config = host(
        tmp_path,
        {
            "/etc/netplan/50-a.yaml": "network:\n  ethernets:\n    ens3: {dhcp4: true}\n",
            # Same name in /run replaces the /etc file entirely.
            "/run/netplan/50-a.yaml": "network:\n  ethernets:\n    ens4: {dhcp4: true}\n",
            # /lib's 70 comes after /etc's 60, whatever the directory.
            "/etc/netplan/60-b.yaml": "network:\n  ethernets:\n    ens4: {dhcp4: false}\n",
            "/lib/netplan/70-c.yaml": "network:\n  ethernets:\n    ens4: {dhcp4: true}\n",
        },
    )
    assert config["netplan"]["files"] == [
        "/run/netplan/50-a.yaml",
        "/etc/netplan/60-b.yaml",
        "/lib/netplan/70-c.yaml",
    ]
    assert config["interfaces"]["ens3"]["source"] is None
    assert config["interfaces"]["ens4"]["method"] == "dhcp"


def test_netplan_reads_every_device_section(tmp_path):
    config = host(
        tmp_path,
        {
            "/etc/netplan/01.yaml": """\
network:
  version: 2
  renderer: networkd
  ethernets:
    ens3: {}
    ens4: {}
  bonds:
    bond0: {interfaces: [ens4], addresses: [192.168.3.2/24]}
  bridges:
    br0: {interfaces: [ens3], dhcp4: true}
  vlans:
    vlan10: {id: 10, link: br0, addresses: [192.168.10.2/24]}
  wifis:
    wlp2s0: {dhcp4: true, access-points: {"ssid": {password: secret}}}
  tunnels:
    wg0: {mode: wireguard, addresses: [10.10.0.1/24]}
  vrfs:
    vrf1: {table: 100}
  dummy-devices:
    dm0: {addresses: [192.168.50.1/32]}
  virtual-ethernets:
    veth0: {peer: veth1, dhcp4: true}
  modems:
    wwan0: {apn: internet, dhcp4: true}
  nm-devices:
    nm-thing: {networkmanager: {passthrough: {connection.type: dummy}}}
"""
        },
        links=(("ens3", MAC3, 2), ("ens4", MAC4, 3), ("br0", MAC3, 4), ("wg0", MAC5, 5)),
    )
    kinds = {e["id"]: e["kind"] for e in config["netplan"]["entries"]}
    assert kinds["wg0"] == "tunnels" and kinds["vrf1"] == "vrfs" and kinds["dm0"] == "dummy-devices"
    assert kinds["veth0"] == "virtual-ethernets" and kinds["wwan0"] == "modems"
    assert kinds["nm-thing"] == "nm-devices" and kinds["wlp2s0"] == "wifis"
    # ens3 is a bridge port: it has no address of its own; the bridge takes DHCP.
    assert config["interfaces"]["ens3"]["method"] == "port"
    assert config["interfaces"]["ens3"]["port_of"] == "br0"
    assert config["interfaces"]["br0"]["method"] == "dhcp"
    assert config["interfaces"]["wg0"]["addresses"] == ["10.10.0.1/24"]


# -- systemd-networkd ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "match,ens3,ens4",
    [
        ("Name=ens3", True, False),
        ("Name=en*", True, True),
        ("Name=eth0 ens4", False, True),
        ("Name=!ens3", False, True),
        (f"MACAddress={MAC3}", True, False),
        (f"MACAddress=52-54-00-AA-00-04 {MAC5}", False, True),
        ("Type=ether", True, True),
        ("Type=wlan", False, False),
        ("", True, True),  # no [Match] keys: every link
    ],
)
def test_networkd_match(tmp_path, match, ens3, ens4):
    config = host(
        tmp_path,
        {"/etc/systemd/network/20-wired.network": f"[Match]\n{match}\n\n[Network]\nDHCP=yes\n"},
    )
    assert (config["interfaces"]["ens3"]["source"] == "networkd") is ens3
    assert (config["interfaces"]["ens4"]["source"] == "networkd") is ens4


@pytest.mark.parametrize(
    "value,dhcp4,dhcp6",
    [
        ("yes", True, True),
        ("true", True, True),
        ("ipv4", True, False),
        ("ipv6", False, True),
        ("no", False, False),
        ("false", False, False),
    ],
)
def test_networkd_dhcp_values(value, dhcp4, dhcp6):
    entry = networkd.parse_network(f"[Match]\nName=ens3\n[Network]\nDHCP={value}\n", "/x")
    assert (entry["dhcp4"], entry["dhcp6"]) == (dhcp4, dhcp6)


def test_networkd_addresses_in_network_and_address_sections():
    entry = networkd.parse_network(
        "[Match]\nName=ens3\n\n[Network]\nAddress=192.168.1.3/24\nGateway=192.168.1.1\n"
        "# a comment\nAddress=hogehoge\n[Address]\nAddress=192.168.1.4/24\n\n[Address]\n"
        "Address=fd00::3/64\n",
        "/etc/systemd/network/10.network",
    )
    assert entry["addresses"] == ["192.168.1.3/24", "192.168.1.4/24", "fd00::3/64"]
    assert entry["method"] == "static" and entry["method6"] == "static"


def test_networkd_first_matching_file_wins_and_etc_overrides(tmp_path):
    config = host(
        tmp_path,
        {
            "/usr/lib/systemd/network/10-ens3.network": "[Match]\nName=ens3\n[Network]\nDHCP=yes\n",
            # Same name in /etc replaces /usr/lib's.
            "/etc/systemd/network/10-ens3.network": (
                "[Match]\nName=ens3\n[Network]\nAddress=192.168.1.3/24\n"
            ),
            "/run/systemd/network/20-all.network": "[Match]\nName=*\n[Network]\nDHCP=yes\n",
            # Masked: never read.
            "/usr/lib/systemd/network/05-ens4.network": "[Match]\nName=ens4\n[Network]\n"
            "Address=192.168.1.4/24\n",
            "/etc/systemd/network/05-ens4.network": None,
        },
    )
    assert config["interfaces"]["ens3"]["method"] == "static"
    assert config["interfaces"]["ens3"]["file"] == "/etc/systemd/network/10-ens3.network"
    assert config["interfaces"]["ens4"]["method"] == "dhcp"
    assert config["interfaces"]["ens4"]["file"] == "/run/systemd/network/20-all.network"


def test_networkd_dropin_and_bridge_port(tmp_path):
    config = host(
        tmp_path,
        {
            "/etc/systemd/network/10-ens3.network": "[Match]\nName=ens3\n[Network]\nBridge=br0\n",
            "/etc/systemd/network/20-ens4.network": "[Match]\nName=ens4\n[Network]\nDHCP=no\n",
            "/etc/systemd/network/20-ens4.network.d/dhcp.conf": "[Network]\nDHCP=ipv4\n",
        },
    )
    assert config["interfaces"]["ens3"]["method"] == "port"
    assert config["interfaces"]["ens4"]["method"] == "dhcp"


def test_networkd_lease_by_ifindex(tmp_path):
    config = host(
        tmp_path,
        {
            "/run/systemd/netif/leases/3": (
                "# This is private data. Do not parse.\nADDRESS=10.0.2.15\n"
            )
        },
    )
    assert config["interfaces"]["ens4"]["leases"] == [
        {
            "client": "systemd-networkd",
            "address": "10.0.2.15",
            "file": "/run/systemd/netif/leases/3",
        }
    ]


# -- NetworkManager -----------------------------------------------------------------------------

NM = "/etc/NetworkManager/system-connections/"


def test_nm_profile_bound_by_mac_address(tmp_path):
    config = host(
        tmp_path,
        {
            NM + "uplink.nmconnection": (
                "[connection]\nid=uplink\nuuid=11111111-1111-1111-1111-111111111111\n"
                f"type=ethernet\n\n[ethernet]\nmac-address={MAC4.upper()}\n\n[ipv4]\nmethod=auto\n"
            )
        },
    )
    assert config["interfaces"]["ens4"]["method"] == "dhcp"
    assert config["interfaces"]["ens3"]["source"] is None


def test_nm_old_byte_list_mac():
    profile = networkmanager.parse_keyfile(
        "[connection]\nid=x\ntype=802-3-ethernet\n[802-3-ethernet]\n"
        "mac-address=82;84;0;170;0;3;\n[ipv4]\nmethod=manual\naddress1=192.168.1.3/24\n"
    )
    assert profile["match"] == {"mac": [MAC3]}
    assert profile["method"] == "static"


def test_nm_profile_for_any_device_and_default_method(tmp_path):
    # No interface-name, no MAC, no [ipv4]: any ethernet device, ipv4.method's default auto.
    config = host(
        tmp_path,
        {NM + "Wired.nmconnection": "[connection]\nid=Wired\ntype=ethernet\n"},
    )
    assert config["interfaces"]["ens3"]["method"] == "dhcp"
    assert config["interfaces"]["ens4"]["method"] == "dhcp"
    assert config["interfaces"]["lo"]["source"] is None


def test_nm_addresses_without_method_are_static():
    profile = networkmanager.parse_keyfile(
        "[connection]\nid=s\ntype=ethernet\ninterface-name=ens3\n[ipv4]\n"
        "address1=192.168.1.3/24,192.168.1.1\n"
    )
    assert profile["ipv4_method"] == "manual" and profile["addresses"] == ["192.168.1.3/24"]


def test_nm_legacy_bridge_interface_name_and_ports(tmp_path):
    config = host(
        tmp_path,
        {
            NM + "br0": (
                "[connection]\nid=br0\nuuid=22222222-2222-2222-2222-222222222222\ntype=bridge\n\n"
                "[bridge]\ninterface-name=br0\n\n[ipv4]\nmethod=manual\naddresses1=192.168.5.2/24;\n"
            ),
            NM + "port-ens3.nmconnection": (
                "[connection]\nid=port\ntype=ethernet\ninterface-name=ens3\nmaster=br0\n"
                "slave-type=bridge\n"
            ),
            NM + "port-ens4.nmconnection": (
                "[connection]\nid=port4\ntype=ethernet\ninterface-name=ens4\n"
                "controller=22222222-2222-2222-2222-222222222222\nport-type=bridge\n"
            ),
            NM + "old.nmconnection~": "[connection]\nid=editor-backup\ninterface-name=ens3\n",
        },
        links=(("ens3", MAC3, 2), ("ens4", MAC4, 3), ("br0", MAC5, 4)),
    )
    assert config["interfaces"]["br0"]["method"] == "static"
    assert config["interfaces"]["br0"]["addresses"] == ["192.168.5.2/24"]
    assert config["interfaces"]["ens3"]["method"] == "port"  # not DHCP: a port has no address
    assert config["interfaces"]["ens4"]["method"] == "port"
    assert len(config["networkmanager"]["profiles"]) == 3


def test_nm_run_replaces_etc_by_uuid_and_priority_picks(tmp_path):
    uuid = "33333333-3333-3333-3333-333333333333"
    config = host(
        tmp_path,
        {
            NM + "a.nmconnection": (
                f"[connection]\nid=a\nuuid={uuid}\ntype=ethernet\ninterface-name=ens3\n"
                "[ipv4]\nmethod=auto\n"
            ),
            "/run/NetworkManager/system-connections/a.nmconnection": (
                f"[connection]\nid=a-run\nuuid={uuid}\ntype=ethernet\ninterface-name=ens3\n"
                "[ipv4]\nmethod=manual\naddress1=192.168.1.3/24\n"
            ),
            NM + "low.nmconnection": (
                "[connection]\nid=low\ntype=ethernet\ninterface-name=ens4\n"
                "autoconnect-priority=-999\n[ipv4]\nmethod=auto\n"
            ),
            NM + "high.nmconnection": (
                "[connection]\nid=high\ntype=ethernet\ninterface-name=ens4\n"
                "autoconnect-priority=10\n[ipv4]\nmethod=manual\naddress1=192.168.1.4/24\n"
            ),
        },
    )
    assert config["interfaces"]["ens3"]["id"] == "a-run"
    assert config["interfaces"]["ens3"]["method"] == "static"
    assert config["interfaces"]["ens4"]["id"] == "high"


def test_nm_lease_files(tmp_path):
    uuid = "44444444-4444-4444-4444-444444444444"
    config = host(
        tmp_path,
        {
            f"/var/lib/NetworkManager/internal-{uuid}-ens3.lease": (
                "# This is private data. Do not parse.\nADDRESS=192.168.1.50\nLIFETIME=3600\n"
            ),
            f"/var/lib/NetworkManager/dhclient-{uuid}-ens4.lease": (
                'lease {\n  interface "ens4";\n  fixed-address 192.168.1.51;\n'
                "  expire 5 2026/11/20 09:04:55;\n}\n"
            ),
            "/var/lib/NetworkManager/timestamps": "[timestamps]\n",
        },
    )
    assert config["interfaces"]["ens3"]["leases"][0]["address"] == "192.168.1.50"
    assert config["interfaces"]["ens3"]["leases"][0]["client"] == "NetworkManager"
    assert config["interfaces"]["ens4"]["leases"][0]["address"] == "192.168.1.51"


# -- dhclient -----------------------------------------------------------------------------------


def lease(iface, address, expire):
    return f'lease {{\n  interface "{iface}";\n  fixed-address {address};\n  expire {expire};\n}}\n'


def test_dhclient_newest_lease_across_files_not_last_file(tmp_path):
    write(
        tmp_path,
        {
            # Read first, but holds the newest lease.
            "/var/lib/dhcp/dhclient.ens3.leases": lease(
                "ens3", "192.168.1.30", "3 2026/11/25 10:00:00"
            ),
            "/var/lib/dhcp/dhclient.leases": lease("ens3", "192.168.1.20", "1 2026/11/23 10:00:00")
            + lease("ens3", "192.168.1.21", "2 2026/11/24 10:00:00"),
        },
    )
    found = dhclient.collect(str(tmp_path), [])
    assert found["ens3"]["address"] == "192.168.1.30"
    assert found["ens3"]["file"] == "/var/lib/dhcp/dhclient.ens3.leases"


def test_dhclient_lease_times():
    assert dhclient.lease_time("epoch 1795165964; # Sat Nov 21 2026") == 1795165964.0
    assert dhclient.lease_time("never") == float("inf")
    assert dhclient.lease_time("4 2026/11/19 21:11:40") == 1795122700.0
    assert dhclient.lease_time("garbage") is None


def test_dhclient_within_a_file_the_later_lease_wins_at_equal_times():
    text = lease("eth0", "10.0.0.1", "never") + lease("eth0", "10.0.0.2", "never")
    leases = dhclient.parse_leases(text)
    assert [x["address"] for x in leases] == ["10.0.0.1", "10.0.0.2"]


# -- ifupdown -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "stanza,method",
    [
        ("iface ens3 inet manual\n    post-up /sbin/udhcpc -i ens3 -b\n", "dhcp"),
        ("iface ens3 inet static\n    address 192.168.1.3/24\n    up dhclient ens3\n", "dhcp"),
        ("iface ens3 inet manual\n    pre-up dhcpcd -b ens3\n", "dhcp"),
        ("iface ens3 inet manual\n    up ip link set $IFACE up\n", "none"),
        ("iface ens3 inet static\n    address 192.168.1.3\n    netmask 255.255.255.0\n", "static"),
        ("iface ens3 inet dhcp\n", "dhcp"),
    ],
)
def test_ifupdown_methods_and_dhcp_hooks(stanza, method):
    stanzas, _ = ifupdown.parse("auto ens3\n" + stanza)
    (entry,) = netresolve.ifupdown_records(stanzas)
    assert entry["method"] == method


def test_ifupdown_source_relative_and_source_directory(tmp_path):
    config = host(
        tmp_path,
        {
            "/etc/network/interfaces": (
                "source interfaces.d/*.cfg\nsource-directory /etc/network/more\n"
                "auto lo\niface lo inet loopback\n"
            ),
            "/etc/network/interfaces.d/ens3.cfg": "auto ens3\niface ens3 inet dhcp\n",
            "/etc/network/more/ens4": (
                "iface ens4 inet static\n  address 192.168.1.4/24\n"
                "iface ens4 inet6 static\n  address fd00::4/64\n"
            ),
            # run-parts names only: a dotted name in a source-directory is skipped.
            "/etc/network/more/ens4.bak": "iface ens4 inet dhcp\n",
        },
    )
    assert config["interfaces"]["ens3"]["method"] == "dhcp"
    assert config["interfaces"]["ens3"]["file"] == "/etc/network/interfaces.d/ens3.cfg"
    assert config["interfaces"]["ens4"]["method"] == "static"
    assert config["interfaces"]["ens4"]["method6"] == "static"
    assert config["interfaces"]["ens4"]["addresses"] == ["192.168.1.4/24", "fd00::4/64"]


# -- which configuration applies ----------------------------------------------------------------


def test_netplan_takes_precedence_and_others_are_listed(tmp_path):
    config = host(
        tmp_path,
        {
            "/etc/netplan/01.yaml": (
                "network:\n  ethernets:\n    ens3: {addresses: [192.168.1.3/24]}\n"
            ),
            "/etc/network/interfaces": "iface ens3 inet dhcp\n",
        },
    )
    ens3 = config["interfaces"]["ens3"]
    assert (ens3["source"], ens3["method"]) == ("netplan", "static")
    assert ens3["also"] == [
        {"source": "ifupdown", "file": "/etc/network/interfaces", "method": "dhcp"}
    ]


def test_without_sys_the_configuration_names_the_interfaces(tmp_path):
    write(tmp_path, {"/etc/netplan/01.yaml": "network:\n  ethernets:\n    eth0: {dhcp4: true}\n"})
    config = netconfig.collect(str(tmp_path))
    assert config["links"] == []
    assert config["interfaces"]["eth0"]["method"] == "dhcp"


def test_nm_address_forms_one_per_key():
    profile = networkmanager.parse_keyfile(
        "[connection]\nid=w\ntype=802-3-ethernet\n[ipv4]\nmethod=manual\n"
        "addresses1=192.168.0.5;24;192.168.0.1;\n"  # the oldest form: address;prefix;gateway
        "address2=192.168.1.5/24;192.168.1.254\n"
        "address3=192.168.2.5/24,192.168.2.1\n"
    )
    assert profile["addresses"] == ["192.168.0.5/24", "192.168.1.5/24", "192.168.2.5/24"]


def test_nm_keyfile_without_connection_section_takes_its_type_from_its_settings():
    profile = networkmanager.parse_keyfile("[802-3-ethernet]\n")
    assert profile["type"] == "802-3-ethernet" and profile["match"] == {"type": ["ether"]}
    assert profile["method"] == "dhcp"


def test_netplan_empty_network_and_renamed_entry_without_sys(tmp_path):
    write(
        tmp_path,
        {
            "/etc/netplan/00-empty.yaml": "network:\n",
            "/etc/netplan/01.yaml": (
                "network:\n  ethernets:\n    mainif:\n"
                "      match: {macaddress: 'de:ad:be:ef:ca:fe'}\n"
                "      set-name: mainif\n      addresses: [10.3.0.5/23]\n"
            ),
        },
    )
    config = netconfig.collect(str(tmp_path))
    assert config["errors"] == []
    assert config["interfaces"]["mainif"]["method"] == "static"


def test_networkd_permanent_mac_match():
    entry = networkd.parse_network(
        f"[Match]\nPermanentMACAddress={MAC3}\nName=ens3\n[Network]\nDHCP=ipv4\n", "/x"
    )
    assert netmatch.matches(entry, {"name": "ens3", "mac": MAC3})
    assert not netmatch.matches(entry, {"name": "ens3", "mac": MAC4})
