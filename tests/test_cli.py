"""The command line: exit codes, one-line errors, JSON, JUnit and text output."""

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import click
import pytest
from helpers import GIB, fixture_path, run_process, with_changes, write_json

FACTS = fixture_path("facts-ubuntu1804-kvm-4g.json")
CHECK_FIELDS = {"id", "role", "status", "observed", "expected", "message", "remedy"}


def test_passing_vm_exits_0(run_cli):
    code, out, err = run_cli("check", "--role", "cassandra", "--facts", FACTS)
    assert code == 0, out + err
    verdict = out.splitlines()[-1]
    assert verdict.startswith("PASS: ") and verdict.endswith(" pass"), verdict


def test_failing_vm_exits_3(run_cli, tmp_path, base_facts):
    small = with_changes(base_facts, memory__installed_bytes=3 * GIB)
    code, out, _ = run_cli(
        "check", "--role", "cassandra", "--facts", write_json(tmp_path, "f.json", small)
    )
    assert code == 3
    assert "fail memory [cassandra]" in out
    assert "fix: give the VM at least 4 GB of RAM" in out


def test_warnings_only_exit_4(run_cli, tmp_path, base_facts):
    facts = with_changes(base_facts, os__version_id="20.04")
    code, out, _ = run_cli(
        "check", "--role", "cassandra", "--facts", write_json(tmp_path, "f.json", facts)
    )
    assert code == 4
    assert out.splitlines()[-1].startswith("WARN:")


def test_ignore_makes_a_failure_a_warning(run_cli, tmp_path, base_facts):
    path = write_json(tmp_path, "f.json", with_changes(base_facts, cpu__logical_count=1))
    assert run_cli("check", "--role", "cassandra", "--facts", path)[0] == 3
    assert run_cli("check", "--role", "cassandra", "--facts", path, "--ignore", "cpu")[0] == 4


def test_unknown_ignore_id_is_bad_usage(run_cli):
    code, _, err = run_cli("check", "--role", "cassandra", "--facts", FACTS, "--ignore", "cpus")
    assert code == 2
    assert "no such check" in err and "memory" in err


def test_unknown_role_is_one_line_naming_the_roles(run_cli):
    code, out, err = run_cli("check", "--role", "redis", "--facts", FACTS)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert "unknown role 'redis'" in lines[0] and "cassandra" in lines[0]


def test_broken_profile_exits_2(run_cli, tmp_path):
    path = tmp_path / "p.toml"
    path.write_text("schema = 1\nname = 'x'\n[os]\nid = 'ubuntu'\n")
    code, _, err = run_cli("check", "--role", "cassandra", "--facts", FACTS, "--profile", str(path))
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert str(path) in err and "'os.versions'" in err


def test_malformed_facts_exits_2(run_cli, tmp_path):
    path = tmp_path / "facts.json"
    path.write_text('{"schema": "wire-preflight/facts/1", "hostname": 42}')
    code, _, err = run_cli("check", "--role", "cassandra", "--facts", str(path))
    assert code == 2
    assert err.strip() == (
        f"wire-preflight: error: facts file {path}: field 'hostname' must be str, got 42"
    )


def test_missing_role_is_usage_error(run_cli):
    code, _, err = run_cli("check", "--facts", FACTS)
    assert code == 2
    assert "--role" in err


def test_internal_error_exits_1_without_traceback(run_cli, monkeypatch):
    from wire_preflight.checks import resources

    def broken(context):
        raise RuntimeError("boom")

    monkeypatch.setattr(resources, "check_cpu", broken)
    code, _, err = run_cli("check", "--role", "cassandra", "--facts", FACTS)
    assert code == 1
    assert "internal error: RuntimeError: boom" in err
    assert "Traceback" not in err


def test_json_report_structure(run_cli):
    code, out, _ = run_cli(
        "check",
        "--role",
        "cassandra",
        "--role",
        "minio",
        "--facts",
        FACTS,
        "--physical-host",
        "server-a",
        "--json",
        "--data-dir",
        "minio=/var/lib/cassandra",
    )
    doc = json.loads(out)
    assert doc["schema"] == "wire-preflight/report/1"
    assert doc["roles"] == ["cassandra", "minio"]
    assert doc["physical_host"] == "server-a"
    assert doc["profile"]["name"] == "classic"
    assert doc["facts"]["hostname"] == "cassandra1"
    ids = [c["id"] for c in doc["checks"]]
    assert ids[:5] == ["os", "hostname", "cpu", "memory", "disk"]
    assert {"ip-static", "ip-range", "ip-drift", "time-sync", "minio-drive"} <= set(ids)
    for item in doc["checks"]:
        assert set(item) >= CHECK_FIELDS
    # cassandra + minio: 3 cores, 6 GB, 480 GB on one filesystem; the VM has 2, 4 GiB, 80 GB.
    assert doc["summary"]["exit_code"] == code == 3
    failed = {c["id"] for c in doc["checks"] if c["status"] == "fail"}
    assert failed == {"cpu", "memory", "disk"}


def test_junit(run_cli, tmp_path, base_facts):
    path = write_json(tmp_path, "f.json", with_changes(base_facts, cpu__logical_count=1))
    junit = tmp_path / "out.xml"
    run_cli("check", "--role", "cassandra", "--facts", path, "--junit", str(junit))
    suite = ET.parse(str(junit)).getroot()
    assert suite.get("tests") == str(len(list(suite))) and suite.get("failures") == "1"
    failed = [c.get("name") for c in suite if c.find("failure") is not None]
    assert failed == ["cpu"]


def test_plain_text_in_a_pipe_has_no_escape_codes():
    done = run_process("check", "--role", "cassandra", "--facts", FACTS)
    assert done.returncode == 0
    assert "\x1b[" not in done.stdout
    assert done.stdout.splitlines()[0].startswith("pass os [cassandra]")


def test_hostile_strings_do_not_reach_the_terminal(run_cli, tmp_path, base_facts):
    facts = with_changes(base_facts, hostname="evil\x1b[2J\x07name")
    code, out, _ = run_cli(
        "check", "--role", "cassandra", "--facts", write_json(tmp_path, "f.json", facts)
    )
    assert code == 3
    assert "\x1b" not in out and "\x07" not in out


def test_profiles_command(run_cli):
    code, out, _ = run_cli("profiles", "--json")
    doc = json.loads(out)
    assert code == 0
    classic = [p for p in doc["profiles"] if p["name"] == "classic"][0]
    assert "cassandra" in classic["roles"] and doc["default"] == "classic"
    code, out, _ = run_cli("profiles")
    assert "classic (default)" in out


def test_plan_command(run_cli):
    code, out, _ = run_cli("plan", "--sft-users", "200")
    assert code == 0
    assert (
        "per physical server (cassandra, minio, elasticsearch, kubernetes, restund): "
        "13 cores, 18 GB memory, 590 GB disk" in out
    )
    assert "adds up to 16" in out
    doc = json.loads(run_cli("plan", "--json")[1])
    assert doc["per_server"]["cores"] == 11


@pytest.mark.parametrize("bad", ["-1", "many"])
def test_bad_sft_users(run_cli, bad):
    assert run_cli("check", "--role", "kubernetes", "--facts", FACTS, "--sft-users", bad)[0] == 2


def test_relative_data_dir_is_refused(run_cli):
    code, _, err = run_cli("check", "--role", "cassandra", "--facts", FACTS, "--data-dir", "data")
    assert code == 2 and "absolute" in err


@pytest.mark.parametrize(
    "args,words",
    [
        (["--ip", "300.1.1.1"], "does not appear to be an IPv4 or IPv6 address"),
        (["--k8s-cidr", "10.233.0.0/99"], "10.233.0.0/99"),
        (["--ip", "10.0.0.1", "--interface", "eth0"], "give one of them"),
    ],
)
def test_bad_network_options_are_bad_usage(run_cli, args, words):
    code, _, err = run_cli("check", "--role", "kubernetes", "--facts", FACTS, *args)
    assert code == 2
    assert words in err and len(err.strip().splitlines()) == 1


def test_network_commands_do_not_need_the_main_cli():
    import subprocess
    import sys

    probe = (
        "import sys, wire_preflight.cli.network as n; "
        "print('wire_preflight.cli.main' in sys.modules, n.dns.name)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], stdout=subprocess.PIPE, universal_newlines=True, check=True
    ).stdout
    assert out.split() == ["False", "dns"]
    from wire_preflight.cli.main import cli

    assert {"dns", "tls", "ports", "listen"} <= set(cli.list_commands(click.Context(cli)))


# Modules `check` used to import on every run that it needs only on some hosts or for other
# commands (bench/README.md: each costs 1-4 ms of a cron run; uuid 25-40 ms on Python 3.6 and
# 3.8, where importing it runs a program). Those click and psutil import themselves on an
# interpreter are no cost of the agent's, so the tests leave them out (uuid on 3.12's click).
NOT_ON_EVERY_CHECK = (
    "uuid",
    "shutil",
    "configparser",
    "calendar",
    "wire_preflight.delivery.spool",
    "wire_preflight.delivery.send",
    "wire_preflight.bundle",
    "wire_preflight.bundle.command",
)
_PROBE = (
    "import sys\n"
    "from wire_preflight.cli.main import main\n"
    "try:\n"
    "    main(sys.argv[1:])\n"
    "except SystemExit:\n"
    "    pass\n"
    "watched = ('wire_preflight.cli.fleet', 'wire_preflight.cli.network',"
    " 'wire_preflight.delivery.flow') + tuple(sys.stdin.read().split())\n"
    "loaded = [m for m in watched if m in sys.modules]\n"
    "sys.stderr.write('LOADED ' + ' '.join(loaded) + '\\n')\n"
)


def _loaded_by(*args):
    """(stdout, the watched modules imported) of the command line run in a fresh Python."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        input=" ".join(NOT_ON_EVERY_CHECK).encode(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    last = done.stderr.decode().splitlines()[-1].split()
    assert last[:1] == ["LOADED"], done.stderr.decode()
    return done.stdout, set(last[1:])


def _imported_by_click_and_psutil():
    code = "import sys, click, psutil; print(' '.join(sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE, check=True)
    return set(done.stdout.decode().split()) & set(NOT_ON_EVERY_CHECK)


def test_check_imports_no_other_commands_module(tmp_path):
    """Cron runs `check` (and `report`) on every VM: the modules of the commands it does not
    run (network, fleet, bundle, the spool, and what they pull in) are not imported, yet
    `--help` lists them."""
    out, loaded = _loaded_by(
        "check", "--role", "cassandra", "--facts", FACTS, "--json", "--state-dir", str(tmp_path)
    )
    assert json.loads(out)["roles"] == ["cassandra"]
    assert loaded - _imported_by_click_and_psutil() == set()
    out, loaded = _loaded_by("--help")
    listed = [
        line.split()[0]
        for line in out.decode().split("Commands:")[1].splitlines()
        if line.startswith("  ") and not line.startswith("   ")
    ]
    assert {"dns", "tls", "ports", "listen", "fleet", "bundle", "check", "report"} <= set(listed)
    assert {"wire_preflight.cli.fleet", "wire_preflight.cli.network"} <= loaded


def test_check_of_a_host_without_networkmanager_or_dhclient_imports_neither_parser(tmp_path):
    """Reading a host's facts imports configparser only for NetworkManager's keyfiles and
    calendar only for dhclient's leases, and shutil not at all: a captured Ubuntu 18.04 VM with
    netplan alone, then (that the probe sees them) a tree with both kinds of file."""
    lazy = {"uuid", "shutil", "configparser", "calendar"}
    floor = _imported_by_click_and_psutil()
    common = ("check", "--role", "cassandra", "--json", "--state-dir", str(tmp_path), "--root")
    out, loaded = _loaded_by(*common, fixture_path("vm-tree-ubuntu1804"))
    assert json.loads(out)["facts"]["network_config"]["networkmanager"]["profiles"] == []
    assert loaded & lazy - floor == set()
    out, loaded = _loaded_by(*common, fixture_path("netconfig-dhcp"))
    assert json.loads(out)["facts"]["network_config"]["networkmanager"]["profiles"]
    assert {"configparser", "calendar"} <= loaded


def _classic_with(tmp_path, old, new):
    from wire_preflight import profiles

    with open(profiles.resolve("classic")) as handle:
        text = handle.read()
    assert old in text
    path = tmp_path / "edited.toml"
    path.write_text(text.replace(old, new, 1))
    return str(path)


def test_fleet_with_a_wordy_server_count_exits_2_naming_the_key(run_cli, tmp_path):
    path = _classic_with(tmp_path, "min_physical_servers = 3", 'min_physical_servers = "three"')
    (tmp_path / "reports").mkdir()
    code, _, err = run_cli("fleet", "--from", str(tmp_path / "reports"), "--profile", path)
    assert code == 2, err
    assert err.strip() == (
        f"wire-preflight: error: profile {path}: field 'fleet.min_physical_servers' must be an "
        "integer, got 'three'"
    )


def test_check_with_a_misspelt_severity_exits_2_naming_file_table_and_key(run_cli, tmp_path):
    from wire_preflight import profiles

    with open(os.path.join(profiles.BUILTIN_DIR, "host", "components.toml")) as handle:
        host = handle.read().replace(
            'kubernetes = "fail", cassandra = "warn"', 'kubernetes = "fail", cassandra = "wran"'
        )
    (tmp_path / "host.toml").write_text(host)
    path = _classic_with(tmp_path, "schema = 1\n", 'schema = 1\nhost_requirements = "host.toml"\n')
    code, _, err = run_cli("check", "--role", "cassandra", "--facts", FACTS, "--profile", path)
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1
    assert str(tmp_path / "host.toml") in err
    assert "field 'swap.components.cassandra' must be one of fail, warn, got 'wran'" in err


# -- one error style ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args,line",
    [
        (
            ["check", "--bogus"],
            "wire-preflight: error: check: No such option: --bogus "
            "(see `wire-preflight check --help`)",
        ),
        (
            ["check", "--ip", "999.1.1.1"],
            "wire-preflight: error: check: Invalid value for '--ip': '999.1.1.1' does not "
            "appear to be an IPv4 or IPv6 address (see `wire-preflight check --help`)",
        ),
        (
            ["fleet", "drift", "--ca-cert", "ca.pem"],
            "wire-preflight: error: fleet drift: No such option: --ca-cert; --ca-cert is an "
            "option of `wire-preflight fleet`: give it before `drift`",
        ),
        (
            ["fleet", "accept"],
            "wire-preflight: error: fleet accept: Missing argument 'HOSTNAME' "
            "(see `wire-preflight fleet accept --help`)",
        ),
        (
            ["nosuch"],
            "wire-preflight: error: No such command 'nosuch' (see `wire-preflight --help`)",
        ),
    ],
)
def test_usage_errors_are_one_line_naming_the_option(run_cli, args, line):
    code, out, err = run_cli(*args)
    assert code == 2 and out == ""
    assert err.strip() == line


def test_an_option_missing_its_value_is_one_line(run_cli):
    code, _, err = run_cli("check", "--facts")
    assert code == 2
    assert err.startswith("wire-preflight: error: ") and "'--facts'" in err
    assert len(err.strip().splitlines()) == 1


def all_commands():
    from wire_preflight.cli.main import cli

    def walk(group, path):
        ctx = click.Context(group)  # through click: it loads the commands imported when used
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            yield (*path, name), command
            if isinstance(command, click.Group):
                yield from walk(command, (*path, name))

    return [((), cli), *list(walk(cli, ()))]


def test_help_summaries_are_whole(run_cli):
    for path, command in all_commands():
        if not isinstance(command, click.Group):
            continue
        code, out, _ = run_cli(*path, "--help")
        assert code == 0
        listed = " ".join(out.split("Commands:")[1].split())
        assert "..." not in listed, path
        ctx = click.Context(command)
        for sub in (command.get_command(ctx, name) for name in command.list_commands(ctx)):
            first = " ".join(sub.help.strip().split("\n\n")[0].split())
            assert first in listed, (path, sub.name)


def test_every_option_of_every_command_has_help():
    commands = all_commands()
    try:
        from wire_preflight_collector.cli import cli as collector
    except ImportError:  # the collector's extras are not installed on this interpreter
        pass
    else:
        commands += [(("collector", name), c) for name, c in collector.commands.items()]
    bare = [
        (" ".join(path), option.opts[0])
        for path, command in commands
        for option in command.params
        if isinstance(option, click.Option) and not (option.help or "").strip()
    ]
    assert bare == []


def test_install_timer_root_help_says_what_it_does(run_cli):
    code, out, _ = run_cli("install-timer", "--help")
    assert code == 0
    text = " ".join(out.split())
    assert "[default: /]" not in text and "instead of /" in text


def test_the_collector_speaks_the_same_error_style():
    pytest.importorskip("wire_preflight_collector")
    done = subprocess.run(
        [sys.executable, "-m", "wire_preflight_collector", "serve", "--bogus"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "wire-preflight-collector: error: serve: No such option: --bogus; did you mean --host? "
        "(see `wire-preflight-collector serve --help`)"
    ]


def test_the_collector_never_imports_the_agents_command_line():
    """The collector shares option helpers, token files and durations through
    wire_preflight.commandline; importing any of its modules loads none of the agent's cli."""
    pytest.importorskip("fastapi", reason="the collector needs Python >= 3.10 and its extras")
    probe = (
        "import importlib, json, pkgutil, sys, wire_preflight_collector as c\n"
        "for m in pkgutil.walk_packages(c.__path__, c.__name__ + '.'):\n"
        "    if not m.name.endswith('__main__'):\n"
        "        importlib.import_module(m.name)\n"
        "print(json.dumps(sorted(n for n in sys.modules if n.startswith('wire_preflight.'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        stdout=subprocess.PIPE,
        universal_newlines=True,
        check=True,
        timeout=120,
    )
    loaded = json.loads(done.stdout)
    assert "wire_preflight.commandline" in loaded
    assert [name for name in loaded if name.split(".")[1].startswith("cli")] == []


def test_start_up_loads_only_what_the_command_uses():
    """cron runs the agent on every VM: the packages' __init__ files import nothing, and
    `--help` loads neither delivery (requests), nor planning, nor the pipeline."""
    probe = (
        "import json, sys\n"
        "import wire_preflight.cli, wire_preflight.delivery, wire_preflight.plan\n"
        "bare = sorted(n for n in sys.modules if n.startswith('wire_preflight.'))\n"
        "from wire_preflight.cli.main import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "sys.stderr.write(json.dumps([bare, sorted(sys.modules)]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        timeout=120,
    )
    bare, loaded = json.loads(done.stderr)
    assert bare == ["wire_preflight.cli", "wire_preflight.delivery", "wire_preflight.plan"]
    assert "wire_preflight.cli.fleet" in loaded  # the probe did load the command line
    unwanted = ("requests", "wire_preflight.delivery.flow", "wire_preflight.pipeline")
    assert [name for name in loaded if name.startswith(unwanted)] == []
    assert [name for name in loaded if name.startswith("wire_preflight.plan.")] == []
