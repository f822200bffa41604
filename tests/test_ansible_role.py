"""The ansible role (packaging/ansible/roles/wire_preflight) and its playbook, run for real
against this machine over ansible's local connection: ansible-lint's production profile,
`--check --diff` predicting what the real run changes, a second run changing nothing, the
schedule switching between the timer and cron, and the one-shot mode judging the fleet on the
controller from any inventory source. The same role over SSH against a booted VM:
tests/e2e/test_vm.py.
"""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml
from wire_preflight import profiles

pytestmark = pytest.mark.packaging
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ANSIBLE = os.path.join(ROOT, "packaging", "ansible")
PLAYBOOK = os.path.join(ANSIBLE, "wire-preflight.yml")
ROLE = os.path.join(ANSIBLE, "roles", "wire_preflight")


def tool(name):
    found = shutil.which(name) or (
        os.path.join(os.path.dirname(sys.executable), name)
        if os.path.exists(os.path.join(os.path.dirname(sys.executable), name))
        else None
    )
    if not found:
        pytest.skip(
            f"!!! {name} is not installed: the ansible role is NOT tested "
            "(.ci/run installs Debian's ansible-core; ansible-lint is in the test extra)"
        )
    return found


def run(argv, timeout=600):
    """argv from the checkout, its output and errors together in .stdout."""
    return subprocess.run(
        argv,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        universal_newlines=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def pyz():
    done = run(["./packaging/build-pyz"])
    assert done.returncode == 0, done.stdout[-3000:]
    return os.path.join(ROOT, "dist", "wire-preflight.pyz")


def interface_here():
    """This machine's interface with a global IPv4 address (what the inventory names)."""
    out = subprocess.run(
        ["ip", "-j", "-4", "addr"], stdout=subprocess.PIPE, universal_newlines=True
    ).stdout
    for link in json.loads(out):
        if any(a.get("scope") == "global" for a in link.get("addr_info", [])):
            return link["ifname"]
    pytest.skip("this machine has no interface with a global IPv4 address")


class Run:
    def __init__(self, done):
        self.rc = done.returncode
        self.out = done.stdout
        self.err = done.stderr

    def changed_tasks(self):
        """The names of the tasks (and handlers) that reported changed, in order."""
        names, task = [], None
        for line in self.out.splitlines():
            header = re.match(r"(?:TASK|RUNNING HANDLER) \[(?:wire_preflight : )?(.*?)\] \*", line)
            if header:
                task = header.group(1)
            elif line.startswith("changed:") and task and (not names or names[-1] != task):
                names.append(task)
        return names

    def recap(self, host="localhost"):
        line = re.search(rf"^{re.escape(host)}\s+:\s+(.*)$", self.out, re.M)
        assert line, self.out[-3000:]
        return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line.group(1))}

    def explain(self):
        return self.out[-4000:] + self.err[-2000:]


def play(inventory, *args, tmp_path, env=None):
    environment = dict(
        os.environ,
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_LOCALHOST_WARNING="False",
        ANSIBLE_RETRY_FILES_ENABLED="False",
        HOME=str(tmp_path / "home"),
        TMPDIR=str(tmp_path / "tmp"),
    )
    environment.pop("SHIV_ROOT", None)
    environment.pop("WIRE_PREFLIGHT_PYZ_ROOT", None)
    environment.update(env or {})
    os.makedirs(environment["HOME"], exist_ok=True)
    os.makedirs(environment["TMPDIR"], exist_ok=True)
    done = subprocess.run(
        [tool("ansible-playbook"), "-i", inventory, PLAYBOOK, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        env=environment,
        cwd=str(tmp_path),
        timeout=600,
    )
    return Run(done)


def classic_inventory(tmp_path, interface, host="localhost"):
    path = tmp_path / "hosts.ini"
    path.write_text(
        f"[cassandra]\n{host} physical_host=server1 ansible_python_interpreter={sys.executable}\n"
        f"\n[cassandra:vars]\ncassandra_network_interface = {interface}\n"
    )
    return str(path)


# -- the role's shape ---------------------------------------------------------------------------


def test_role_passes_ansible_lint_production_profile():
    lint = tool("ansible-lint")
    done = run([lint, "--profile", "production", "--offline", "packaging/ansible"])
    assert done.returncode == 0, done.stdout[-4000:]
    assert "Profile 'production' was required, and it passed" in done.stdout, done.stdout


@pytest.mark.parametrize("inventory", ["tests/fixtures/inventory/hosts.ini", "vm1,vm2,"])
def test_playbook_syntax(inventory):
    done = run([tool("ansible-playbook"), "--syntax-check", "-i", inventory, PLAYBOOK])
    assert done.returncode == 0, done.stdout


def test_role_meta_names_its_platforms_and_ansible_version():
    with open(os.path.join(ROLE, "meta", "main.yml")) as handle:
        meta = yaml.safe_load(handle)["galaxy_info"]
    assert meta["min_ansible_version"]
    ubuntu = [p for p in meta["platforms"] if p["name"] == "Ubuntu"]
    assert ubuntu and set(ubuntu[0]["versions"]) == {"bionic", "focal", "jammy", "noble"}


@pytest.mark.parametrize("name", profiles.builtin_names())
def test_role_group_table_is_each_profiles_inventory_mapping(name):
    with open(os.path.join(ROLE, "defaults", "main.yml")) as handle:
        defaults = yaml.safe_load(handle)
    assert defaults["wire_preflight_group_roles"][name] == profiles.load(name).inventory_groups


# -- install mode, against this machine -----------------------------------------------------------


def test_check_predicts_the_run_and_a_second_run_changes_nothing(pyz, tmp_path):
    interface = interface_here()
    inventory = classic_inventory(tmp_path, interface)
    vm = tmp_path / "vm"
    args = ["-e", f"wire_preflight_root={vm}", "-e", f"wire_preflight_pyz={pyz}"]

    predicted = play(inventory, "--check", "--diff", *args, tmp_path=tmp_path)
    assert predicted.rc == 0, predicted.explain()
    assert not vm.exists()  # check mode wrote nothing
    assert "+roles = cassandra" in predicted.out  # the diff shows agent.conf to be

    first = play(inventory, *args, tmp_path=tmp_path)
    assert first.rc == 0, first.explain()
    assert first.changed_tasks() == predicted.changed_tasks()
    assert "Write agent.conf" in first.changed_tasks()
    assert first.recap()["changed"] == predicted.recap()["changed"] > 0

    conf = (vm / "etc/wire-preflight/agent.conf").read_text()
    assert "roles = cassandra" in conf and "physical_host = server1" in conf
    assert f"interface = {interface}" in conf  # from cassandra_network_interface
    service = (vm / "etc/systemd/system/wire-preflight.service").read_text()
    assert "ExecStart=/usr/local/bin/wire-preflight report" in service
    assert (vm / "etc/systemd/system/wire-preflight.timer").exists()
    # The handler's check ran the installed agent with that config.
    report = json.loads((vm / "var/lib/wire-preflight/last-check.json").read_text())
    assert report["roles"] == ["cassandra"] and report["physical_host"] == "server1"
    assert report["options"].get("interface") == interface, report["options"]

    second = play(inventory, *args, tmp_path=tmp_path)
    assert second.rc == 0, second.explain()
    assert second.recap()["changed"] == 0, second.changed_tasks()
    again = play(inventory, "--check", "--diff", *args, tmp_path=tmp_path)
    assert again.rc == 0 and again.recap()["changed"] == 0, again.changed_tasks()


def test_cron_replaces_the_timer_and_back(pyz, tmp_path):
    inventory = classic_inventory(tmp_path, interface_here())
    vm = tmp_path / "vm"
    args = ["-e", f"wire_preflight_root={vm}", "-e", f"wire_preflight_pyz={pyz}"]
    units = vm / "etc/systemd/system"
    cron = vm / "etc/cron.d/wire-preflight"

    assert play(inventory, *args, tmp_path=tmp_path).rc == 0
    assert (units / "wire-preflight.timer").exists() and not cron.exists()

    to_cron = play(inventory, *args, "-e", "wire_preflight_schedule=cron", tmp_path=tmp_path)
    assert to_cron.rc == 0, to_cron.explain()
    assert cron.exists() and "/usr/local/bin/wire-preflight report" in cron.read_text()
    assert not (units / "wire-preflight.timer").exists()
    assert not (units / "wire-preflight.service").exists()

    back = play(inventory, *args, tmp_path=tmp_path)
    assert back.rc == 0, back.explain()
    assert (units / "wire-preflight.timer").exists() and not cron.exists()


@pytest.mark.parametrize(
    "setting, words",
    [
        ("wire_preflight_schedule=hourly", "wire_preflight_schedule must be one of: systemd, cron"),
        ("wire_preflight_mode=install-now", "wire_preflight_mode must be one of: install, oneshot"),
        (
            "wire_preflight_profile=mine",
            "wire_preflight_group_roles has no entry for profile 'mine'",
        ),
    ],
)
def test_bad_setting_is_refused_with_what_is_accepted(tmp_path, setting, words):
    inventory = classic_inventory(tmp_path, "eth0")
    vm = tmp_path / "vm"
    done = play(inventory, "-e", setting, "-e", f"wire_preflight_root={vm}", tmp_path=tmp_path)
    assert done.rc == 2, done.explain()
    assert words in done.out
    assert not vm.exists()


# -- one-shot mode: the fleet judged on the controller --------------------------------------------


def test_oneshot_judges_the_host_under_its_inventory_name(pyz, tmp_path):
    # The case: an inventory host named localhost whose VM is called something else.
    inventory = classic_inventory(tmp_path, interface_here())
    reports = tmp_path / "reports"
    args = [
        "-e",
        "wire_preflight_mode=oneshot",
        "-e",
        f"wire_preflight_pyz={pyz}",
        "-e",
        f"wire_preflight_reports_dir={reports}",
        "-e",
        "wire_preflight_fleet_fail_on=never",
    ]
    done = play(inventory, *args, tmp_path=tmp_path)
    assert done.rc == 0, done.explain()
    assert done.recap()["changed"] == 0  # nothing installed anywhere
    report = json.loads((reports / "localhost.json").read_text())
    assert report["roles"] == ["cassandra"] and report["physical_host"] == "server1"
    verdict = (reports / "fleet.txt").read_text()
    assert verdict.startswith("fleet: ")
    assert "inventory-missing" not in verdict and "inventory-unexpected" not in verdict, verdict
    # The verdict is the agent's own, on the same files.
    fleet = subprocess.run(
        [
            sys.executable,
            "-m",
            "wire_preflight",
            "fleet",
            "--from",
            str(reports),
            "--inventory",
            str(reports / "inventory.yml"),
            "--json",
        ],
        stdout=subprocess.PIPE,
        universal_newlines=True,
        timeout=60,
    )
    doc = json.loads(fleet.stdout)
    ids = {f["id"] for f in doc["findings"]}
    assert not ids & {"inventory-missing", "inventory-unexpected", "inventory-role"}, ids
    # Nothing is left on the host: the scratch copy of the agent is gone.
    assert not [p for p in (tmp_path / "tmp").iterdir() if p.name.startswith("wire-preflight-")]
    assert not (tmp_path / "home" / ".cache" / "wire-preflight").exists()


def test_oneshot_over_a_host_list_inventory_fails_the_play_on_a_failing_fleet(pyz, tmp_path):
    reports = tmp_path / "reports"
    # A host list has no groups: the roles come from wire_preflight_roles. become goes
    # through a stand-in for sudo that logs each call (this test runs as root already).
    calls = tmp_path / "become.log"
    become = tmp_path / "fake-sudo"
    become.write_text(
        f'#!/bin/sh\necho "$@" >> {calls}\nwhile [ "$1" != /bin/sh ]; do shift; done\nexec "$@"\n'
    )
    become.chmod(0o755)
    done = play(
        "localhost,",
        "-e",
        "wire_preflight_mode=oneshot",
        "-e",
        f"wire_preflight_pyz={pyz}",
        "-e",
        f"wire_preflight_reports_dir={reports}",
        "-e",
        '{"wire_preflight_roles": ["cassandra"]}',
        "-e",
        f"ansible_python_interpreter={sys.executable}",
        tmp_path=tmp_path,
        env={"ANSIBLE_BECOME_EXE": str(become), "ANSIBLE_BECOME_ALLOW_SAME_USER": "True"},
    )
    # One cassandra VM is not the plan's fleet: the verdict fails, and so does the play.
    assert done.rc == 2, done.explain()
    assert "the fleet fails: {}".format(reports / "fleet.txt") in done.out
    verdict = (reports / "fleet.txt").read_text()
    assert verdict.startswith("fleet: FAIL")
    assert "role-count" in verdict and "inventory-missing" not in verdict, verdict
    inventory = yaml.safe_load((reports / "inventory.yml").read_text())
    assert "localhost" in inventory["all"]["children"]["cassandra"]["hosts"]
    assert calls.exists() and "-u root" in calls.read_text()


def test_oneshot_in_check_mode_runs_nothing(pyz, tmp_path):
    inventory = classic_inventory(tmp_path, interface_here())
    reports = tmp_path / "reports"
    done = play(
        inventory,
        "--check",
        "-e",
        "wire_preflight_mode=oneshot",
        "-e",
        f"wire_preflight_pyz={pyz}",
        "-e",
        f"wire_preflight_reports_dir={reports}",
        tmp_path=tmp_path,
    )
    assert done.rc == 0, done.explain()
    assert done.recap()["changed"] == 0
    assert not reports.exists()
