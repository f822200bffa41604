"""The timer, the cron entry, the config file, install-timer and the node_exporter textfile."""

import os
import shutil
import subprocess
import sys

import pytest
from helpers import fixture_path, run_process

UNITS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "packaging")
FACTS = fixture_path("facts-ubuntu1804-kvm-4g.json")


def read(*parts):
    with open(os.path.join(UNITS, *parts)) as handle:
        return handle.read()


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not here")
def test_units_pass_systemd_analyze_verify(tmp_path):
    # verify insists that ExecStart exists: point it at the agent the tests installed.
    agent = shutil.which("wire-preflight") or sys.executable
    for name in ("wire-preflight.service", "wire-preflight.timer"):
        text = read("systemd", name).replace("/usr/bin/wire-preflight", agent)
        (tmp_path / name).write_text(text)
    # --man=no: the man page the unit names comes with the .deb (help2man), not with pip.
    done = subprocess.run(
        [
            "systemd-analyze",
            "verify",
            "--man=no",
            str(tmp_path / "wire-preflight.service"),
            str(tmp_path / "wire-preflight.timer"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "wire-preflight" not in done.stderr, done.stderr


def test_units_say_what_they_promise():
    service = read("systemd", "wire-preflight.service")
    timer = read("systemd", "wire-preflight.timer")
    assert (
        "ExecStart=/usr/bin/wire-preflight report --config /etc/wire-preflight/agent.conf"
        in service
    )
    assert "ConditionPathExists=/etc/wire-preflight/agent.conf" in service
    assert "SuccessExitStatus=3 4" in service
    assert "RandomizedDelaySec=" in timer and "OnUnitActiveSec=5min" in timer


def test_cron_line_parses():
    croniter = pytest.importorskip("croniter")
    lines = [
        line
        for line in read("cron", "wire-preflight").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert len(lines) == 1
    fields = lines[0].split()
    schedule, user, command = " ".join(fields[:5]), fields[5], fields[6:]
    assert croniter.croniter.is_valid(schedule)
    times = croniter.croniter(schedule, 0)
    assert times.get_next(float) - 0 == 300 and times.get_next(float) == 600  # every 5 min
    assert user == "root"
    assert command[:4] == [
        "/usr/bin/wire-preflight",
        "report",
        "--config",
        "/etc/wire-preflight/agent.conf",
    ]
    assert "--random-delay" in command


def test_install_timer_into_a_root(tmp_path):
    done = run_process("install-timer", "--root", str(tmp_path))
    assert done.returncode == 0, done.stderr
    service = (tmp_path / "etc/systemd/system/wire-preflight.service").read_text()
    assert "ExecStart=" in service and "report --config /etc/wire-preflight/agent.conf" in service
    assert (tmp_path / "etc/systemd/system/wire-preflight.timer").exists()
    example = tmp_path / "etc/wire-preflight/agent.conf"
    assert "# roles = " in example.read_text()
    # The example sets nothing, so the timer is not enabled and says what to set first.
    from wire_preflight import config

    assert config.load(str(example)) == {}
    assert "not enabled" in done.stdout and "names no collector" in done.stdout
    mine = "[agent]\nroles = minio\ncollector = https://admin.example:8443\n"
    example.write_text(mine)
    again = run_process("install-timer", "--root", str(tmp_path), "--cron")
    assert "kept the existing" in again.stdout  # an operator's config is never overwritten
    assert "names no collector" not in again.stdout
    assert example.read_text() == mine
    assert "report --config" in (tmp_path / "etc/cron.d/wire-preflight").read_text()
    timer = run_process("install-timer", "--root", str(tmp_path))
    assert "--root given" in timer.stdout  # named a collector: only --root keeps it off


def test_example_config_is_all_comments():
    # Nothing in the shipped example may apply until the operator edits it (#12).
    lines = [line for line in read("config", "agent.conf").splitlines() if line.strip()]
    assert [line for line in lines if not line.startswith("#")] == ["[agent]"]


def test_install_timer_refuses_a_broken_config(tmp_path):
    (tmp_path / "etc/wire-preflight").mkdir(parents=True)
    (tmp_path / "etc/wire-preflight/agent.conf").write_text("[agent]\nrole_s = x\n")
    done = run_process("install-timer", "--root", str(tmp_path))
    assert done.returncode == 2 and "unknown key 'role_s'" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_check_reads_the_config_file(tmp_path):
    config = tmp_path / "agent.conf"
    config.write_text(
        "[agent]\nroles = cassandra\nphysical_host = server7  # a comment\nstate_dir = {}\n".format(
            tmp_path / "state"
        )
    )
    done = run_process("check", "--config", str(config), "--facts", FACTS, "--json")
    assert done.returncode == 0, done.stderr
    import json

    doc = json.loads(done.stdout)
    assert doc["roles"] == ["cassandra"] and doc["physical_host"] == "server7"
    overridden = run_process(
        "check", "--config", str(config), "--facts", FACTS, "--json", "--physical-host", "server9"
    )
    assert json.loads(overridden.stdout)["physical_host"] == "server9"


@pytest.mark.parametrize(
    "text,words",
    [
        ("[agent]\nrole_s = x\n", "unknown key 'role_s'"),
        ("[other]\nroles = x\n", "no [agent] section"),
        ("[agent]\nsft_users = many\n", "'sft_users' must be a whole number"),
        ("roles = x\n", "is not valid"),
    ],
)
def test_bad_config_is_one_line(tmp_path, text, words):
    config = tmp_path / "agent.conf"
    config.write_text(text)
    done = run_process("check", "--config", str(config), "--facts", FACTS)
    assert done.returncode == 2
    assert words in done.stderr and len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "command,text,words",
    [
        (
            "check",
            "[agent]\nroles = cassandra\n[agnet]\nphysical_host = s1\n",
            "unknown section [agnet]",
        ),
        ("check", "[agnet]\nroles = cassandra\n", "no [agent] section (found [agnet])"),
        ("check", "[DEFAULT]\nroles = cassandra\n[agent]\n", "keys under [DEFAULT] (roles) are"),
        ("check", "[agent]\nroles = cassandra\nrole = minio\n", "both 'roles' and 'role'"),
        ("check", "[agent]\nroles = cassandra\nip = 999.1.1.1\n", "invalid value for 'ip': '999"),
        ("check", "[agent]\nroles = cassandra\nk8s_cidr = 10.0.0.0/33\n", "for 'k8s_cidr'"),
        ("check", "[agent]\nroles = cassandra\nsft_users = -1\n", "for 'sft_users': -1 is not"),
        ("report", "[agent]\nroles = cassandra\nspool_max = 0\n", "for 'spool_max': 0 is not"),
    ],
)
def test_what_the_config_file_cannot_say_names_it(tmp_path, command, text, words):
    # Silently ignored before (a section, [DEFAULT]), or one key silently winning over the
    # other, or blamed on an option the command line never gave.
    config = tmp_path / "agent.conf"
    config.write_text(text)
    done = run_process(command, "--config", str(config), "--facts", FACTS)
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert f"config {config}" in done.stderr and words in done.stderr, done.stderr


def test_a_bad_value_on_the_command_line_names_the_option_not_the_config(tmp_path):
    config = tmp_path / "agent.conf"
    config.write_text("[agent]\nroles = cassandra\nip = 10.0.0.1\n")
    done = run_process("check", "--config", str(config), "--facts", FACTS, "--ip", "999.1.1.1")
    assert done.returncode == 2
    assert "Invalid value for '--ip'" in done.stderr and str(config) not in done.stderr


def test_report_needs_a_collector(tmp_path):
    done = run_process("report", "--role", "cassandra", "--facts", FACTS)
    assert done.returncode == 2 and "--collector" in done.stderr


def test_textfile_for_node_exporter(tmp_path):
    from prometheus_client.parser import text_string_to_metric_families

    path = tmp_path / "wire-preflight.prom"
    done = run_process(
        "check",
        "--role",
        "cassandra",
        "--facts",
        FACTS,
        "--textfile",
        str(path),
        "--state-dir",
        str(tmp_path / "state"),
    )
    assert done.returncode == 0, done.stderr
    families = {f.name: f for f in text_string_to_metric_families(path.read_text())}
    statuses = {
        (s.labels["check"], s.labels["status"])
        for s in families["wire_preflight_check_status"].samples
    }
    assert ("memory", "pass") in statuses and ("ip-drift", "pass") in statuses
    assert families["wire_preflight_last_run_timestamp_seconds"].samples[0].value > 1.7e9
    assert [n for n in os.listdir(str(tmp_path)) if n.startswith(".") or ".tmp" in n] == []
    unwritable = run_process(
        "check",
        "--role",
        "cassandra",
        "--facts",
        FACTS,
        "--textfile",
        str(tmp_path / "missing" / "x.prom"),
    )
    assert unwritable.returncode == 2 and "cannot write --textfile" in unwritable.stderr


def test_one_schedule_at_a_time_and_it_says_what_it_removed(tmp_path):
    units = tmp_path / "etc/systemd/system"
    cron = tmp_path / "etc/cron.d/wire-preflight"
    assert run_process("install-timer", "--root", str(tmp_path)).returncode == 0
    # An image whose timer was enabled (the symlink systemctl enable makes).
    wants = units / "timers.target.wants"
    wants.mkdir()
    (wants / "wire-preflight.timer").symlink_to("../wire-preflight.timer")

    to_cron = run_process("install-timer", "--root", str(tmp_path), "--cron")
    assert to_cron.returncode == 0, to_cron.stderr
    assert cron.exists()
    assert not (units / "wire-preflight.timer").exists()
    assert not (units / "wire-preflight.service").exists()
    assert not os.path.lexists(wants / "wire-preflight.timer")
    assert f"removed {units}/wire-preflight.timer (the cron entry replaces" in to_cron.stdout

    to_timer = run_process("install-timer", "--root", str(tmp_path))
    assert to_timer.returncode == 0, to_timer.stderr
    assert (units / "wire-preflight.timer").exists() and not cron.exists()
    assert f"removed {cron} (the systemd timer replaces the cron entry)" in to_timer.stdout


def test_cron_is_refused_while_the_packages_timer_is_enabled(tmp_path):
    # The .deb's timer lives in /lib/systemd/system: install-timer did not put it there and
    # does not remove it, but will not add a second schedule beside it.
    wants = tmp_path / "etc/systemd/system/timers.target.wants"
    wants.mkdir(parents=True)
    (wants / "wire-preflight.timer").symlink_to("/lib/systemd/system/wire-preflight.timer")
    done = run_process("install-timer", "--root", str(tmp_path), "--cron")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "systemctl disable --now wire-preflight.timer" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "etc/cron.d/wire-preflight").exists()
