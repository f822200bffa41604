"""Hostile captured trees (--root) and hostile input files, met with the real things: FIFOs,
device nodes, links out of the tree, sparse giants, billion laughs, 5,000-deep YAML.

Each tree is judged by the real `wire-preflight check` in its own process, as user `nobody`,
under a 1 GiB address-space cap, as an attacker would have it run. The timeout is a hang
guard only: nothing here asserts a time. What is asserted: the exit code is the checks' own
(0, 3, 4: never 1), no traceback, the refused file is named in the report's facts with the
reason, and nothing from outside the tree (a secret planted beside it, this machine's
os-release) reaches the output.
"""

import json
import os
import pwd
import resource
import shlex
import shutil
import stat
import subprocess
import tempfile

import pytest
from helpers import require_root
from nettree import link, write

HANG_GUARD = 120  # seconds; a run that takes this long has hung
MEMORY_CAP = 1 << 30
SECRET = "WP-SECRET-7f3a9c"
CHECK_CODES = (0, 3, 4)

# A cassandra VM, Ubuntu 18.04, as a support bundle would capture it.
BASE = {
    "/etc/hostname": "cassandra1\n",
    "/etc/machine-id": "0123456789abcdef0123456789abcdef\n",
    "/etc/os-release": 'NAME="Ubuntu"\nID=ubuntu\nVERSION_ID="18.04"\n'
    'VERSION_CODENAME=bionic\nPRETTY_NAME="Ubuntu 18.04.6 LTS"\n',
    "/proc/meminfo": "MemTotal:       16314200 kB\nSwapTotal:             0 kB\n",
    "/proc/cpuinfo": "".join(
        f"processor\t: {i}\nphysical id\t: 0\ncore id\t\t: {i}\nflags\t\t: fpu hypervisor\n\n"
        for i in range(4)
    ),
    "/proc/sys/vm/max_map_count": "1048575\n",
    "/sys/devices/system/memory/block_size_bytes": "8000000\n",
    "/etc/netplan/50-cloud-init.yaml": (
        "network:\n  ethernets:\n    ens3:\n      addresses: [192.168.122.21/24]\n"
    ),
}


# --- running the agent as nobody -------------------------------------------------------------


@pytest.fixture(scope="module")
def shared():
    """A directory `nobody` can enter (pytest's tmp_path sits under a 0700 one)."""
    path = tempfile.mkdtemp(prefix="wp-hostile-", dir="/tmp")
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def as_nobody(shared):
    """Run `python -m wire_preflight ARGS` as nobody under the memory cap. The interpreters
    the suite runs on live under /root (mode 700), so Debian's python3 runs this very agent
    and its dependencies, copied where nobody can read them."""
    require_root("becoming `nobody` needs root")
    if not shutil.which("setpriv") or not os.path.exists("/usr/bin/python3"):
        pytest.skip("!!! NOT TESTED: no setpriv or no /usr/bin/python3 to run as nobody")
    import click
    import psutil
    import wire_preflight
    import yaml

    site = os.path.join(shared, "site")
    for module in (wire_preflight, click, psutil, yaml):
        source = os.path.dirname(module.__file__)
        shutil.copytree(
            source,
            os.path.join(site, os.path.basename(source)),
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    state = os.path.join(shared, "state")
    os.mkdir(state)
    nobody = pwd.getpwnam("nobody")
    os.chown(state, nobody.pw_uid, nobody.pw_gid)
    subprocess.run(["chmod", "-R", "a+rX", site], check=True)
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": site,
        "HOME": "/nonexistent",
        "WIRE_PREFLIGHT_STATE_DIR": state,
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    prefix = [
        "setpriv",
        f"--reuid={nobody.pw_uid}",
        f"--regid={nobody.pw_gid}",
        "--clear-groups",
        "/usr/bin/python3",
    ]

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))

    def run(*args, mounts=()):
        """mounts: (source, target) pairs bound in a mount namespace of the run's own, so
        the live host's files can be hostile without touching this machine's."""
        command = [*prefix, "-m", "wire_preflight", *args]
        if mounts:
            script = " && ".join(
                f"mount --bind {shlex.quote(s)} {shlex.quote(t)}" for s, t in mounts
            )
            command = ["unshare", "--mount", "sh", "-c", script + ' && exec "$@"', "sh", *command]
        return subprocess.run(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            universal_newlines=True,
            timeout=HANG_GUARD,
            env=env,
            preexec_fn=cap,
            cwd="/",
        )

    probe = subprocess.run(
        [*prefix, "-c", "import os, wire_preflight.cli.main; print(os.getuid())"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        env=env,
        preexec_fn=cap,
    )
    if probe.returncode != 0 or probe.stdout.strip() != str(nobody.pw_uid):
        pytest.skip("!!! NOT TESTED: the agent does not run as nobody: " + probe.stderr[-300:])
    return run


@pytest.fixture
def outside(shared):
    """A secret beside the tree: an os-release and a memory block size, should a link lead
    out of the tree and be followed."""
    path = tempfile.mkdtemp(dir=shared)
    os.chmod(path, 0o755)
    secret = os.path.join(path, "secret")
    with open(secret, "w") as handle:
        handle.write(f'ID={SECRET}\nPRETTY_NAME="{SECRET}"\nVERSION_ID="99"\n')
    os.chmod(secret, 0o644)
    hexfile = os.path.join(path, "block")
    with open(hexfile, "w") as handle:
        handle.write("40000000\n")  # 1 GiB blocks: installed_bytes would be a giveaway
    os.chmod(hexfile, 0o644)
    return {"secret": secret, "block": hexfile}


@pytest.fixture
def tree(shared):
    root = tempfile.mkdtemp(dir=shared)
    os.chmod(root, 0o755)
    write(root, BASE)
    link(root, "ens3", "52:54:00:12:34:56", 2)
    return root


def judge(as_nobody, root):
    done = as_nobody("check", "--root", root, "--role", "cassandra", "--json")
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode in CHECK_CODES, (done.returncode, done.stderr[-2000:])
    assert SECRET not in done.stdout + done.stderr
    return json.loads(done.stdout)


def unreadable(report):
    """Every reason the facts give for what they could not read: the areas' errors and the
    file lists of the readers that keep one."""
    facts = report["facts"]
    found = [f"{key}: {reason}" for key, reason in (facts.get("errors") or {}).items()]
    for area in ("network_config", "firewall", "limits"):
        for entry in (facts.get(area) or {}).get("errors") or []:
            found.append("{}: {}".format(entry.get("file"), entry.get("error")))
    for name, value in (facts.get("tunables") or {}).items():
        if isinstance(value, dict) and "error" in value:
            found.append(f"{name}: {value['error']}")
    return found


def refused(report, path, reason):
    hits = [line for line in unreadable(report) if path in line and reason in line]
    assert hits, f"{path} not refused for {reason!r}: {unreadable(report)}"


def place(root, path):
    full = os.path.join(root, path.lstrip("/"))
    os.makedirs(os.path.dirname(full), exist_ok=True)
    if os.path.lexists(full):
        if os.path.isdir(full) and not os.path.islink(full):
            shutil.rmtree(full)
        else:
            os.unlink(full)
    return full


def fifo(root, path):
    os.mkfifo(place(root, path), 0o644)


def zero_device(root, path):
    os.mknod(place(root, path), 0o644 | stat.S_IFCHR, os.makedev(1, 5))  # as /dev/zero


def symlink(root, path, target):
    os.symlink(target, place(root, path))


def sparse(root, path, size):
    with open(place(root, path), "wb") as handle:
        handle.truncate(size)
    os.chmod(os.path.join(root, path.lstrip("/")), 0o644)


def text(root, path, content, mode="w"):
    with open(place(root, path), mode) as handle:
        handle.write(content)
    os.chmod(os.path.join(root, path.lstrip("/")), 0o644)


BILLION_LAUGHS = (
    "network:\n  ethernets:\n    lol0: &a {dhcp4: 'true', nameservers: {search: [x, x, x]}}\n"
    + "".join(
        "    lol{}: &{} [{}]\n".format(i, chr(97 + i), ", ".join([f"*{chr(96 + i)}"] * 10))
        for i in range(1, 10)
    )
)
DEEP = "network:\n  ethernets:\n    ens3: " + "[" * 5000 + "]" * 5000 + "\n"


# --- the attacks the issue names -------------------------------------------------------------


def test_block_size_linked_out_of_the_tree_is_never_read(as_nobody, tree, outside):
    # The installed-memory reader opened this without the root: the machine running the
    # command answered (its /etc/machine-id came back as installed_bytes).
    symlink(tree, "/sys/devices/system/memory/block_size_bytes", outside["block"])
    os.mkdir(os.path.join(tree, "sys/devices/system/memory/memory0"))
    report = judge(as_nobody, tree)
    assert "installed_bytes" not in report["facts"]["memory"]


def test_block_size_through_an_absolute_link_to_this_machines_file(as_nobody, tree):
    # The link is the tree's: its target is the tree's own machine-id, read as hex.
    symlink(tree, "/sys/devices/system/memory/block_size_bytes", "/etc/machine-id")
    os.mkdir(os.path.join(tree, "sys/devices/system/memory/memory0"))
    report = judge(as_nobody, tree)
    tree_id = int(BASE["/etc/machine-id"], 16)
    assert report["facts"]["memory"]["installed_bytes"] == tree_id


def test_os_release_linked_out_of_the_tree_is_the_trees_or_nothing(as_nobody, tree, outside):
    # Absolute: taken from the tree, where /usr/lib/os-release is the tree's own (the
    # running machine's is Debian's); relative climbing out: stopped at the tree's root.
    symlink(tree, "/etc/os-release", "/usr/lib/os-release")
    text(tree, "/usr/lib/os-release", 'ID=ubuntu\nVERSION_ID="18.04"\nVERSION_CODENAME=bionic\n')
    report = judge(as_nobody, tree)
    assert report["facts"]["os"]["id"] == "ubuntu"
    assert report["facts"]["os"]["version_id"] == "18.04"
    climb = "../" * 30 + outside["secret"].lstrip("/")
    symlink(tree, "/etc/os-release", climb)
    os.unlink(os.path.join(tree, "usr/lib/os-release"))
    report = judge(as_nobody, tree)
    assert report["facts"]["os"] is None
    assert "os: No such file or directory" in "\n".join(unreadable(report))


def test_os_release_absolute_link_to_the_secret_is_not_followed(as_nobody, tree, outside):
    symlink(tree, "/etc/os-release", outside["secret"])
    report = judge(as_nobody, tree)
    assert report["facts"]["os"] is None


HOSTILE = {
    # name: (build the attack, the host path named, the reason given)
    "hostname-fifo": (lambda r: fifo(r, "/etc/hostname"), "/etc/hostname", "FIFO"),
    "netplan-fifo": (
        lambda r: fifo(r, "/etc/netplan/60-more.yaml"),
        "/etc/netplan/60-more.yaml",
        "FIFO",
    ),
    "dhclient-lease-fifo": (
        lambda r: fifo(r, "/var/lib/dhcp/dhclient.ens3.leases"),
        "/var/lib/dhcp/dhclient.ens3.leases",
        "FIFO",
    ),
    "sysfs-address-fifo": (
        lambda r: fifo(r, "/sys/class/net/ens3/address"),
        "/sys/class/net/ens3/address",
        "FIFO",
    ),
    "cpuinfo-dev-zero": (
        lambda r: zero_device(r, "/proc/cpuinfo"),
        "/proc/cpuinfo",
        "character device",
    ),
    "block-size-to-a-device-in-the-tree": (
        lambda r: (
            zero_device(r, "/dev/zero"),
            symlink(r, "/sys/devices/system/memory/block_size_bytes", "/dev/zero"),
            symlink(r, "/proc/meminfo", "../dev/zero"),
        ),
        "/proc/meminfo",
        "character device",
    ),
    "os-release-sparse-1g": (
        lambda r: sparse(r, "/etc/os-release", 1 << 30),
        "/etc/os-release",
        "more than the 64 KiB",
    ),
    "netplan-200m": (
        lambda r: sparse(r, "/etc/netplan/50-cloud-init.yaml", 200 << 20),
        "/etc/netplan/50-cloud-init.yaml",
        "more than the 256 KiB",
    ),
    "netplan-billion-laughs": (
        lambda r: text(r, "/etc/netplan/50-cloud-init.yaml", BILLION_LAUGHS),
        "/etc/netplan/50-cloud-init.yaml",
        "aliases expanded",
    ),
    "netplan-5000-deep": (
        lambda r: text(r, "/etc/netplan/50-cloud-init.yaml", DEEP),
        "/etc/netplan/50-cloud-init.yaml",
        "nested deeper than",
    ),
    "netplan-alias-inside-itself": (
        lambda r: text(r, "/etc/netplan/50-cloud-init.yaml", "network: &n\n  ethernets: *n\n"),
        "/etc/netplan/50-cloud-init.yaml",
        "alias inside the node",
    ),
    "hostname-symlink-loop": (
        lambda r: (
            symlink(r, "/etc/hostname", "hostname.2"),
            symlink(r, "/etc/hostname.2", "hostname"),
        ),
        "/etc/hostname",
        "loop of symbolic links",
    ),
    "machine-id-a-directory": (
        lambda r: (
            os.unlink(os.path.join(r, "etc/machine-id")),
            os.mkdir(os.path.join(r, "etc/machine-id")),
        ),
        "machine_id",
        "a directory",
    ),
    "meminfo-link-to-a-directory": (
        lambda r: symlink(r, "/proc/meminfo", "/etc"),
        "/proc/meminfo",
        "a directory",
    ),
    "max-map-count-sparse": (
        lambda r: sparse(r, "/proc/sys/vm/max_map_count", 1 << 30),
        "/proc/sys/vm/max_map_count",
        "more than the 64 KiB",
    ),
    "limits-conf-fifo": (
        lambda r: fifo(r, "/etc/security/limits.conf"),
        "/etc/security/limits.conf",
        "FIFO",
    ),
    "iptables-rules-device": (
        lambda r: zero_device(r, "/etc/iptables/rules.v4"),
        "/etc/iptables/rules.v4",
        "character device",
    ),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_file_is_refused_with_its_reason(as_nobody, tree, name):
    build, path, reason = HOSTILE[name]
    if "device" in name or "dev-zero" in name:
        require_root("mknod of a character device")
    build(tree)
    report = judge(as_nobody, tree)
    refused(report, path, reason)


def test_every_attack_at_once(as_nobody, tree, outside):
    require_root("mknod of a character device")
    expected = {}
    for name in sorted(HOSTILE):
        build, path, reason = HOSTILE[name]
        build(tree)
        expected[path] = reason  # a later attack on the same file replaces an earlier one
    symlink(tree, "/etc/machine-id", outside["secret"])
    expected.pop("machine_id")
    symlink(tree, "/etc/os-release", "../../../../../../../../" + outside["secret"].lstrip("/"))
    expected.pop("/etc/os-release")
    report = judge(as_nobody, tree)
    for path, reason in expected.items():
        refused(report, path, reason)
    assert report["facts"]["os"] is None


def test_countless_costly_files_each_within_its_bound_end_the_reading(as_nobody, tree):
    # 64 KiB of `a:` lines costs PyYAML seconds; sixty such files would cost minutes.
    costly = ("a:\n " * 16384)[: 64 * 1024 - 1]
    for index in range(60):
        text(tree, f"/etc/netplan/{index:02d}-costly.yaml", costly)
    report = judge(as_nobody, tree)
    refused(report, "/etc/netplan/59-costly.yaml", "the run spent its 5 s of CPU reading files")


def test_files_that_source_each_other_through_links_end(as_nobody, tree):
    os.symlink(".", os.path.join(tree, "etc/netplan/loop"))
    text(tree, "/etc/network/interfaces", "source loop/*\nsource /etc/network/*/*/*/*\n")
    os.symlink(".", os.path.join(tree, "etc/network/loop"))
    for index in range(20):
        os.symlink(".", os.path.join(tree, f"etc/network/l{index}"))
    report = judge(as_nobody, tree)
    refused(report, "/etc/network/*/*/*/*", "more than 4096 paths match")
    assert report["facts"]["network_config"]["interfaces"]["ens3"]["method"] == "static"


def test_non_utf8_bytes_are_read_as_replacement_characters(as_nobody, tree):
    text(tree, "/etc/hostname", b"cass\xff\xfeandra\n", mode="wb")
    text(tree, "/etc/netplan/50-cloud-init.yaml", b"network:\n  ethernets:\n    \xff: {}\n", "wb")
    text(tree, "/etc/os-release", b'ID=ubu\xc3ntu\nVERSION_ID="18.04\n', mode="wb")
    report = judge(as_nobody, tree)
    assert "\ufffd" in report["facts"]["hostname"]


def test_thousands_of_interfaces_are_read_and_too_many_refused(as_nobody, tree):
    net = os.path.join(tree, "sys/class/net")
    for index in range(3000):
        os.mkdir(os.path.join(net, f"veth{index}"))
    report = judge(as_nobody, tree)
    assert len(report["facts"]["network_config"]["links"]) == 3001
    for index in range(3000, 4096):
        os.mkdir(os.path.join(net, f"veth{index}"))
    report = judge(as_nobody, tree)
    refused(report, "/sys/class/net", "more than 4096 entries")


def test_a_device_link_out_of_the_tree_names_no_driver_of_this_machine(as_nobody, tree):
    # /sys/class/net/X/device as the kernel makes it: an absolute link into /sys/devices.
    # Followed on this machine it would name this machine's driver.
    live = [
        n
        for n in os.listdir("/sys/class/net")
        if os.path.exists(f"/sys/class/net/{n}/device/driver")
    ]
    if not live:
        pytest.skip("!!! NOT TESTED: this machine has no interface with a driver to leak")
    symlink(
        tree, "/sys/class/net/ens3/device", os.path.realpath(f"/sys/class/net/{live[0]}/device")
    )
    report = judge(as_nobody, tree)
    (ens3,) = [lk for lk in report["facts"]["network_config"]["links"] if lk["name"] == "ens3"]
    assert ens3["driver"] is None


def test_the_live_host_with_hostile_files_is_judged_too(as_nobody, shared):
    """No --root: the live host's own files are read with the same care. A FIFO over
    os-release and machine-id and /dev/zero over /proc/meminfo, bound in a mount namespace."""
    require_root("bind mounts in a mount namespace")
    if not shutil.which("unshare"):
        pytest.skip("!!! NOT TESTED: no unshare for a mount namespace")
    work = tempfile.mkdtemp(dir=shared)
    pipe = os.path.join(work, "pipe")
    os.mkfifo(pipe, 0o644)
    mounts = [(pipe, "/etc/os-release"), (pipe, "/etc/machine-id"), ("/dev/zero", "/proc/meminfo")]
    if os.path.exists("/var/lib/dbus/machine-id"):
        mounts.append((pipe, "/var/lib/dbus/machine-id"))
    if os.path.exists("/sys/devices/system/memory/block_size_bytes"):
        mounts.append((pipe, "/sys/devices/system/memory/block_size_bytes"))
    done = as_nobody("check", "--role", "cassandra", "--json", mounts=mounts)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode in CHECK_CODES, (done.returncode, done.stderr[-2000:])
    report = json.loads(done.stdout)
    refused(report, "os", "FIFO")
    refused(report, "machine_id", "FIFO")
    refused(report, "memory", "character device")


# --- the inputs the CLI takes ----------------------------------------------------------------


def test_a_fifo_or_a_device_as_an_input_file_is_a_one_line_error(as_nobody, shared):
    require_root("mknod of a character device")
    work = tempfile.mkdtemp(dir=shared)
    os.chmod(work, 0o755)
    pipe = os.path.join(work, "pipe")
    os.mkfifo(pipe, 0o644)
    for given in (pipe, "/dev/zero"):
        for args in (
            ("check", "--role", "cassandra", "--facts", given),
            ("check", "--role", "cassandra", "--profile", given),
            ("check", "--role", "cassandra", "--config", given),
        ):
            done = as_nobody(*args)
            assert done.returncode == 2, (args, done.stderr)
            assert "Traceback" not in done.stderr
            assert len(done.stderr.strip().splitlines()) == 1, done.stderr
            assert "refused" in done.stderr and given in done.stderr


def test_a_huge_or_deep_facts_file_is_a_one_line_error(as_nobody, shared):
    work = tempfile.mkdtemp(dir=shared)
    os.chmod(work, 0o755)
    huge = os.path.join(work, "huge.json")
    with open(huge, "wb") as handle:
        handle.truncate(1 << 30)
    deep = os.path.join(work, "deep.json")
    with open(deep, "w") as handle:
        handle.write("[" * 200000 + "]" * 200000)
    for path, words in ((huge, "refused"), (deep, "not valid JSON")):
        os.chmod(path, 0o644)
        done = as_nobody("check", "--role", "cassandra", "--facts", path)
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr and words in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_the_run_goes_on_in_the_tree_it_was_given(as_nobody, tree):
    """The control: the base tree, untouched, is read whole (so the attacks above are
    refusals of the hostile file, not of everything)."""
    report = judge(as_nobody, tree)
    facts = report["facts"]
    assert facts["hostname"] == "cassandra1"
    assert facts["os"]["version_id"] == "18.04"
    assert facts["memory"]["total_bytes"] == 16314200 * 1024
    assert facts["cpu"]["logical_count"] == 4
    assert facts["network_config"]["interfaces"]["ens3"]["method"] == "static"
    assert not [line for line in unreadable(report) if "refused" in line]
