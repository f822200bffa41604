"""ip-drift across runs: the agent remembers the primary address in its state directory."""

import json
import os

from helpers import with_changes, write_json


def drift(run_cli, path, state_dir):
    code, out, _ = run_cli(
        "check", "--role", "cassandra", "--facts", path, "--json", "--state-dir", str(state_dir)
    )
    doc = json.loads(out)
    return code, [c for c in doc["checks"] if c["id"] == "ip-drift"][0]


def moved(facts, address):
    out = with_changes(facts)
    out["network"]["primary"]["address"] = address
    out["network"]["interfaces"][1]["addresses"][0]["address"] = address
    return out


def test_a_changed_primary_address_fails_once_naming_both(run_cli, tmp_path, base_facts):
    state_dir = tmp_path / "s"
    before = write_json(tmp_path, "before.json", base_facts)
    after = write_json(tmp_path, "after.json", moved(base_facts, "192.168.122.77"))
    assert drift(run_cli, before, state_dir)[1]["status"] == "pass"
    assert drift(run_cli, before, state_dir)[1]["status"] == "pass"
    code, result = drift(run_cli, after, state_dir)
    assert code == 3 and result["status"] == "fail"
    assert "from 192.168.122.21 to 192.168.122.77" in result["message"]
    assert drift(run_cli, after, state_dir)[1]["status"] == "pass"  # the new address is known


def test_state_is_kept_per_host(run_cli, tmp_path, base_facts):
    state_dir = tmp_path / "s"
    other = moved(
        with_changes(base_facts, machine_id="another", hostname="cassandra2"), "192.168.122.22"
    )
    drift(run_cli, write_json(tmp_path, "a.json", base_facts), state_dir)
    assert drift(run_cli, write_json(tmp_path, "b.json", other), state_dir)[1]["status"] == "pass"
    assert len(os.listdir(str(state_dir))) == 2


def test_corrupt_state_is_kept_aside_and_reported(run_cli, tmp_path, base_facts):
    state_dir = tmp_path / "s"
    path = write_json(tmp_path, "a.json", base_facts)
    drift(run_cli, path, state_dir)
    (name,) = os.listdir(str(state_dir))
    (state_dir / name).write_text("{truncated")
    code, result = drift(run_cli, path, state_dir)
    assert code == 3 and result["status"] == "error" and "not valid JSON" in result["message"]
    kept = [n for n in os.listdir(str(state_dir)) if ".corrupt-" in n]
    assert len(kept) == 1 and (state_dir / kept[0]).read_text() == "{truncated"
    assert drift(run_cli, path, state_dir)[1]["status"] == "pass"


def test_unwritable_state_dir_warns(run_cli, tmp_path, base_facts):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    code, result = drift(run_cli, write_json(tmp_path, "a.json", base_facts), blocker / "s")
    assert code == 4 and result["status"] == "warn" and "cannot remember" in result["message"]
