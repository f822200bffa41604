"""The support bundle (`wire-preflight bundle`, `check --bundle`, `check --root` on an unpacked
bundle): the same verdicts elsewhere as on the host, hostile bundles refused in one line,
and the agent's and the host's secrets never inside the archive."""

import gzip
import io
import json
import os
import shutil
import tarfile

import pytest

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
ROLES = ["--role", "cassandra", "--role", "kubernetes"]


@pytest.fixture
def cli(capsys):
    """The CLI in-process: (exit code, stdout, stderr)."""
    from wire_preflight.cli.main import main

    def run(*args):
        with pytest.raises(SystemExit) as exited:
            main([str(a) for a in args])
        out, err = capsys.readouterr()
        return exited.value.code, out, err

    return run


def verdicts(doc):
    return [(c["id"], c["role"], c["status"]) for c in doc["checks"]]


def top_of(bundle):
    with tarfile.open(bundle) as tar:
        return tar.getnames()[0]


def unpacked(bundle, where):
    """Our own bundle, unpacked as an operator would (tar), to judge with --root."""
    # tarfile's extraction filter where there is one (3.12 warns without it; 3.6 has none)
    trusted = {"filter": "tar"} if hasattr(tarfile, "tar_filter") else {}
    with tarfile.open(bundle) as tar:
        for member in tar.getmembers():
            tar.extract(member, str(where), **trusted)
    return os.path.join(str(where), top_of(bundle))


def member_json(bundle, name):
    with tarfile.open(bundle) as tar:
        return json.load(tar.extractfile(f"{top_of(bundle)}/{name}"))


# -- the same verdicts elsewhere ---------------------------------------------------------


def test_live_bundle_gives_the_live_verdicts(cli, tmp_path):
    """Made on this host, judged from the archive and from the unpacked tree: the same checks
    with the same states as `check` here, and the same results as the bundle's own report.

    Between the bundle's run and the separate live `check`, free space and the clock move:
    their observed values may differ, not the states (compared: id, role, state)."""
    bundle = tmp_path / "b.tar.gz"
    code, out, err = cli("bundle", *ROLES, "--out", bundle, "--state-dir", tmp_path / "s1")
    assert code == 0, err
    assert f"wrote {bundle}" in out
    live_code, live_out, _ = cli("check", *ROLES, "--json", "--state-dir", tmp_path / "s2")
    live = json.loads(live_out)

    code, out, err = cli("check", "--bundle", bundle, *ROLES, "--json")
    assert err == ""
    replayed = json.loads(out)
    assert code == live_code
    assert verdicts(replayed) == verdicts(live)
    # The bundle's own run and its replay judge the same facts: identical results, message
    # and observed values included.
    assert replayed["checks"] == member_json(bundle, "report.json")["checks"]
    assert replayed["facts"]["bundle"]["format"] == "wire-preflight/bundle/1"

    top = unpacked(bundle, tmp_path / "unpacked")
    code, out, _ = cli("check", "--root", top, *ROLES, "--json")
    assert code == live_code
    assert json.loads(out)["checks"] == replayed["checks"]


def test_replayed_facts_are_the_recorded_facts(tmp_path):
    """Every fact read again from the tree, with the live views from the bundle, equals the
    fact the host collected: a reader reading something the bundle does not hold, or a new
    live-only area replay.py does not name, fails here."""
    from wire_preflight import pipeline
    from wire_preflight.bundle import make, replay
    from wire_preflight.cli import main as _cli  # noqa: F401  (the command registers)

    bundle = str(tmp_path / "b.tar.gz")
    options = pipeline.Options(roles=("elasticsearch",), state_dir=str(tmp_path / "s"))
    make.make(options, bundle, {}, None)
    top = unpacked(bundle, tmp_path / "u")
    recorded = member_json(bundle, "facts.json")
    _results, doc = replay.evaluate_directory(top, pipeline.Options())
    replayed = dict(doc["facts"])
    assert replayed.pop("bundle")["hostname"] == recorded["hostname"]
    assert replayed == recorded


def test_an_area_the_host_could_not_read_keeps_the_hosts_reason():
    """A file unreadable on the VM (root-only, as product_uuid) is left out of the bundle:
    re-read, it is missing; the replay says why the VM could not read it."""
    from wire_preflight.bundle.replay import merge

    denied = "Permission denied reading /sys/class/dmi/id/product_uuid"
    reread = {"product_uuid": None, "errors": {"product_uuid": "No such file or directory"}}
    recorded = {"product_uuid": None, "errors": {"product_uuid": denied}}
    assert merge(reread, recorded, {})["errors"]["product_uuid"] == denied
    # read here (an agent that reads it another way now): the new reading stands
    reread = {"product_uuid": "abc", "errors": {}}
    assert "product_uuid" not in merge(reread, recorded, {})["errors"]


def test_a_captured_tree_bundles_and_judges_as_its_root(cli, tmp_path):
    tree = _tree(tmp_path)
    bundle = tmp_path / "t.tar.gz"
    code, out, err = cli("bundle", "--root", tree, *ROLES, "--out", bundle)
    assert code == 0, err
    assert "live views: none (a captured tree)" in out
    code_root, out_root, _ = cli(
        "check", "--root", tree, *ROLES, "--json", "--state-dir", tmp_path / "s"
    )
    code, out, err = cli("check", "--bundle", bundle, *ROLES, "--json")
    assert (code, err) == (code_root, "")
    assert verdicts(json.loads(out)) == verdicts(json.loads(out_root))
    ip_static = [c for c in json.loads(out)["checks"] if c["id"] == "ip-static"]
    assert "configuration files alone" in ip_static[0]["message"]


def test_profile_and_roles_default_to_the_bundles(cli, tmp_path):
    bundle = tmp_path / "b.tar.gz"
    cli("bundle", "--role", "minio", "--profile", "current", "--out", bundle)
    _code, out, err = cli("check", "--bundle", bundle, "--json")
    assert err == ""
    doc = json.loads(out)
    assert doc["roles"] == ["minio"] and doc["profile"]["name"] == "current"


def test_the_bundle_holds_only_what_the_readers_asked(tmp_path):
    """A file next to those read (same directory, not asked for) stays out; the files read
    are there with their content; the link the driver is read from stays a link."""
    tree = _tree(tmp_path)
    _write(tree, "etc/netplan/notes.txt", "not a netplan file\n")
    _write(tree, "etc/unrelated.conf", "nobody reads this\n")
    bundle = str(tmp_path / "t.tar.gz")
    _make(tree, bundle)
    with tarfile.open(bundle) as tar:
        names = {n.split("/root", 1)[1] for n in tar.getnames() if "/root/" in n}
        driver = [m for m in tar.getmembers() if m.name.endswith("ens3/device/driver")]
    assert "/etc/netplan/50-cloud-init.yaml" in names
    assert "/etc/os-release" in names
    assert "/etc/unrelated.conf" not in names
    # listed by the netplan reader's glob: a name, never its content
    assert (
        "/etc/netplan/notes.txt" not in names or _content(bundle, "/etc/netplan/notes.txt") == b""
    )
    assert driver and driver[0].issym() and driver[0].linkname.endswith("virtio_net")


def test_a_bundle_leaves_the_host_as_it_was(cli, tmp_path):
    state = tmp_path / "state"
    code, _out, err = cli("bundle", *ROLES, "--out", tmp_path / "b.tar.gz", "--state-dir", state)
    assert code == 0, err
    assert not state.exists()  # remembered addresses are read, never written, by a bundle
    assert oct(os.stat(tmp_path / "b.tar.gz").st_mode & 0o777) == "0o600"


# -- secrets -----------------------------------------------------------------------------

TOKEN = "tok-3b9d0c1e7a5f48b2"
ENROLL = "enr-8c2e4f6a1d3b5790"
HOST_KEY = "hk-f1e2d3c4b5a69788"
WIFI_PSK = "wifi-psk-5521ab77"
DOT1X = "dot1x-pw-99c0de12"
NETPLAN_PASSWORD = "netplan-pw-4e4e7f70"
IFUPDOWN_PSK = "wpa-psk-0a0b0c0d"
KEY_BODY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7secretbody"


def _plant_agent_secrets(tmp_path):
    """The agent's own secrets at the places its configuration names."""
    state = tmp_path / "agent-state"
    (state / "keys").mkdir(parents=True)
    (state / "keys" / "0123456789abcdef.key").write_text(HOST_KEY + "\n")
    (tmp_path / "token").write_text(TOKEN + "\n")
    (tmp_path / "enroll-secret").write_text(ENROLL + "\n")
    conf = tmp_path / "agent.conf"
    conf.write_text(
        "[agent]\nroles = cassandra, kubernetes\ncollector = https://admin.example:8443\n"
        f"token_file = {tmp_path / 'token'}\nenroll_secret_file = {tmp_path / 'enroll-secret'}\n"
        f"state_dir = {state}\n"
    )
    return conf


def _plant_tree_secrets(tree):
    """Secrets in files the readers read, and the agent's own values where nobody expects."""
    _write(
        tree,
        "etc/NetworkManager/system-connections/wifi.nmconnection",
        "[connection]\nid=wifi\ntype=wifi\ninterface-name=wlan0\n\n"
        f"[wifi-security]\nkey-mgmt=wpa-psk\npsk={WIFI_PSK}\n\n"
        f"[802-1x]\neap=peap;\nidentity=ops\npassword={DOT1X}\n\n"
        "[ipv4]\nmethod=manual\naddress1=192.168.9.5/24\n",
    )
    _write(
        tree,
        "etc/netplan/60-wifi.yaml",
        "network:\n  version: 2\n  wifis:\n    wlan0:\n      dhcp4: false\n"
        "      addresses: [192.168.9.6/24]\n      access-points:\n"
        f'        "office":\n          password: "{NETPLAN_PASSWORD}"\n',
    )
    _write(
        tree,
        "etc/network/interfaces",
        "auto lo\niface lo inet loopback\n\nauto wlan1\niface wlan1 inet static\n"
        f"    address 192.168.9.7/24\n    wpa-ssid office\n    wpa-psk {IFUPDOWN_PSK}\n",
    )
    _write(
        tree,
        "etc/netplan/90-key.yaml",
        "# pasted by mistake\n-----BEGIN PRIVATE KEY-----\n"
        f"{KEY_BODY}\n-----END PRIVATE KEY-----\n",
    )
    # The agent's own values, in files the readers read under innocent names.
    _write(
        tree,
        "etc/systemd/system/cassandra.service",
        f"[Service]\nExecStart=/usr/bin/cassandra --auth {TOKEN}\nLimitNOFILE=100000\n",
    )
    _write(tree, "etc/apt/apt.conf.d/99local", f'Acquire::Custom "{HOST_KEY}";\n')
    _write(tree, "etc/security/limits.d/enroll.conf", f"# {ENROLL}\n* soft nofile 4096\n")
    # The agent's own files inside the tree: not read by any reader, and denied anyway.
    _write(tree, "etc/wire-preflight/token", TOKEN + "\n")


SECRETS = [TOKEN, ENROLL, HOST_KEY, WIFI_PSK, DOT1X, NETPLAN_PASSWORD, IFUPDOWN_PSK, KEY_BODY]


def test_secrets_never_enter_the_archive(cli, tmp_path):
    conf = _plant_agent_secrets(tmp_path)
    tree = _tree(tmp_path)
    _plant_tree_secrets(tree)
    bundle = tmp_path / "s.tar.gz"
    code, out, err = cli("bundle", "--config", conf, "--root", tree, "--out", bundle)
    assert code == 0, err
    compressed = bundle.read_bytes()
    unzipped = gzip.decompress(compressed)
    for secret in SECRETS:
        assert secret.encode() not in compressed
        assert secret.encode() not in unzipped, secret
    # The files stay, their secrets gone: the readers still parse them.
    nm = _content(str(bundle), "/etc/NetworkManager/system-connections/wifi.nmconnection")
    assert b"psk=REDACTED" in nm and b"address1=192.168.9.5/24" in nm
    assert b"wpa-psk REDACTED" in _content(str(bundle), "/etc/network/interfaces")
    manifest = member_json(str(bundle), "manifest.json")
    skipped = {s["path"]: s["reason"] for s in manifest["skipped"]}
    assert skipped["/etc/netplan/90-key.yaml"] == "it holds a private key"
    # Each planted file was read, so each secret was kept out by the screen, not by chance.
    assert {r["path"] for r in manifest["redacted"]} == {
        "/etc/NetworkManager/system-connections/wifi.nmconnection",
        "/etc/netplan/60-wifi.yaml",
        "/etc/network/interfaces",
        "/etc/systemd/system/cassandra.service",
        "/etc/apt/apt.conf.d/99local",
        "/etc/security/limits.d/enroll.conf",
    }
    assert "redacted:" in out and "left out:" in out
    # The redactions change no verdict: the bundle judges as the tree itself.
    code_b, out_b, _ = cli("check", "--bundle", bundle, *ROLES, "--json")
    code_t, out_t, _ = cli("check", "--root", tree, *ROLES, "--json", "--state-dir", tmp_path / "x")
    assert code_b == code_t
    from_bundle, from_tree = json.loads(out_b)["checks"], json.loads(out_t)["checks"]
    assert verdicts(json.loads(out_b)) == verdicts(json.loads(out_t))
    # One difference, by design: the file left out for its private key is not in the bundle,
    # so the netplan reader no longer says it could not parse it.
    for check in from_tree:
        if check["id"] == "ip-static":
            unreadable = check["evidence"]["unreadable"]
            assert [u for u in unreadable if "90-key.yaml" in u]
            check["evidence"]["unreadable"] = [u for u in unreadable if "90-key.yaml" not in u]
    assert from_bundle == from_tree


def test_the_agents_own_paths_are_refused_whatever_reads_them():
    from wire_preflight.bundle.secrets import Screen

    screen = Screen(["/srv/agent/token"], [TOKEN])
    for path in (
        "/etc/wire-preflight/agent.conf",
        "/var/lib/wire-preflight/keys/abc.key",
        "/srv/agent/token",
        "/etc/shadow",
        "/etc/ssh/ssh_host_ed25519_key",
        "/etc/ssl/private/wire.pem",
        "/root/.bash_history",
        "/opt/app/client_secret.json",
    ):
        verdict = screen.screen(path, b"anything\n")
        assert verdict.data is None, path
    kept = screen.screen("/etc/hostname", b"db1\n")
    assert kept.data == b"db1\n" and kept.redacted_lines == 0


@pytest.mark.parametrize(
    ("line", "kept"),
    [
        (b"password=hunter2hunter2", b"password=REDACTED"),
        (b"  password: 'hunter2hunter2'", b"  password: 'REDACTED'"),
        (b'  "client_secret": "hunter2hunter2",', b'  "client_secret": "REDACTED",'),
        (b"    wpa-psk hunter2hunter2", b"    wpa-psk REDACTED"),
        (b"API_KEY=hunter2hunter2", b"API_KEY=REDACTED"),
        (b"wep-key0=hunter2hunter2", b"wep-key0=REDACTED"),
        (
            b'Environment="JMX_PASSWORD=hunter2hunter2" "HEAP=4G"',
            b'Environment="JMX_PASSWORD=REDACTED" "HEAP=4G"',
        ),
        (
            b"ExecStart=/usr/bin/x --db-password=hunter2 --token hunter3 -v",
            b"ExecStart=/usr/bin/x --db-password=REDACTED --token REDACTED -v",
        ),
        (b"LimitNOFILE=100000", b"LimitNOFILE=100000"),
        (b"ExecStart=/usr/bin/x --token-file /etc/t", b"ExecStart=/usr/bin/x --token-file /etc/t"),
        (b"# a password is needed here", b"# a password is needed here"),
    ],
)
def test_secret_lines_keep_their_key(line, kept):
    from wire_preflight.bundle.secrets import Screen

    assert Screen().screen("/etc/x.conf", line + b"\n").data == kept + b"\n"


# -- older and hostile bundles -----------------------------------------------------------


def test_a_format_1_bundle_missing_its_optional_parts_still_reads(cli, tmp_path):
    """An older agent's bundle: a manifest with format and version only, no report, no state,
    and facts without the areas it did not collect yet (here: listeners and assets)."""
    bundle = tmp_path / "new.tar.gz"
    cli("bundle", *ROLES, "--out", bundle, "--state-dir", tmp_path / "s")
    old = tmp_path / "old.tar.gz"
    with tarfile.open(str(bundle)) as tar, tarfile.open(str(old), "w:gz") as out:
        for member in tar.getmembers():
            name = member.name.split("/", 1)[-1]
            data = tar.extractfile(member).read() if member.isfile() else None
            if name in ("report.json", "state.json"):
                continue
            if name == "manifest.json":
                data = json.dumps({"format": "wire-preflight/bundle/1", "agent_version": "0.0.9"})
            if name == "facts.json":
                facts = json.loads(data)
                del facts["listeners"], facts["assets"]
                data = json.dumps(facts)
            if data is not None:
                data = data.encode() if isinstance(data, str) else data
                member.size = len(data)
                out.addfile(member, io.BytesIO(data))
            else:
                out.addfile(member)
    code, out, err = cli("check", "--bundle", old, *ROLES, "--json")
    assert err == "" and code in (0, 3, 4)
    checks = json.loads(out)["checks"]
    ports = [c for c in checks if c["id"] == "ports"]
    assert ports and all(c["status"] == "error" for c in ports)
    assert "not in this bundle (made by wire-preflight 0.0.9)" in json.dumps(ports)
    _code, new_out, _ = cli("check", "--bundle", bundle, *ROLES, "--json")
    others = [v for v in verdicts(json.loads(out)) if v[0] not in ("ports", "ip-drift")]
    assert others == [v for v in verdicts(json.loads(new_out)) if v[0] not in ("ports", "ip-drift")]


def _hostile(tmp_path, members, top="b"):
    """A tar.gz of (name, kind, data or link target) members under their own names."""
    path = tmp_path / "hostile.tar.gz"
    with tarfile.open(str(path), "w:gz") as tar:
        for name, kind, payload in members:
            info = tarfile.TarInfo(name)
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif kind in ("sym", "hard"):
                info.type = tarfile.SYMTYPE if kind == "sym" else tarfile.LNKTYPE
                info.linkname = payload
                tar.addfile(info)
            elif kind in ("chr", "fifo"):
                info.type = tarfile.CHRTYPE if kind == "chr" else tarfile.FIFOTYPE
                info.devmajor, info.devminor = 1, 3
                tar.addfile(info)
            else:
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
    return path


MANIFEST = ("b/manifest.json", "file", b'{"format": "wire-preflight/bundle/1"}')


@pytest.mark.parametrize(
    ("members", "words"),
    [
        ([MANIFEST, ("/etc/passwd", "file", b"x")], "an absolute name"),
        ([MANIFEST, ("b/root/../../escaped", "file", b"x")], "'..'"),
        ([MANIFEST, ("other/x", "file", b"x")], "outside b/"),
        ([MANIFEST, ("b/root/etc", "sym", "../../../../tmp")], "a link out of the tree"),
        (
            [MANIFEST, ("b/root/etc", "sym", "/"), ("b/root/etc/passwd", "file", b"x")],
            "through a symbolic link",
        ),
        ([MANIFEST, ("b/escape", "sym", "/etc")], "a link outside the host's tree"),
        ([MANIFEST, ("b/root", "sym", "/")], "a link outside the host's tree"),
        ([MANIFEST, ("b/root/a/b", "sym", "../../../x")], "a link out of the tree"),
        ([MANIFEST, ("b/root/shadow", "hard", "/etc/shadow")], "hard link"),
        ([MANIFEST, ("b/root/dev/null", "chr", None)], "a device"),
        ([MANIFEST, ("b/root/fifo", "fifo", None)], "FIFO"),
        ([MANIFEST, MANIFEST], "given twice"),
        ([MANIFEST, ("b/root/big", "file", b"\0" * (9 * 1024 * 1024))], "bound"),
    ],
)
def test_hostile_bundles_are_one_line_and_exit_2(cli, tmp_path, members, words):
    bundle = _hostile(tmp_path, members)
    code, out, err = cli("check", "--bundle", bundle, "--role", "cassandra")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert words in err and str(bundle) in err
    assert not (tmp_path.parent / "escaped").exists()


def test_an_archive_repacked_by_hand_still_reads(cli, tmp_path):
    """`tar czf x.tar.gz -C DIR .` names members ./TOP/...: the same bundle."""
    bundle = tmp_path / "b.tar.gz"
    cli("bundle", "--role", "cassandra", "--out", bundle, "--state-dir", tmp_path / "s")
    where = tmp_path / "u"
    unpacked(str(bundle), where)
    again = tmp_path / "again.tar.gz"
    with tarfile.open(str(again), "w:gz") as tar:
        tar.add(str(where), arcname=".")
    code, out, err = cli("check", "--bundle", again, "--json")
    assert err == "" and code in (0, 3, 4)
    assert json.loads(out)["checks"] == member_json(str(bundle), "report.json")["checks"]


def test_a_compression_bomb_stops_at_the_bound(cli, tmp_path):
    members = [MANIFEST] + [(f"b/root/z{i}", "file", b"\0" * (1024 * 1024)) for i in range(40)]
    bundle = _hostile(tmp_path, members)
    assert bundle.stat().st_size < 200 * 1024
    code, _out, err = cli("check", "--bundle", bundle, "--role", "cassandra")
    assert code == 2 and "compression bomb" in err


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"not a gzip file at all", "not a readable tar.gz"),
        (gzip.compress(b"not a tar"), "not a readable tar.gz"),
        (b"", "not a readable tar.gz"),
    ],
)
def test_a_broken_file_is_one_line(cli, tmp_path, content, words):
    bundle = tmp_path / "broken.tar.gz"
    bundle.write_bytes(content)
    code, _out, err = cli("check", "--bundle", bundle, "--role", "cassandra")
    assert code == 2 and words in err and len(err.strip().splitlines()) == 1


def test_a_truncated_bundle_is_one_line(cli, tmp_path):
    bundle = tmp_path / "b.tar.gz"
    cli("bundle", "--role", "cassandra", "--out", bundle, "--state-dir", tmp_path / "s")
    data = bundle.read_bytes()
    bundle.write_bytes(data[: len(data) // 2])
    code, _out, err = cli("check", "--bundle", bundle, "--role", "cassandra")
    assert code == 2 and "not a readable tar.gz" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("manifest", "facts", "words"),
    [
        (b'{"format": "wire-preflight/bundle/7", "agent_version": "9.0"}', None, "newer"),
        (b'{"format": "something-else/1"}', None, "field 'format'"),
        (b"[1, 2", None, "manifest.json is not valid JSON"),
        (b'{"format": "wire-preflight/bundle/1", "roles": "cassandra"}', None, "'roles'"),
        (b'{"format": "wire-preflight/bundle/1"}', b'{"schema": "x"}', "field 'schema'"),
        (b'{"format": "wire-preflight/bundle/1"}', b"", "no facts.json"),
    ],
)
def test_bad_documents_are_one_line(cli, tmp_path, manifest, facts, words):
    members = [("b/manifest.json", "file", manifest), ("b/root", "dir", None)]
    if facts:
        members.append(("b/facts.json", "file", facts))
    bundle = _hostile(tmp_path, members)
    code, _out, err = cli("check", "--bundle", bundle, "--role", "cassandra")
    assert code == 2 and words in err and len(err.strip().splitlines()) == 1, err


def test_a_fifo_given_as_the_bundle_is_refused(cli, tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(str(fifo))
    code, _out, err = cli("check", "--bundle", fifo, "--role", "cassandra")
    assert code == 2 and "FIFO" in err


@pytest.mark.parametrize(
    "args",
    [
        ["check", "--bundle", "B", "--root", "/tmp", "--role", "cassandra"],
        ["check", "--bundle", "B", "--facts", "F", "--role", "cassandra"],
        ["bundle", "--facts", "F"],
        ["bundle", "--textfile", "T"],
    ],
)
def test_conflicting_options_exit_2(cli, tmp_path, args):
    bundle = tmp_path / "b.tar.gz"
    if args[0] == "check":
        cli("bundle", "--role", "cassandra", "--out", bundle, "--state-dir", tmp_path / "s")
    code, _out, err = cli(*[str(bundle) if a == "B" else a for a in args])
    assert code == 2 and len(err.strip().splitlines()) == 1


# -- helpers -----------------------------------------------------------------------------


def _write(root, path, text):
    full = os.path.join(str(root), path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w") as handle:
        handle.write(text)


def _tree(tmp_path):
    """A captured Ubuntu 18.04 VM: its release, CPUs, memory, kernel values, network
    configuration (the DHCP fixture's) and an interface in /sys."""
    tree = tmp_path / "tree"
    shutil.copytree(os.path.join(FIXTURES, "netconfig-dhcp"), str(tree))
    shutil.copy(os.path.join(FIXTURES, "ubuntu-18.04", "etc", "os-release"), str(tree / "etc"))
    _write(tree, "etc/hostname", "db1\n")
    _write(tree, "etc/machine-id", "0f1e2d3c4b5a69788796a5b4c3d2e1f0\n")
    shutil.copy(os.path.join(FIXTURES, "meminfo-4g.txt"), str(tree / "proc-meminfo"))
    os.makedirs(str(tree / "proc/sys/vm"))
    os.replace(str(tree / "proc-meminfo"), str(tree / "proc/meminfo"))
    shutil.copy(
        os.path.join(FIXTURES, "cpu", "cpuinfo-epyc-kvm-guest.txt"), str(tree / "proc/cpuinfo")
    )
    _write(tree, "proc/swaps", "Filename\tType\tSize\tUsed\tPriority\n")
    _write(tree, "proc/sys/vm/max_map_count", "1048575\n")
    _write(tree, "proc/sys/kernel/osrelease", "4.15.0-213-generic\n")
    base = tree / "sys/class/net/ens3"
    for leaf, value in (("address", "52:54:00:12:34:56"), ("ifindex", "2"), ("type", "1")):
        _write(base, leaf, value + "\n")
    _write(base, "uevent", "INTERFACE=ens3\nIFINDEX=2\n")
    os.makedirs(str(tree / "sys/bus/virtio/drivers/virtio_net"))
    os.makedirs(str(base / "device"))
    os.symlink("../../../bus/virtio/drivers/virtio_net", str(base / "device" / "driver"))
    return str(tree)


def _make(tree, bundle):
    from wire_preflight import pipeline
    from wire_preflight.bundle import make

    make.make(pipeline.Options(roles=("cassandra",), root=tree), bundle, {}, None)


def _content(bundle, host_path):
    with tarfile.open(bundle) as tar:
        return tar.extractfile(f"{top_of(bundle)}/root{host_path}").read()
