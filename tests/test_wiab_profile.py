"""The wiab profile (Wire in a box, the demo installation) and the host-firewall check, on
firewall files in the formats ufw, systemd and iptables-persistent write."""

import pytest
from helpers import (
    GIB,
    UFW_DEFAULT_DROP,
    UFW_ON,
    demo_facts,
    judge,
    one,
    ufw_user_rules,
    with_changes,
)
from wire_preflight import profiles
from wire_preflight.checks.firewall import ufw_allows
from wire_preflight.facts import firewall
from wire_preflight.model import FAIL, PASS, WARN

ALL_OPEN = ufw_user_rules(
    "allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in",
    "allow tcp 80,443 0.0.0.0/0 any 0.0.0.0/0 in",
    "allow any 3478 0.0.0.0/0 any 0.0.0.0/0 in comment=7475726e",
    "allow udp 32768:65535 0.0.0.0/0 any 0.0.0.0/0 in",
)


def test_wiab_profile_numbers_and_source():
    profile = profiles.load("wiab")
    assert profile.os_versions == ["24.04"]
    role = profile.role("wiab")
    assert role.cores == 16
    # Strictly more than 16 GiB and 200 GiB, in the profile's decimal GB.
    assert role.memory_gb * 1e9 > 16 * GIB and role.disk_gb * 1e9 > 200 * GIB
    assert "planning.md" in profile.source
    assert profile.host["host-firewall"]["wiab"]["udp"] == [3478, "32768-65535"]


def test_demo_vm_without_a_firewall_passes(base_facts, tmp_path):
    facts = demo_facts(base_facts, tmp_path, {"/etc/hostname": "wiab\n"})
    results = judge(facts, ["wiab"], profile="wiab")
    for check_id in ("os", "cpu", "memory", "disk", "ip-forward", "host-firewall"):
        assert one(results, check_id).status == PASS, one(results, check_id)


def test_demo_vm_too_small(base_facts, tmp_path):
    facts = demo_facts(base_facts, tmp_path, {})
    facts = with_changes(facts, cpu__logical_count=8, memory__installed_bytes=16 * GIB)
    # A filesystem is judged with the profile's 5% allowance for its own overhead: what a
    # 200 GiB disk leaves passes, 190 GiB does not.
    facts["disks"][0]["total_bytes"] = 190 * GIB
    results = judge(facts, ["wiab"], profile="wiab")
    assert one(results, "cpu").status == FAIL
    assert one(results, "memory").status == FAIL  # exactly 16 GiB is not more than 16 GiB
    assert one(results, "disk").status == FAIL


def test_ip_forward_off_fails_the_demo(base_facts, tmp_path):
    facts = demo_facts(base_facts, tmp_path, {})
    facts["tunables"]["net.ipv4.ip_forward"]["value"] = 0
    assert one(judge(facts, ["wiab"], profile="wiab"), "ip-forward").status == FAIL


def test_ufw_enabled_without_the_ports_fails_naming_them(base_facts, tmp_path):
    facts = demo_facts(
        base_facts,
        tmp_path,
        {
            "/etc/ufw/ufw.conf": UFW_ON,
            "/etc/default/ufw": UFW_DEFAULT_DROP,
            "/etc/ufw/user.rules": ufw_user_rules("allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in"),
        },
    )
    result = one(judge(facts, ["wiab"], profile="wiab"), "host-firewall")
    assert result.status == FAIL
    assert "does not allow 80/tcp, 443/tcp, 3478/tcp, 3478/udp, 32768-65535/udp" in result.message
    assert "ufw allow 32768:65535/udp" in result.remedy


def test_ufw_enabled_with_every_port_allowed_warns(base_facts, tmp_path):
    facts = demo_facts(
        base_facts,
        tmp_path,
        {
            "/etc/ufw/ufw.conf": UFW_ON,
            "/etc/default/ufw": UFW_DEFAULT_DROP,
            "/etc/ufw/user.rules": ALL_OPEN,
        },
    )
    result = one(judge(facts, ["wiab"], profile="wiab"), "host-firewall")
    assert result.status == WARN and "allow these ports" in result.message


def test_ufw_installed_but_disabled_passes(base_facts, tmp_path):
    facts = demo_facts(base_facts, tmp_path, {"/etc/ufw/ufw.conf": "ENABLED=no\n"})
    assert one(judge(facts, ["wiab"], profile="wiab"), "host-firewall").status == PASS


@pytest.mark.parametrize(
    "files,words",
    [
        (
            {"/etc/systemd/system/multi-user.target.wants/firewalld.service": "[Unit]\n"},
            "firewalld is enabled",
        ),
        (
            {
                "/etc/systemd/system/sysinit.target.wants/nftables.service": "[Unit]\n",
                "/etc/nftables.conf": "table inet filter {\n  chain input {\n"
                "    type filter hook input priority filter; policy drop;\n  }\n}\n",
            },
            "nftables starts with an input policy of drop",
        ),
        (
            {
                "/etc/iptables/rules.v4": (
                    "*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\nCOMMIT\n"
                )
            },
            "saved iptables rules drop input",
        ),
    ],
)
def test_other_host_firewalls(base_facts, tmp_path, files, words):
    facts = demo_facts(base_facts, tmp_path, files)
    result = one(judge(facts, ["wiab"], profile="wiab"), "host-firewall")
    assert result.status == FAIL and words in result.message


def test_other_profiles_do_not_judge_host_firewalls(base_facts):
    assert not [r for r in judge(base_facts, ["cassandra"]) if r.id == "host-firewall"]


def test_ufw_rule_tuples():
    parsed = firewall.parse_ufw_rules(
        "### tuple ### allow_log tcp 22 0.0.0.0/0 any 0.0.0.0/0 in_ens3\n"
        "### tuple ### deny udp 53 0.0.0.0/0 any 0.0.0.0/0 out\n"
        "### tuple ### allow tcp 80 0.0.0.0/0 any 0.0.0.0/0 Apache - in\n"
    )
    assert parsed == [
        {"action": "allow", "proto": "tcp", "port": "22", "direction": "in"},
        {"action": "deny", "proto": "udp", "port": "53", "direction": "out"},
        {"action": "allow", "proto": "tcp", "port": "80", "direction": "in"},
    ]
    assert ufw_allows(parsed, "tcp", 22, 22)
    assert not ufw_allows(parsed, "udp", 53, 53)


def test_wire_demo_inventory_group_maps_to_the_wiab_role(tmp_path):
    from wire_preflight.fleet import inventory

    path = tmp_path / "host.yml"
    path.write_text(
        "wiab:\n  hosts:\n    deploy_node:\n      ansible_host: example.com\n"
        "      ansible_user: 'ubuntu'\n  vars:\n    target_domain: \"example.com\"\n"
    )
    profile = profiles.load("wiab")
    hosts = inventory.planned_hosts(
        inventory.load(str(path)), profile.inventory_groups, profile.etcd_group
    )
    assert [(h["name"], h["roles"]) for h in hosts] == [("deploy_node", ["wiab"])]


@pytest.mark.parametrize(
    "text,expected",
    [
        ("ENABLED=yes\n", {"ENABLED": "yes"}),
        # a comment after the value is the shell's comment, not part of the value
        ("ENABLED=yes  # turned on by ufw enable\n", {"ENABLED": "yes"}),
        (
            "DEFAULT_INPUT_POLICY=\"DROP\"\nexport IPV6='yes'\n",
            {"DEFAULT_INPUT_POLICY": "DROP", "IPV6": "yes"},
        ),
        (
            'IPT_MODULES="nf_conntrack_ftp nf_nat_ftp"\n',
            {"IPT_MODULES": "nf_conntrack_ftp nf_nat_ftp"},
        ),
        ("# ENABLED=yes\nENABLED=no\n", {"ENABLED": "no"}),
        # an unclosed quote spoils its own line only
        ('ENABLED=yes\nBROKEN="unclosed\n', {"ENABLED": "yes"}),
    ],
)
def test_shell_variables_are_split_as_the_shell_does(text, expected):
    assert firewall.parse_shell_vars(text) == expected


def test_ufw_enabled_with_a_trailing_comment_is_enabled(base_facts, tmp_path):
    facts = demo_facts(
        base_facts,
        tmp_path,
        {
            "/etc/ufw/ufw.conf": "ENABLED=yes # ufw enable\n",
            "/etc/default/ufw": UFW_DEFAULT_DROP,
            "/etc/ufw/user.rules": ufw_user_rules("allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in"),
        },
    )
    assert facts["firewall"]["ufw"]["enabled"] is True
    result = one(judge(facts, ["wiab"], profile="wiab"), "host-firewall")
    assert result.status == FAIL and "UFW is enabled" in result.message
