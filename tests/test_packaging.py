"""The single-file agent, the .deb and the ansible rollout, built and run for real.

Slow (builds take ~20 s each and fetch wheels from PyPI), so tests/run-all runs this file
once, under the newest Python, not once per interpreter: the pyz test itself runs the file
under every Python in $(pyenv root)/versions.
"""

import json
import os
import shutil
import socket
import subprocess
import sys

import pytest
from conftest import fixture_path, require_root

pytestmark = pytest.mark.packaging
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WANTED = ("3.6", "3.8", "3.10", "3.12")


def run(argv, **kwargs):
    kwargs.setdefault("timeout", 600)
    return subprocess.run(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        cwd=ROOT,
        **kwargs,
    )


@pytest.fixture(scope="module")
def pyz():
    done = run(["./packaging/build-pyz"])
    assert done.returncode == 0, done.stderr[-3000:]
    return os.path.join(ROOT, "dist", "wire-preflight.pyz")


def interpreters():
    base = run(["pyenv", "root"]).stdout.strip() if shutil.which("pyenv") else ""
    found = {}
    for minor in WANTED:
        versions = (
            sorted(
                (
                    v
                    for v in os.listdir(os.path.join(base, "versions"))
                    if v.startswith(minor + ".")
                ),
                reverse=True,
            )
            if base
            else []
        )
        found[minor] = (
            os.path.join(base, "versions", versions[0], "bin", "python") if versions else None
        )
    return found


@pytest.mark.parametrize("minor", WANTED)
def test_pyz_runs_offline_and_isolated_on_every_python(pyz, minor, tmp_path):
    python = interpreters()[minor]
    if python is None:
        pytest.skip(f"!!! no Python {minor} in $(pyenv root)/versions: the pyz is NOT tested on it")
    require_root(f"the pyz on Python {minor} with no network (`unshare -n`)")
    if not shutil.which("unshare"):
        pytest.skip("`unshare` (util-linux) is not installed")
    env = dict(os.environ, SHIV_ROOT=str(tmp_path / "shiv"))
    done = run(
        [
            "unshare",
            "-n",
            python,
            "-I",
            pyz,
            "check",
            "--role",
            "cassandra",
            "--json",
            "--state-dir",
            str(tmp_path / "state"),
        ],
        env=env,
    )
    assert done.returncode in (0, 3, 4), done.stderr
    doc = json.loads(done.stdout)
    by_id = {c["id"]: c for c in doc["checks"]}
    assert by_id["memory"]["status"] in ("pass", "fail")
    assert by_id["memory"]["evidence"]["memtotal_bytes"] > 0
    assert by_id["ports"]["status"] == "pass"  # psutil's compiled module works from the pyz
    # no network in the namespace: the only interface is lo, so no default route
    assert by_id["ip-static"]["status"] == "error"
    judged = run(
        [
            python,
            "-I",
            pyz,
            "check",
            "--role",
            "cassandra",
            "--facts",
            fixture_path("facts-ubuntu1804-kvm-4g.json"),
            "--state-dir",
            str(tmp_path / "state2"),
        ],
        env=env,
    )
    assert judged.returncode == 0, judged.stdout + judged.stderr
    assert judged.stdout.splitlines()[-1].startswith("PASS")


@pytest.fixture(scope="module")
def deb():
    if not shutil.which("dpkg-deb") or not shutil.which("help2man"):
        pytest.skip("Debian's dpkg-deb and help2man are needed (.ci/run installs them)")
    done = run(["./packaging/build-deb"])
    assert done.returncode == 0, done.stderr[-3000:]
    found = [n for n in os.listdir(os.path.join(ROOT, "dist")) if n.endswith(".deb")]
    assert len(found) == 1
    return os.path.join(ROOT, "dist", found[0])


def test_deb_control_and_contents(deb):
    fields = run(["dpkg-deb", "-f", deb, "Package", "Version", "Architecture", "Depends"]).stdout
    assert "Package: wire-preflight" in fields and "Architecture: amd64" in fields
    assert "Depends: python3 (>= 3.6), libc6 (>= 2.17)" in fields
    contents = run(["dpkg-deb", "-c", deb]).stdout
    for path in (
        "./usr/bin/wire-preflight",
        "./lib/systemd/system/wire-preflight.service",
        "./lib/systemd/system/wire-preflight.timer",
        "./lib/systemd/system/wire-preflight-collector.service",
        "./etc/wire-preflight/agent.conf",
        "./usr/share/doc/wire-preflight/copyright",
        "./usr/share/man/man1/wire-preflight.1.gz",
        "./usr/lib/wire-preflight/wire_preflight/cli.py",
    ):
        assert path in contents, path
    assert "wire_preflight_collector" not in contents
    assert (
        run(["dpkg-deb", "-I", deb, "conffiles"]).stdout.strip() == "/etc/wire-preflight/agent.conf"
    )


def test_deb_is_lintian_clean_but_for_explained_tags(deb):
    if not shutil.which("lintian"):
        pytest.skip("lintian is not installed (.ci/run installs it)")
    done = run(["lintian", "--info", "--display-level", ">=info", deb])
    tags = {
        line.split(": ", 2)[2].split()[0]
        for line in done.stdout.splitlines()
        if line[:2] in ("E:", "W:", "I:")
    }
    # Each explained in docs/install.md ("lintian").
    explained = {
        "extra-license-file",
        "hardening-no-bindnow",
        "hardening-no-fortify-functions",
        "package-contains-documentation-outside-usr-share-doc",
        "package-supports-alternative-init-but-no-init.d-script",
    }
    assert tags <= explained, done.stdout
    assert not [line for line in done.stdout.splitlines() if line[:2] in ("E:", "W:")]


def test_deb_installs_into_a_scratch_root_and_runs(deb, tmp_path):
    root = tmp_path / "root"
    for sub in ("info", "updates", "triggers"):
        (root / "var/lib/dpkg" / sub).mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_text("")
    done = run(
        [
            "dpkg",
            "--root",
            str(root),
            "--force-script-chrootless",
            "--force-depends",
            "--log=/dev/null",
            "-i",
            deb,
        ]
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ii  wire-preflight" in run(["dpkg", "--root", str(root), "-l"]).stdout
    installed = str(root / "usr/bin/wire-preflight")
    check = run(
        [
            installed,
            "check",
            "--role",
            "cassandra",
            "--facts",
            fixture_path("facts-ubuntu1804-kvm-4g.json"),
            "--state-dir",
            str(tmp_path / "state"),
        ]
    )
    assert check.returncode == 0, check.stdout + check.stderr
    live = run(
        [
            installed,
            "check",
            "--role",
            "kubernetes",
            "--json",
            "--state-dir",
            str(tmp_path / "state"),
        ]
    )
    assert live.returncode in (0, 3, 4) and json.loads(live.stdout)["checks"]
    conf = (root / "etc/wire-preflight/agent.conf").read_text()
    assert "\ncollector =" not in conf  # the timer stays off until an operator names one


PLAYBOOK = os.path.join(ROOT, "packaging", "ansible", "wire-preflight.yml")


def ansible_playbook():
    tool = shutil.which("ansible-playbook")
    if not tool:
        pytest.skip("ansible-playbook is not installed (.ci/run installs Debian's ansible-core)")
    return tool


def test_playbook_syntax():
    done = run(
        [
            ansible_playbook(),
            "--syntax-check",
            "-i",
            fixture_path("inventory", "hosts.ini"),
            PLAYBOOK,
        ]
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_playbook_against_this_machine(pyz, tmp_path):
    tool = ansible_playbook()
    host = socket.gethostname()
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(
        "[cassandra]\n{} ansible_connection=local physical_host=server1 "
        "ansible_python_interpreter={}\n".format(host, shutil.which("python3"))
    )
    reports = tmp_path / "reports"
    env = dict(os.environ, ANSIBLE_LOCALHOST_WARNING="False", ANSIBLE_NOCOLOR="1")
    done = run(
        [
            tool,
            "-i",
            str(inventory),
            PLAYBOOK,
            "-e",
            "wp_root={}".format(tmp_path / "vm"),
            "-e",
            f"wp_pyz={pyz}",
            "-e",
            f"wp_reports_dir={reports}",
        ],
        env=env,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    fetched = reports / f"{host}.json"
    report = json.loads(fetched.read_text())
    assert report["roles"] == ["cassandra"] and report["physical_host"] == "server1"
    assert (tmp_path / "vm/etc/systemd/system/wire-preflight.timer").exists()
    fleet = subprocess.run(
        [
            sys.executable,
            "-m",
            "wire_preflight",
            "fleet",
            "--from",
            str(reports),
            "--inventory",
            str(inventory),
            "--json",
        ],
        stdout=subprocess.PIPE,
        universal_newlines=True,
        timeout=60,
    )
    doc = json.loads(fleet.stdout)
    assert [h["hostname"] for h in doc["hosts"]] == [host]
    assert not [
        f
        for f in doc["findings"]
        if f["id"] in ("inventory-missing", "inventory-unexpected", "inventory-role")
    ]
