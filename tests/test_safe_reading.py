"""The one way the agent reads a file it does not control (safefile, files.read_text), the
bounded YAML loader, the os-release parser and the spool's reading of its entries, on real
FIFOs, devices, links and /proc files, in this process (on every interpreter the agent
supports; test_hostile_trees runs the whole agent against such trees as nobody)."""

import json
import os
import shutil
import subprocess
import threading

import pytest
import yaml
from helpers import fixture_path
from wire_preflight import boundedyaml, safefile
from wire_preflight.delivery import spool
from wire_preflight.facts import files, netplan, system

# --- safefile --------------------------------------------------------------------------------


def test_a_regular_file_is_read_whole(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"x" * 1000)
    assert safefile.read_bytes(str(path), 1000) == b"x" * 1000


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    path = str(tmp_path / "fifo")
    os.mkfifo(path)
    outcome = []

    def read() -> None:
        try:
            safefile.read_bytes(path, 100)
        except safefile.Refused as exc:
            outcome.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(30)  # a hang guard, not a timing
    if reader.is_alive():
        with open(path, "w"):  # a writer lets the blocked open go, so the test can end
            pass
        pytest.fail("a FIFO blocked the reader")
    assert "a FIFO" in outcome[0].strerror and outcome[0].filename == path


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null", "/dev/urandom"])
def test_a_device_is_refused(device):
    with pytest.raises(safefile.Refused, match="a character device"):
        safefile.read_bytes(device, 100)


def test_a_larger_file_is_refused_by_its_size_without_reading_it(tmp_path):
    path = tmp_path / "sparse"
    with open(str(path), "wb") as handle:
        handle.truncate(1 << 40)  # a terabyte, sparse: reading it would never end
    with pytest.raises(safefile.Refused, match="1099511627776 bytes, more than the 256 KiB"):
        safefile.read_bytes(str(path), safefile.CONFIG)


def test_a_proc_file_that_says_size_zero_is_held_to_the_bound():
    # /proc files stat as empty whatever they hold: the bound holds on what is read.
    assert os.stat("/proc/self/maps").st_size == 0
    assert b"[stack]" in safefile.read_bytes("/proc/self/maps", safefile.LARGE)
    with pytest.raises(safefile.Refused, match="more than the 64 bytes"):
        safefile.read_bytes("/proc/self/maps", 64)


def test_a_file_growing_past_the_bound_while_read_is_refused(tmp_path):
    # A file that grows between stat and read (a log being written): the bound is on bytes read.
    path = str(tmp_path / "grows")
    with open(path, "wb") as handle:
        handle.write(b"x" * 10)
    original = os.open

    def open_then_grow(name, flags, *args):
        fd = original(name, flags, *args)
        if name == path:
            with open(path, "ab") as handle:
                handle.write(b"y" * 5000)
        return fd

    os.open = open_then_grow
    try:
        with pytest.raises(safefile.Refused, match="more than"):
            safefile.read_bytes(path, 1000)
    finally:
        os.open = original


def test_a_file_swapped_between_stat_and_open_is_refused(tmp_path):
    path = str(tmp_path / "file")
    with open(path, "w") as handle:
        handle.write("one\n")
    original = os.open

    def swap_then_open(name, flags, *args):
        if name == path:
            os.unlink(path)
            os.mkfifo(path)
        return original(name, flags, *args)

    os.open = swap_then_open
    try:
        with pytest.raises(safefile.Refused):
            safefile.read_bytes(path, 1000)
    finally:
        os.open = original


# --- files under a root ----------------------------------------------------------------------


def tree_with(tmp_path, name, target):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    os.symlink(target, str(root / "etc" / name))
    return str(root)


def test_an_absolute_link_is_taken_from_the_root(tmp_path):
    root = tree_with(tmp_path, "os-release", "/usr/lib/os-release")
    with pytest.raises(FileNotFoundError) as raised:
        files.read_text(root, "/etc/os-release")
    assert raised.value.filename == "/etc/os-release"  # the host path, not this machine's


def test_a_relative_link_never_climbs_out_of_the_root(tmp_path):
    (tmp_path / "secret").write_text("outside\n")
    root = tree_with(tmp_path, "hostname", "../../../../../../secret")
    with pytest.raises(FileNotFoundError):
        files.read_text(root, "/etc/hostname")


def test_a_link_loop_is_refused(tmp_path):
    root = tree_with(tmp_path, "a", "b")
    os.symlink("a", os.path.join(root, "etc", "b"))
    with pytest.raises(safefile.Refused, match="loop"):
        files.read_text(root, "/etc/a")


def test_a_link_put_in_after_resolving_is_not_followed(tmp_path):
    # The tree changes between resolving and opening (a race): O_NOFOLLOW and the kernel's
    # view of the opened file keep the read inside the tree.
    (tmp_path / "secret").write_text("outside\n")
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "hostname").write_text("inside\n")
    original = files.under

    def swapped(root_dir, path):
        real = original(root_dir, path)
        if real.endswith("/hostname"):
            os.unlink(real)
            os.symlink(str(tmp_path / "secret"), real)
        return real

    files.under = swapped
    try:
        with pytest.raises(safefile.Refused):
            files.read_text(str(root), "/etc/hostname")
    finally:
        files.under = original


def test_matching_lists_directories_inside_the_root_only(tmp_path):
    # A glob through a directory link of the tree: the standard glob would list this
    # machine's /etc; here the link is resolved in the tree, where it leads nowhere.
    root = tmp_path / "root"
    (root / "etc" / "network").mkdir(parents=True)
    os.symlink("/etc", str(root / "etc" / "network" / "evil"))
    (root / "etc" / "network" / "good").mkdir()
    (root / "etc" / "network" / "good" / "a.cfg").write_text("")
    (root / "etc" / "network" / "good" / ".hidden.cfg").write_text("")
    found = files.matching(str(root), "/etc/network/*/*.cfg")
    assert found == ["/etc/network/good/a.cfg"]
    assert files.matching(str(root), "/etc/network/evil/passwd") == []


def test_a_directory_of_too_many_entries_is_refused(tmp_path):
    root = tmp_path / "root"
    (root / "d").mkdir(parents=True)
    for index in range(11):
        (root / "d" / str(index)).write_text("")
    assert len(files.entries(str(root), "/d", 11)) == 11
    with pytest.raises(safefile.Refused, match="more than 10 entries"):
        files.entries(str(root), "/d", 10)


def test_a_run_stops_reading_when_its_budget_is_spent(tmp_path):
    # Countless files each within its bound: what one collection reads is bounded too.
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    for name in ("a", "b", "c"):
        (root / "etc" / name).write_text("x" * 100)
    with files.budget(total=150):
        assert files.read_text(str(root), "/etc/a") == "x" * 100
        assert files.read_text(str(root), "/etc/b") == "x" * 100  # the one that passes it
        with pytest.raises(safefile.Refused, match="the run read its 150 bytes of files"):
            files.read_text(str(root), "/etc/c")
    spent = pytest.raises(safefile.Refused, match="the run spent its -1 s of CPU reading files")
    with files.budget(seconds=-1), spent:
        files.read_text(str(root), "/etc/a")
    assert files.read_text(str(root), "/etc/a") == "x" * 100  # no budget outside one


def test_a_file_is_read_once_in_a_run_however_many_readers_look_at_it(tmp_path):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/a").write_text("first")
    with files.budget(total=8):
        assert files.read_text(str(root), "/etc/a") == "first"
        (root / "etc/a").write_text("second")
        # The same text, not read again (nor counted again: the 8 bytes would be spent).
        assert files.read_text(str(root), "/etc/a") == "first"
        assert files.read_text(str(root), "/etc/a") == "first"
    assert files.read_text(str(root), "/etc/a") == "second"  # the next run reads it anew


def test_a_collection_opens_each_file_once(tmp_path, monkeypatch):
    """/proc/cpuinfo feeds the CPU count, its clock and three virtualisation flags: one read."""
    from wire_preflight import facts

    opened = []
    real = safefile.read_bytes

    def counting(path, *args, **kwargs):
        opened.append(kwargs.get("shown") or path)
        return real(path, *args, **kwargs)

    root = tmp_path / "root"
    shutil.copytree(fixture_path("ubuntu-18.04"), str(root))
    (root / "proc").mkdir()
    shutil.copy(fixture_path("cpu", "cpuinfo-epyc-kvm-guest.txt"), str(root / "proc/cpuinfo"))
    monkeypatch.setattr(safefile, "read_bytes", counting)
    collected = facts.collect([], root=str(root))
    assert collected["cpu"]["logical_count"] and "/proc/cpuinfo" in opened
    assert sorted(p for p in set(opened) if opened.count(p) > 1) == []


def test_ifupdown_sourcing_itself_through_links_ends(tmp_path):
    # `source x/*` where x links to its own directory: each file names the next deeper path,
    # all of them this one file.
    from wire_preflight.facts import ifupdown

    root = tmp_path / "root"
    (root / "etc/network").mkdir(parents=True)
    os.symlink(".", str(root / "etc/network/x"))
    (root / "etc/network/interfaces").write_text("source x/*\niface ens3 inet dhcp\n")
    errors = []
    stanzas = ifupdown.collect(str(root), errors)
    assert stanzas["ens3"]["method"] == "dhcp"


def test_a_glob_that_multiplies_through_links_is_refused(tmp_path):
    root = tmp_path / "root"
    (root / "d").mkdir(parents=True)
    for index in range(20):
        os.symlink(".", str(root / "d" / f"l{index}"))
    with pytest.raises(safefile.Refused, match="more than 4096 paths match"):
        files.matching(str(root), "/d/*/*/*/*")


# --- bounded YAML ----------------------------------------------------------------------------


def laughs(levels: int) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_is_refused_and_a_few_aliases_are_fine():
    with pytest.raises(boundedyaml.Refused, match="more than 200000 nodes"):
        boundedyaml.load(laughs(9))
    small = boundedyaml.load(laughs(3))
    assert len(small["a2"]) == 10 and small["a2"][0][0] == ["x"] * 10


def test_deep_nesting_is_refused_before_the_stack_runs_out():
    with pytest.raises(boundedyaml.Refused, match="nested deeper than 64"):
        boundedyaml.load("[" * 5000 + "]" * 5000)
    with pytest.raises(boundedyaml.Refused, match="nested deeper than 64"):
        boundedyaml.load("".join("  " * i + "k:\n" for i in range(200)))
    assert boundedyaml.load("[" * 60 + "]" * 60) is not None


def test_an_alias_inside_its_own_node_is_refused():
    with pytest.raises(boundedyaml.Refused, match="alias inside the node"):
        boundedyaml.load("a: &a\n  b: *a\n")
    with pytest.raises(boundedyaml.Refused, match="alias inside the node"):
        boundedyaml.load("&a [*a]")


def test_yaml_past_its_size_bound_is_refused_before_parsing():
    with pytest.raises(boundedyaml.Refused, match="more than 64 KiB"):
        boundedyaml.load("a: b\n" * 20000)


def test_the_bounded_loader_is_still_a_safe_loader():
    with pytest.raises(yaml.YAMLError):
        boundedyaml.load("!!python/object/apply:os.system ['true']")


def test_netplan_reports_a_refused_file_and_reads_the_others(tmp_path):
    root = tmp_path / "root"
    (root / "etc/netplan").mkdir(parents=True)
    (root / "etc/netplan/10-bomb.yaml").write_text("network:\n  x: " + "[" * 5000 + "\n")
    (root / "etc/netplan/20-ok.yaml").write_text("network:\n  ethernets:\n    ens3: {}\n")
    os.mkfifo(str(root / "etc/netplan/30-fifo.yaml"))
    errors = []
    found = netplan.collect(str(root), errors)
    assert [e["file"] for e in errors] == ["/etc/netplan/10-bomb.yaml", "/etc/netplan/30-fifo.yaml"]
    assert "nested deeper" in errors[0]["error"] and "FIFO" in errors[1]["error"]
    assert [e["id"] for e in found["entries"]] == ["ens3"]


# --- os-release ------------------------------------------------------------------------------

OS_RELEASES = {
    "ubuntu-18.04": 'NAME="Ubuntu"\nVERSION="18.04.6 LTS (Bionic Beaver)"\nID=ubuntu\n'
    'ID_LIKE=debian\nPRETTY_NAME="Ubuntu 18.04.6 LTS"\nVERSION_ID="18.04"\n'
    "VERSION_CODENAME=bionic\nUBUNTU_CODENAME=bionic\n",
    "ubuntu-14.04": 'NAME="Ubuntu"\nVERSION="14.04.6 LTS, Trusty Tahr"\nID=ubuntu\n'
    'PRETTY_NAME="Ubuntu 14.04.6 LTS"\nVERSION_ID="14.04"\n',
    "debian-12": 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\n'
    'VERSION_ID="12"\nVERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\n',
    "quoted": "# a comment\nID='ubuntu'\nVERSION_ID=\"24.04\"\n"
    'PRETTY_NAME="Ubuntu \\"Noble\\" \\\\ 24.04"\nVERSION_CODENAME=noble\n\n',
}


@pytest.mark.parametrize("name", sorted(OS_RELEASES))
def test_os_release_reads_as_distro_reads_it(tmp_path, name):
    """distro, the library that used to read it, is the oracle for the same file."""
    import distro

    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/os-release").write_text(OS_RELEASES[name])
    info = distro.LinuxDistribution(include_lsb=False, include_uname=False, root_dir=str(tmp_path))
    assert system.os_release(str(tmp_path)) == {
        "id": info.id(),
        "version_id": info.version(),
        "codename": info.codename(),
        "pretty_name": info.name(pretty=True),
    }


def test_os_release_falls_back_to_usr_lib(tmp_path):
    (tmp_path / "usr/lib").mkdir(parents=True)
    (tmp_path / "usr/lib/os-release").write_text(OS_RELEASES["ubuntu-18.04"])
    assert system.os_release(str(tmp_path))["version_id"] == "18.04"


# os-release(5) values as a shell script would write them: every quoting and escape the format
# allows ("shell-compatible ... $, quotes, backslash, backtick escaped with backslashes").
SHELL_VALUES = [
    "ubuntu",
    '"Ubuntu 24.04 LTS"',
    "'Ubuntu 24.04 LTS'",
    '"costs \\$5, \\`uname\\`, a \\"quote\\" and a \\\\ backslash"',
    '"a \\n and \\t stay as written"',
    "'single \\$ \\\\ keep their backslashes'",
    'unquoted\\ escapes\\$\\"',
    "\"joined\"'quoted'parts",
    "ubu#ntu",
    "ubuntu # a comment after the value",
    "'#' # the comment, not the quoted hash",
    "#not-a-comment",
    "",
    '""',
    '"Ubuntu ünïcödé 🐧"',
    "'  spaces kept inside quotes  '  ",
]


@pytest.mark.parametrize("value", SHELL_VALUES)
def test_os_release_values_read_as_the_shell_reads_them(tmp_path, value):
    """The format is shell-compatible on purpose: /bin/sh sourcing the file is the oracle."""
    path = tmp_path / "os-release"
    path.write_text("X=" + value + "\n", encoding="utf-8")
    shell = subprocess.run(
        ["sh", "-c", '. "$1" && printf %s "$X"', "sh", str(path)],
        stdout=subprocess.PIPE,
        check=True,
    )
    assert system.parse_os_release(path.read_text(encoding="utf-8")) == {
        "X": shell.stdout.decode("utf-8")
    }


def test_os_release_lines_that_are_not_assignments_are_skipped():
    # Names the shell would not assign (a digit first, not ASCII, a space, a dash), a line with
    # no "=", a comment, an unclosed quote: each skipped, the lines around them still read.
    text = (
        "1X=y\n\u00c4D=x\nA B=x\n-X=1\nNOT A LINE\n# ID=debian\n"
        "  ID=ubuntu\nVERSION='unclosed\nNAME=Ubuntu\r\n"
    )
    assert system.parse_os_release(text) == {"ID": "ubuntu", "NAME": "Ubuntu"}


def test_os_release_of_odd_lines_keeps_what_it_can():
    fields = system.parse_os_release('ID=ubuntu\nVERSION_ID="18.04\n=x\nNOT A LINE\n1X=y\n')
    assert fields == {"ID": "ubuntu"}


# --- the spool -------------------------------------------------------------------------------


def test_a_fifo_or_a_giant_in_the_spool_is_set_aside_with_its_reason(tmp_path):
    directory = str(tmp_path / "spool")
    os.makedirs(directory)
    os.mkfifo(os.path.join(directory, "00000000000000000001-a.json"))
    with open(os.path.join(directory, "00000000000000000002-b.json"), "wb") as handle:
        handle.truncate(1 << 30)
    with open(os.path.join(directory, "00000000000000000003-c.json"), "w") as handle:
        json.dump({"report_id": "c"}, handle)
    sent = []
    delivered, messages = spool.flush(directory, sent.append)
    assert delivered == 1 and sent == [{"report_id": "c"}]
    assert "FIFO" in messages[0] and "set aside" in messages[0]
    assert "more than the 8 MiB" in messages[1]
    rejected = os.path.join(directory, "rejected")
    with open(os.path.join(rejected, "00000000000000000001-a.json.reason")) as handle:
        assert "FIFO" in handle.read()
