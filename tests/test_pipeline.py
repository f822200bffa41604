"""The pipeline as plain functions (pipeline.py) and the text tables (render/tables.py),
called directly, without the command line."""

import json

import pytest
from helpers import GIB, fixture_path, with_changes, write_json
from wire_preflight import pipeline, report
from wire_preflight.model import FAIL, InputError

FACTS = fixture_path("facts-ubuntu1804-kvm-4g.json")


def test_evaluate_returns_results_and_a_report_that_agree(tmp_path):
    options = pipeline.Options(roles=["cassandra"], facts_file=FACTS, state_dir=str(tmp_path))
    results, doc = pipeline.evaluate(options)
    assert "_results" not in doc
    assert doc["checks"] == [r.to_json() for r in results]
    assert doc["options"]["state_dir"] == str(tmp_path)
    json.dumps(doc)  # the report is plain JSON as it stands


def test_steps_one_by_one_touch_no_state(tmp_path, base_facts):
    options = pipeline.Options(roles=["cassandra", "cassandra"], ignore=["cpu"])
    question = pipeline.prepare(options)
    assert question.roles == ["cassandra"]
    small = with_changes(base_facts, memory__installed_bytes=3 * GIB)
    results = pipeline.judge(small, question, options)
    assert [r.status for r in results if r.id == "memory"] == [FAIL]
    doc = pipeline.document(small, question, options, results, str(tmp_path))
    assert doc["summary"]["exit_code"] == 3 and doc["options"]["ignore"] == ["cpu"]
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "options,words",
    [
        ({}, "--role"),
        ({"roles": ["redis"]}, "unknown role 'redis'"),
        ({"roles": ["cassandra"], "ignore": ["cpus"]}, "no such check"),
        ({"roles": ["cassandra"], "target_ip": "10.0.0.1", "target_interface": "eth0"}, "--ip"),
        ({"roles": ["cassandra"], "k8s_cidrs": ["10.0.0.0/33"]}, "10.0.0.0/33"),
    ],
)
def test_prepare_refuses_bad_options(options, words):
    with pytest.raises(InputError, match=words):
        pipeline.prepare(pipeline.Options(**options))


def test_gather_reads_a_saved_facts_file(tmp_path, base_facts):
    path = write_json(tmp_path, "f.json", with_changes(base_facts, hostname="saved"))
    options = pipeline.Options(roles=["cassandra"], facts_file=path)
    assert pipeline.gather(options, pipeline.prepare(options))["hostname"] == "saved"


def test_drift_table():
    from wire_preflight.render.tables import drift_lines

    events = [
        {
            "time": 86400.0,
            "hostname": "cass\x1b[31m1",
            "kind": "address",
            "open": True,
            "detail": "192.168.1.5 -> 192.168.1.6",
        },
        {"time": 0, "hostname": "kube1", "kind": "roles", "open": False, "detail": "x"},
    ]
    lines = drift_lines(events)
    assert lines[0].split() == ["TIME", "(UTC)", "HOST", "KIND", "STATE", "DETAIL"]
    assert lines[1].startswith("1970-01-02 00:00:00  cass?[31m1")
    assert lines[1].split()[-4:] == ["open", "192.168.1.5", "->", "192.168.1.6"]
    assert lines[2].split()[-2:] == ["accepted", "x"]
    assert lines[-1] == "2 event(s)"


def test_plan_table_lists_every_role_and_the_derived_totals():
    from wire_preflight import profiles
    from wire_preflight.plan.vms import fleet_plan
    from wire_preflight.render.tables import plan_lines

    profile = profiles.load("classic")
    lines = plan_lines(fleet_plan(profile, 0), profile.name, 0)
    assert lines[0] == "profile classic"
    assert [line.split()[0] for line in lines[2 : 2 + len(profile.roles)]] == list(profile.roles)
    assert any(line.startswith("per physical server (") and "11 cores" in line for line in lines)


def test_the_evaluation_says_which_state_directory_it_used(tmp_path, private_state_dir):
    given = pipeline.evaluate(
        pipeline.Options(roles=["cassandra"], facts_file=FACTS, state_dir=str(tmp_path / "s"))
    )
    assert given.state_dir == str(tmp_path / "s")
    default = pipeline.evaluate(pipeline.Options(roles=["cassandra"], facts_file=FACTS))
    assert default.state_dir == str(private_state_dir)


def test_report_works_out_the_state_directory_once(tmp_path, run_cli, monkeypatch):
    # The spool and the host key go where evaluate() kept the state: one answer, asked once.
    import socket

    from wire_preflight import state

    asked = []
    default_dir = state.default_dir
    monkeypatch.setattr(state, "default_dir", lambda: asked.append(1) or default_dir())
    token = tmp_path / "token"
    token.write_text("pipeline-test-token-0123456789\n")
    token.chmod(0o600)  # a secret: other users may not read it
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    _code, out, err = run_cli(
        "report",
        "--collector",
        f"http://127.0.0.1:{port}",
        "--token-file",
        str(token),
        "--role",
        "cassandra",
        "--facts",
        FACTS,
    )
    assert "spooled" in out, (out, err)
    assert len(asked) == 1
    assert len(list((tmp_path / "state" / "spool").glob("*.json"))) == 1


def test_report_ids_are_random_version_4_uuids_as_uuid_writes_them(tmp_path):
    import uuid

    options = pipeline.Options(roles=["cassandra"], facts_file=FACTS, state_dir=str(tmp_path))
    ids = [pipeline.evaluate(options)[1]["report_id"] for _ in range(3)]
    ids += [report.new_report_id() for _ in range(500)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, text)


def test_a_program_is_the_first_executable_file_of_that_name_on_the_path(tmp_path, monkeypatch):
    from wire_preflight.facts import programs

    name = "wp-test-tool-nowhere-else"
    plain, folder, runnable, later = (tmp_path / d for d in ("plain", "folder", "run", "later"))
    for directory in (plain, folder, runnable, later):
        directory.mkdir()
    (plain / name).write_text("#!/bin/sh\n")  # not executable
    (folder / name).mkdir(mode=0o755)  # a directory, even an executable one
    for directory in (runnable, later):
        (directory / name).write_text("#!/bin/sh\n")
        (directory / name).chmod(0o755)
    monkeypatch.setenv("PATH", ":".join(map(str, (plain, folder, runnable, later))))
    assert programs.which(name) == str(runnable / name)
    assert programs.which(name + "-absent") is None
    monkeypatch.setenv("PATH", str(plain))
    assert programs.which(name) is None
    assert programs.which("sh") in {"/usr/bin/sh", "/bin/sh"}  # the system directories too
