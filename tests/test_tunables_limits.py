"""sysctl/sysfs readers and the limit parsers on files in their real formats."""

import pytest
from wire_preflight.checks.limits import effective_limit
from wire_preflight.facts import limits, tunables


def write(root, path, text):
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)


def test_tunables_from_a_tree(tmp_path):
    write(tmp_path, "/proc/sys/vm/max_map_count", "262144\n")
    write(tmp_path, "/sys/kernel/mm/transparent_hugepage/enabled", "always [madvise] never\n")
    write(tmp_path, "/proc/sys/net/ipv4/ip_forward", "garbage\n")
    write(
        tmp_path,
        "/proc/swaps",
        "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
        "/swap.img                               file\t\t2097148"
        "\t\t0\t\t-2\n",
    )
    values = tunables.collect(str(tmp_path))
    assert values["vm.max_map_count"]["value"] == 262144
    assert values["transparent_hugepage.enabled"]["value"] == "madvise"
    assert "unexpected content" in values["net.ipv4.ip_forward"]["error"]
    assert "No such file" in values["vm.zone_reclaim_mode"]["error"]
    assert values["swaps"]["value"] == [
        {"device": "/swap.img", "type": "file", "size_bytes": 2097148 * 1024}
    ]
    assert values["br_netfilter_loaded"]["value"] is False


@pytest.mark.parametrize(
    "raw,soft",
    [
        ("65535", 65535),
        ("1024:524288", 1024),
        ("infinity", -1),
        ("64K", 65536),
        ("8M", 8 * 1024 * 1024),
        ("unlimited", -1),
        ("lots", None),
    ],
)
def test_parse_limit(raw, soft):
    assert limits.parse_limit(raw) == soft


UNIT = """[Unit]
Description=Elasticsearch
[Service]
Type=notify
LimitNOFILE=65535
LimitNPROC=4096
LimitNOFILE=65536
[Install]
WantedBy=multi-user.target
"""


def test_unit_setting_last_wins_and_section_matters():
    assert limits.parse_unit_setting(UNIT, "Service", "LimitNOFILE") == "65536"
    assert limits.parse_unit_setting(UNIT, "Install", "LimitNOFILE") is None


def test_limits_conf_lines():
    entries = limits.parse_limits_conf(
        "# /etc/security/limits.d/cassandra.conf\n"
        "cassandra  -  memlock  unlimited\n"
        "cassandra  -  nofile   100000\n"
        "@admins    hard nproc 50\n"
        "*  soft  memlock  64\n"
        "broken line\n"
    )
    assert [(e["domain"], e["item"], e["soft"]) for e in entries] == [
        ("cassandra", "memlock", -1),
        ("cassandra", "nofile", 100000),
        ("@admins", "nproc", 50),
        ("*", "memlock", 65536),
    ]


def test_collect_and_resolve_from_a_tree(tmp_path):
    write(tmp_path, "/lib/systemd/system/elasticsearch.service", UNIT)
    write(
        tmp_path,
        "/etc/systemd/system/elasticsearch.service.d/override.conf",
        "[Service]\nLimitNOFILE=1024\n",
    )
    write(tmp_path, "/etc/security/limits.d/cassandra.conf", "cassandra - nofile 100000\n")
    write(
        tmp_path,
        "/etc/systemd/system.conf",
        "[Manager]\n#DefaultLimitNOFILE=\nDefaultLimitNPROC=8192\n",
    )
    facts = limits.collect(["elasticsearch", "cassandra"], str(tmp_path))
    # The drop-in comes after the unit and wins.
    value, origin, installed = effective_limit(facts, "nofile", "elasticsearch", "elasticsearch")
    assert (value, installed) == (1024, True) and "override.conf" in origin
    value, origin, installed = effective_limit(facts, "nproc", "elasticsearch", "elasticsearch")
    assert value == 4096 and "LimitNPROC=4096" in origin
    # Not installed: limits.d for the user counts.
    value, origin, installed = effective_limit(facts, "nofile", "cassandra", "cassandra")
    assert (value, installed) == (100000, False) and "limits.d/cassandra.conf" in origin
    value, origin, _ = effective_limit(facts, "nproc", "cassandra", "cassandra")
    assert value == 8192 and "DefaultLimitNPROC" in origin
    value, origin, _ = effective_limit(facts, "memlock", "cassandra", "cassandra")
    assert value == 64 * 1024 and "nothing sets it" in origin
