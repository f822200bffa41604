"""`--facts FILE`: saved facts and saved reports are judged; malformed files exit 2."""

import json

import pytest
from helpers import fixture_path, with_changes, write_json
from wire_preflight.facts.load import load_facts
from wire_preflight.model import InputError


def test_fixture_is_valid():
    assert load_facts(fixture_path("facts-ubuntu1804-kvm-4g.json"))["hostname"] == "cassandra1"


def test_a_saved_report_is_accepted(tmp_path, base_facts):
    path = write_json(
        tmp_path, "report.json", {"schema": "wire-preflight/report/1", "facts": base_facts}
    )
    assert load_facts(path)["hostname"] == "cassandra1"


@pytest.mark.parametrize(
    "content,message",
    [
        ("{not json", "is not valid JSON"),
        ("[1, 2]", "must hold a JSON object"),
        ('{"schema": "something/else"}', "field 'schema' must be"),
    ],
)
def test_malformed_files(tmp_path, content, message):
    path = tmp_path / "facts.json"
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        load_facts(str(path))


@pytest.mark.parametrize(
    "changes,field",
    [
        ({"memory__total_bytes": "4 GB"}, "memory.total_bytes"),
        ({"cpu__logical_count": True}, "cpu.logical_count"),
        ({"hostname": None}, "hostname"),
        ({"os": "ubuntu"}, "os"),
        ({"disks": [{"path": "/", "total_bytes": -0.5, "free_bytes": 1}]}, "disks[0].total_bytes"),
    ],
)
def test_wrong_types_name_the_field(tmp_path, base_facts, changes, field):
    path = write_json(tmp_path, "facts.json", with_changes(base_facts, **changes))
    with pytest.raises(InputError) as raised:
        load_facts(path)
    assert f"'{field}'" in str(raised.value)
    assert path in str(raised.value)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="cannot read facts file"):
        load_facts(str(tmp_path / "nope.json"))


def test_binary_garbage(tmp_path):
    path = tmp_path / "facts.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(InputError):
        load_facts(str(path))


@pytest.mark.live
def test_round_trip_of_live_facts(tmp_path):
    from wire_preflight.facts import collect

    path = write_json(tmp_path, "live.json", collect(["/"]))
    with open(path) as handle:
        assert json.load(handle)["schema"] == "wire-preflight/facts/1"
    load_facts(path)
