"""The single-file agent and the .debs, built and run for real (the ansible role:
tests/test_ansible_role.py).

Slow (builds take ~20 s each and fetch wheels from PyPI), so tests/run-all runs this file
once, under the newest Python, not once per interpreter: the pyz test itself runs the file
under every Python in $(pyenv root)/versions.
"""

import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import zipfile

import pytest
from helpers import fixture_path, require_root

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
    env = dict(os.environ, WIRE_PREFLIGHT_PYZ_ROOT=str(tmp_path / "pyz"))
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


def as_nobody(argv, **kwargs):
    """Run argv as user nobody (root passes every permission check the tests below need)."""
    require_root("the pyz as an unprivileged user (setpriv)")
    if not shutil.which("setpriv"):
        pytest.skip("`setpriv` (util-linux) is not installed")
    ids = ["--reuid", "65534", "--regid", "65534", "--clear-groups"]
    return run(["setpriv", *ids, *argv], **kwargs)


@pytest.fixture
def shared_tmp():
    """A scratch directory user nobody can use: pytest's own is root's alone."""
    import tempfile

    path = tempfile.mkdtemp(prefix="wp-pyz-")
    os.chmod(path, 0o1777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def readable_copy(pyz, folder):
    """The pyz where nobody can read it (the checkout may sit under root's 0700 home)."""
    copy = os.path.join(folder, "wire-preflight.pyz")
    shutil.copy(pyz, copy)
    os.chmod(copy, 0o755)
    return copy


def test_pyz_with_unwritable_home_unpacks_into_a_private_tmp_dir(pyz, shared_tmp):
    # The system python3: pyenv's interpreters live under root's home, which nobody cannot read.
    copy = readable_copy(pyz, shared_tmp)
    env = {"PATH": os.environ["PATH"], "HOME": "/nonexistent", "TMPDIR": shared_tmp}
    argv = ["/usr/bin/python3", "-I", copy, "check", "--role", "cassandra", "--facts"]
    argv += [fixture_path("facts-ubuntu1804-kvm-4g.json"), "--state-dir", shared_tmp + "/state"]
    for _ in range(2):  # the second run finds what the first unpacked
        done = as_nobody(argv, env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.splitlines()[-1].startswith("PASS") and not done.stderr
    private = os.path.join(shared_tmp, "wire-preflight-65534")
    info = os.lstat(private)
    assert info.st_uid == 65534 and info.st_mode & 0o777 == 0o700
    assert not os.path.exists("/nonexistent")


def test_pyz_refuses_a_tmp_dir_someone_else_made(pyz, shared_tmp):
    copy = readable_copy(pyz, shared_tmp)
    planted = os.path.join(shared_tmp, "wire-preflight-65534")
    os.mkdir(planted, 0o777)  # root's, world-writable: another user could plant code in it
    os.chmod(planted, 0o777)
    env = {"PATH": os.environ["PATH"], "HOME": "/nonexistent", "TMPDIR": shared_tmp}
    done = as_nobody(["/usr/bin/python3", copy, "--version"], env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "WIRE_PREFLIGHT_PYZ_ROOT" in lines[0] and planted in lines[0]
    assert os.listdir(planted) == []


def test_pyz_with_nowhere_writable_says_so_in_one_line(pyz, shared_tmp, tmp_path):
    copy = readable_copy(pyz, shared_tmp)
    locked = os.path.join(shared_tmp, "locked")
    os.mkdir(locked, 0o555)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": "/nonexistent",
        "TMPDIR": "/nonexistent/tmp",
        "WIRE_PREFLIGHT_PYZ_ROOT": locked,
    }
    done = as_nobody(["/usr/bin/python3", copy, "--version"], env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr, done.stderr
    assert locked in done.stderr and "Permission denied" in done.stderr


def pyz_build(pyz):
    """The BUILD the pyz's start unpacks under (its version and bundle hash)."""
    with zipfile.ZipFile(pyz) as bundle:
        start = bundle.read("__main__.py").decode()
    return re.search(r'^BUILD = "([^"]+)"', start, re.M).group(1)


def plant(root, build):
    """A lib/ under root/BUILD whose agent only says it was imported."""
    package = os.path.join(root, build, "lib", "wire_preflight")
    os.makedirs(os.path.join(package, "cli"))
    for init in ("__init__.py", "cli/__init__.py"):
        with open(os.path.join(package, init), "w"):
            pass
    # Where the pyz's start takes the agent from (packaging/pyz-main.py).
    with open(os.path.join(package, "cli", "main.py"), "w") as handle:
        handle.write("def main():\n    print('planted code ran')\n    return 0\n")
    for folder, _, names in os.walk(root):
        os.chmod(folder, 0o755)
        for name in names:
            os.chmod(os.path.join(folder, name), 0o644)


def test_pyz_ignores_a_cache_in_a_home_another_user_owns(pyz, shared_tmp):
    # sudo on Ubuntu 18.04 keeps the caller's HOME: root would find there, and import, what
    # the caller unpacked or planted. Here nobody plays root, uid 4242 the caller.
    copy = readable_copy(pyz, shared_tmp)
    home = os.path.join(shared_tmp, "caller")
    plant(os.path.join(home, ".cache", "wire-preflight"), pyz_build(pyz))
    for folder, _, _ in os.walk(home):
        os.chown(folder, 4242, 4242)
    for env in ({"HOME": home}, {"HOME": "/nonexistent", "XDG_CACHE_HOME": home + "/.cache"}):
        env.update(PATH=os.environ["PATH"], TMPDIR=shared_tmp)
        done = as_nobody(["/usr/bin/python3", copy, "--version"], env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "planted" not in done.stdout and done.stdout.strip(), done.stdout
        assert os.path.isdir(os.path.join(shared_tmp, "wire-preflight-65534"))


def test_pyz_ignores_a_half_unpacked_scratch_dir_and_races_safely(pyz, tmp_path):
    # A run killed while unpacking leaves BUILD.tmp-PID: never where the next run looks.
    root = tmp_path / "root"
    build = pyz_build(pyz)
    plant(str(root), build + ".tmp-999999")
    env = dict(os.environ, WIRE_PREFLIGHT_PYZ_ROOT=str(root))
    # Four runs unpacking at once: each gets a whole lib/, one of them keeps its copy.
    procs = [
        subprocess.Popen(
            [sys.executable, pyz, "--version"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            universal_newlines=True,
            env=env,
        )
        for _ in range(4)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0 and out.strip() and "planted" not in out and not err, err
    assert sorted(p.name for p in root.iterdir()) == [build, build + ".tmp-999999"]


def test_pyz_unpacks_once_per_build_and_compiles_per_python(pyz, tmp_path):
    root = tmp_path / "root"
    env = dict(os.environ, WIRE_PREFLIGHT_PYZ_ROOT=str(root), PYTHONDONTWRITEBYTECODE="1")
    pythons = [p for p in interpreters().values() if p]
    for python in pythons:
        done = run([python, pyz, "--version"], env=env)
        assert done.returncode == 0, done.stderr
    (build,) = [p for p in root.iterdir()]  # one directory, no leftover scratch copy
    assert re.match(r"^\d+\.\d+\.\d+-[0-9a-f]{16}$", build.name), build.name
    tags = {p.name for p in (build / "lib").glob(".compiled-*")}
    assert len(tags) == len(set(pythons)), tags
    # Bytecode for each Python sits beside the sources, despite PYTHONDONTWRITEBYTECODE.
    cached = {p.name.split(".")[1] for p in (build / "lib" / "click" / "__pycache__").iterdir()}
    assert cached == {t[len(".compiled-") :] for t in tags}


@pytest.fixture(scope="module")
def deb():
    if not shutil.which("dpkg-deb") or not shutil.which("help2man"):
        pytest.skip("Debian's dpkg-deb and help2man are needed (.ci/run installs them)")
    done = run(["./packaging/build-deb"])
    assert done.returncode == 0, done.stderr[-3000:]
    # By its name: dist/ may also hold the collector's .deb (the e2e suite builds it too).
    arch = {"x86_64": "amd64", "aarch64": "arm64"}[platform.machine()]
    deb = os.path.join(ROOT, "dist", f"wire-preflight_{version()}_{arch}.deb")
    assert os.path.exists(deb), os.listdir(os.path.join(ROOT, "dist"))
    return deb


def test_deb_control_and_contents(deb):
    fields = run(["dpkg-deb", "-f", deb, "Package", "Version", "Architecture", "Depends"]).stdout
    assert "Package: wire-preflight" in fields and "Architecture: amd64" in fields
    # iproute2: the network facts read `ip -json`; minimal images may lack it.
    assert "Depends: python3 (>= 3.6), iproute2, libc6 (>= 2.17)" in fields
    contents = run(["dpkg-deb", "-c", deb]).stdout
    assert "wire-preflight-collector" not in contents  # the collector is its own package
    for path in (
        "./usr/bin/wire-preflight",
        "./lib/systemd/system/wire-preflight.service",
        "./lib/systemd/system/wire-preflight.timer",
        "./etc/wire-preflight/agent.conf",
        "./usr/share/doc/wire-preflight/copyright",
        "./usr/share/man/man1/wire-preflight.1.gz",
        "./usr/lib/wire-preflight/wire_preflight/cli/main.py",
    ):
        assert path in contents, path
    assert "wire_preflight_collector" not in contents
    assert (
        run(["dpkg-deb", "-I", deb, "conffiles"]).stdout.strip() == "/etc/wire-preflight/agent.conf"
    )


def lintian_tags(deb):
    if not shutil.which("lintian"):
        pytest.skip("lintian is not installed (.ci/run installs it)")
    done = run(["lintian", "--info", "--display-level", ">=info", deb])
    assert not [line for line in done.stdout.splitlines() if line[:2] in ("E:", "W:")], done.stdout
    return {
        line.split(": ", 2)[2].split()[0]
        for line in done.stdout.splitlines()
        if line[:2] in ("E:", "W:", "I:")
    }


# Each explained in docs/install.md ("lintian").
EXPLAINED = {
    "extra-license-file",
    "hardening-no-bindnow",
    "hardening-no-fortify-functions",
    "package-contains-documentation-outside-usr-share-doc",
}


def test_deb_is_lintian_clean_but_for_explained_tags(deb):
    assert lintian_tags(deb) <= EXPLAINED


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
    with open(installed) as handle:
        # Started without the site module (bench/README.md: the launcher's start); the runs
        # below prove the agent needs nothing from dist-packages.
        assert handle.readline().split() == ["#!/usr/bin/python3", "-IS"]
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
    # Nothing applies until the operator edits it; the timer stays off until it names a collector.
    assert [line for line in conf.splitlines() if line.strip() and line[0] != "#"] == ["[agent]"]


def elf_machine(data):
    """The CPU an ELF file is for, from its header's e_machine field."""
    assert data[:4] == b"\x7fELF"
    return {62: "x86_64", 183: "aarch64"}.get(int.from_bytes(data[18:20], "little"))


def test_pyz_for_aarch64_carries_arm64_psutil(pyz):
    done = run(["./packaging/build-pyz", "aarch64"])
    assert done.returncode == 0, done.stderr[-3000:]
    machines = {}
    for path in (pyz, os.path.join(ROOT, "dist", "wire-preflight-aarch64.pyz")):
        with zipfile.ZipFile(path) as bundle:
            modules = [n for n in bundle.namelist() if n.endswith(".so")]
            # psutil's abi3 module is the only compiled one: the rest runs on any CPU.
            assert modules == ["lib/psutil/_psutil_linux.abi3.so"], modules
            machines[os.path.basename(path)] = elf_machine(bundle.read(modules[0]))
    assert machines == {
        "wire-preflight.pyz": "x86_64",
        "wire-preflight-aarch64.pyz": "aarch64",
    }


def test_deb_for_arm64(deb, tmp_path):
    done = run(["./packaging/build-deb", "aarch64"])
    assert done.returncode == 0, done.stderr[-3000:]
    arm = os.path.join(ROOT, "dist", f"wire-preflight_{version()}_arm64.deb")
    fields = run(["dpkg-deb", "-f", arm, "Architecture", "Depends"]).stdout
    assert "Architecture: arm64" in fields and "iproute2" in fields
    run(["dpkg-deb", "-x", arm, str(tmp_path)])
    modules = [str(p) for p in tmp_path.rglob("*.so")]
    assert [os.path.relpath(m, str(tmp_path)) for m in modules] == [
        "usr/lib/wire-preflight/psutil/_psutil_linux.abi3.so"
    ]
    with open(modules[0], "rb") as handle:
        assert elf_machine(handle.read(64)) == "aarch64"
    assert lintian_tags(arm) <= EXPLAINED


def version():
    about = {}
    with open(os.path.join(ROOT, "agent", "wire_preflight", "__init__.py")) as handle:
        exec(handle.read(), about)
    return about["__version__"]


def test_wheel_builds_without_setuptools_warnings(tmp_path):
    # The build backend's own output (-v), with byte-compiling left on so that only the
    # project's configuration could cause a warning.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    done = run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "-w", str(tmp_path), "."],
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    output = done.stdout + done.stderr
    assert "Setuptools" in output or "setuptools" in output  # we did see the backend's output
    noise = re.findall(r".*(?:Warning|deprecated|is absent from the).*", output)
    assert not noise, noise
    metadata = zipfile.ZipFile(next(tmp_path.glob("*.whl"))).read(
        f"wire_preflight-{version()}.dist-info/METADATA"
    )
    assert b"\nLicense-Expression: AGPL-3.0-or-later\n" in metadata


# The collector for an air-gapped admin host: one .deb per Ubuntu release's python3.
COLLECTOR_PYTHONS = {"3.10": "Ubuntu 22.04", "3.12": "Ubuntu 24.04"}


@pytest.fixture(scope="module", params=sorted(COLLECTOR_PYTHONS))
def collector_deb(request):
    minor = request.param
    python = interpreters()[minor]
    if python is None:
        pytest.skip(
            f"!!! no Python {minor}: the collector for {COLLECTOR_PYTHONS[minor]} is NOT tested"
        )
    if not shutil.which("dpkg-deb") or not shutil.which("help2man"):
        pytest.skip("Debian's dpkg-deb and help2man are needed (.ci/run installs them)")
    done = run(["./packaging/build-collector"], env=dict(os.environ, PYTHON=python))
    assert done.returncode == 0, done.stderr[-3000:]
    name = "wire-preflight-collector_{}+py{}_amd64.deb".format(version(), minor.replace(".", ""))
    return minor, python, os.path.join(ROOT, "dist", name)


def collector_extra():
    """The names in pyproject's `collector` extra: what the .deb must carry."""
    tomllib = pytest.importorskip("tomllib")
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as handle:
        extra = tomllib.load(handle)["project"]["optional-dependencies"]["collector"]
    return {
        re.split(r"[<>=!~;\[ ]", item, maxsplit=1)[0].lower().replace("_", "-") for item in extra
    }


def test_collector_deb_control_and_contents(collector_deb, tmp_path):
    minor, _, path = collector_deb
    fields = run(["dpkg-deb", "-f", path, "Package", "Architecture", "Depends"]).stdout
    assert "Package: wire-preflight-collector" in fields and "Architecture: amd64" in fields
    upper = "3.{}".format(int(minor.split(".")[1]) + 1)
    assert f"Depends: python3 (>= {minor}), python3 (<< {upper}), openssl," in fields
    run(["dpkg-deb", "-x", path, str(tmp_path)])
    lib = tmp_path / "usr/lib/wire-preflight-collector"
    tag = "cpython-{}-x86_64-linux-gnu.so".format(minor.replace(".", ""))
    modules = [p.name for p in lib.rglob("*.so")]
    assert modules and all(m.endswith((tag, ".abi3.so")) for m in modules), modules
    assert not list(lib.glob("yaml/_yaml*"))  # libyaml stays out (Debian: no embedded copies)
    bundled = (tmp_path / "usr/share/doc/wire-preflight-collector/bundled.txt").read_text()
    names = {line.split()[0].lower().replace("_", "-") for line in bundled.splitlines()}
    assert collector_extra() <= names, bundled
    for rel in (
        "usr/bin/wire-preflight-collector",
        "lib/systemd/system/wire-preflight-collector.service",
        "usr/share/man/man1/wire-preflight-collector.1.gz",
        "etc/default/wire-preflight-collector",
    ):
        assert (tmp_path / rel).exists(), rel
    assert not list(tmp_path.rglob("__pycache__"))


def test_collector_deb_is_lintian_clean_but_for_explained_tags(collector_deb):
    # spelling-error-in-binary: a word inside charset_normalizer's compiled module.
    # binary-has-unneeded-section: psycopg-binary's bundled libpq & co. (auditwheel-patched
    # libraries, which strip can break, so they are left as the wheel ships them).
    assert lintian_tags(collector_deb[2]) <= EXPLAINED | {
        "package-supports-alternative-init-but-no-init.d-script",
        "spelling-error-in-binary",
        "binary-has-unneeded-section",
    }


def test_collector_unit_passes_systemd_analyze_verify(collector_deb, tmp_path):
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not here")
    run(["dpkg-deb", "-x", collector_deb[2], str(tmp_path / "x")])
    unit = (tmp_path / "x/lib/systemd/system/wire-preflight-collector.service").read_text()
    assert "LimitNOFILE=65536" in unit
    # Every secret reaches the service as a credential, and TLS is on: no --insecure-http.
    for option, credential in (
        ("--tls-cert", "tls.crt"),
        ("--tls-key", "tls.key"),
        ("--token-file", "admin-token"),
        ("--enroll-secret-file", "enroll-secret"),
        ("--viewer-token-file", "viewer-token"),
    ):
        assert f"{option} ${{CREDENTIALS_DIRECTORY}}/{credential}" in unit, option
        source = f"/etc/wire-preflight/collector/{credential}"
        assert f"LoadCredential={credential}:{source}\n" in unit, credential
    assert "--insecure-http" not in unit
    copy = tmp_path / "wire-preflight-collector.service"
    wrapper = str(tmp_path / "x/usr/bin/wire-preflight-collector")
    copy.write_text(unit.replace("/usr/bin/wire-preflight-collector", wrapper))
    done = run(["systemd-analyze", "verify", "--man=no", str(copy)])
    assert done.returncode == 0, done.stderr
    assert "wire-preflight-collector.service:" not in done.stderr, done.stderr


def dpkg_root(tmp_path):
    root = tmp_path / "root"
    for sub in ("info", "updates", "triggers"):
        (root / "var/lib/dpkg" / sub).mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_text("")
    return root


def dpkg(root, *args):
    done = run(
        [
            "dpkg",
            "--root",
            str(root),
            "--force-script-chrootless",
            "--force-depends",
            "--log=/dev/null",
            *args,
        ]
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def exec_start(unit, credentials, db, port):
    """The unit's ExecStart as argv, for a run outside systemd on loopback."""
    text = unit.split("ExecStart=", 1)[1]
    command = []
    for line in text.splitlines():
        command.append(line.rstrip("\\").strip())
        if not line.endswith("\\"):
            break
    argv = " ".join(command).replace("${CREDENTIALS_DIRECTORY}", credentials).split()
    argv.remove("$OPTIONS")  # from /etc/default/wire-preflight-collector: empty as shipped
    argv[argv.index("--db") + 1] = db
    argv[argv.index("--host") + 1] = "127.0.0.1"
    argv[argv.index("--port") + 1] = str(port)
    return argv


# Run inside `unshare -n`: loopback only, so any attempt to reach PyPI or a mirror fails.
SERVE_AND_ASK = """
import json, os, ssl, subprocess, sys, time, urllib.request
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
argv, port, cafile, token = json.loads(sys.argv[1])
server = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
context = ssl.create_default_context(cafile=cafile)
answers = {}
try:
    for _ in range(100):
        try:
            for route in ("/healthz", "/api/v1/fleet"):
                request = urllib.request.Request(
                    f"https://localhost:{port}{route}", headers={"Authorization": "Bearer " + token}
                )
                answers[route] = urllib.request.urlopen(request, context=context, timeout=5).status
            break
        except OSError:
            if server.poll() is not None:
                break
            time.sleep(0.2)
finally:
    server.terminate()
    err = server.communicate(timeout=20)[0].decode(errors="replace")
print(json.dumps({"answers": answers, "output": err[-2000:]}))
"""


def test_collector_deb_installs_offline_serves_tls_keeps_secrets_and_purges(
    collector_deb, tmp_path
):
    _, python, path = collector_deb
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("`unshare -n` (a network namespace with no network) needs root")
    root = dpkg_root(tmp_path)
    said = dpkg(root, "-i", path)
    conf = root / "etc/wire-preflight/collector"
    assert oct(conf.stat().st_mode & 0o777) == "0o700"
    for name in ("tls.key", "admin-token", "enroll-secret", "viewer-token"):
        assert oct((conf / name).stat().st_mode & 0o777) == "0o600", name
    cert = str(conf / "tls.crt")
    fingerprint = run(["openssl", "x509", "-in", cert, "-noout", "-fingerprint", "-sha256"])
    assert fingerprint.stdout.split("=", 1)[1].strip() in said  # printed at install
    assert "/etc/wire-preflight/collector/tls.crt" in said and "--ca-cert" in said
    names = run(["openssl", "x509", "-in", cert, "-noout", "-ext", "subjectAltName"]).stdout
    assert f"DNS:{socket.gethostname()}" in names and "IP Address:127.0.0.1" in names
    kept = {p.name: p.read_bytes() for p in conf.iterdir()}

    # The unit's own command line, with its credentials, served from the installed tree by
    # the target Python with no network at all.
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    unit = (root / "lib/systemd/system/wire-preflight-collector.service").read_text()
    for line in unit.splitlines():
        if line.startswith("LoadCredential="):
            name, source = line.split("=", 1)[1].split(":", 1)
            shutil.copy(str(root / source.lstrip("/")), str(credentials / name))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    argv = exec_start(unit, str(credentials), str(tmp_path / "collector.db"), port)
    assert argv[0] == "/usr/bin/wire-preflight-collector"
    argv[0:1] = [python, "-I", str(root / "usr/bin/wire-preflight-collector")]
    token = (credentials / "admin-token").read_text().strip()
    asked = run(
        ["unshare", "-n", python, "-c", SERVE_AND_ASK, json.dumps([argv, port, cert, token])],
        timeout=120,
    )
    assert asked.returncode == 0, asked.stderr
    result = json.loads(asked.stdout)
    assert result["answers"] == {"/healthz": 200, "/api/v1/fleet": 200}, result["output"]

    # An upgrade (here: the same version again) keeps the certificate and every secret.
    again = dpkg(root, "-i", path)
    assert "made" not in again
    assert {p.name: p.read_bytes() for p in conf.iterdir()} == kept

    # purge removes what the package and its service made.
    (root / "var/lib/private/wire-preflight-collector").mkdir(parents=True)
    (root / "var/lib/private/wire-preflight-collector/collector.db").write_text("")
    dpkg(root, "--purge", "wire-preflight-collector")
    assert not conf.exists()
    assert not (root / "var/lib/private/wire-preflight-collector").exists()
    assert not (root / "usr/lib/wire-preflight-collector").exists()
