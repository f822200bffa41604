"""Every read the agent makes goes through safefile (facts.files for a captured tree): this
walks the agent's source and fails on any other way of opening, listing or parsing a file.

What it can prove: no call in the agent's code opens a file for reading (open, os.open,
pathlib's read_*), lists a directory (os.listdir, os.scandir, glob, os.walk), or hands a path
or handle to a parser (json.load, yaml.load, tomllib.load, configparser's read*, distro,
platform.freedesktop_os_release) outside the places named below, each with the reason it
may. What it cannot: a library that opens files on its own inside a call that takes no path
(psutil reads the live /proc; it is never called for a captured tree, see facts._collect_tree).
"""

import ast
import os

import wire_preflight

AGENT = os.path.dirname(wire_preflight.__file__)

# (file, function, call) -> why it may read without safefile
ALLOWED = {
    ("safefile.py", "read_bytes", "os.open"): "the safe reader itself",
    ("facts/files.py", "entries", "os.scandir"): "the bounded listing inside a root",
    ("install.py", "_render", "open"): "the agent's own installed unit files",
    ("install.py", "install", "open"): "the agent's own installed agent.conf template",
    ("boundedyaml.py", "load", "yaml.load"): "parses text a caller read with safefile",
    ("profiles/__init__.py", "builtin_names", "os.listdir"): "the package's own profiles",
    ("profiles/__init__.py", "os_alternatives", "open"): "the package's own profiles",
    ("profiles/parsed.py", "build", "os.listdir"): "the package's own profiles, when their "
    "parsed copy is written (parsed.write)",
    ("delivery/spool.py", "_entries", "os.listdir"): "the spool directory (0700) the agent made; "
    "each entry is then read with safefile",
    ("fleet/load.py", "from_directory", "os.walk"): "--from DIR of saved reports; os.walk "
    "follows no link, and each file is read with safefile",
    ("facts/apt.py", "lock_holder", "os.open"): "a live lock file opened O_NONBLOCK to ask "
    "fcntl(F_GETLK) who holds it; fstat must say a regular file, nothing is read",
    ("facts/assets.py", "usage", "os.scandir"): "sizes by lstat under /opt/assets, never "
    "opening a file or following a link, at most 200,000 entries",
    ("facts/disks.py", "backing_disks", "os.listdir"): "the live /sys/block slaves/ "
    "directories (block_device is never run on a captured tree)",
    ("delivery/hostkey.py", "load", "open"): "the host key in the agent's own 0700 state directory",
}

_LISTING = {"os.listdir", "os.scandir", "os.walk", "glob.glob", "glob.iglob"}
_PARSERS = {"json.load", "yaml.load", "yaml.safe_load", "yaml.full_load", "_toml.load"}
_OPENERS = {"os.open", "io.open", "codecs.open", "os.fdopen"}


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return _name(node.value) + "." + node.attr
    return "?"


def _writes(call: ast.Call) -> bool:
    """open(path, "w"/"a"/"x"...) or os.open(..., O_WRONLY ...): a write, not a read."""
    mode = call.args[1] if len(call.args) > 1 else None
    for keyword in call.keywords:
        if keyword.arg in ("mode", "flags"):
            mode = keyword.value
    # ast.Str on Python 3.6 and 3.7, ast.Constant after
    text = mode.s if type(mode).__name__ == "Str" else getattr(mode, "value", None)
    if isinstance(text, str):
        return any(ch in text for ch in "wax")
    return mode is not None and "O_WRONLY" in ast.dump(mode)


def _is_read(call: ast.Call) -> bool:
    name = _name(call.func)
    leaf = name.rsplit(".", 1)[-1]
    if name == "open" or name in _OPENERS:
        return not _writes(call)
    if name in _LISTING or name in _PARSERS:
        return True
    if leaf in ("read_text", "read_bytes"):  # pathlib's; the agent's own readers are safe
        return "." in name and not name.startswith(("safefile.", "files."))
    if leaf in ("read", "read_file") and "parser" in name.lower():
        return True  # configparser opening a path or reading a handle
    return name.startswith("distro.") or leaf == "freedesktop_os_release"


def reads_in(path: str):
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), path)
    found = []

    def visit(node: ast.AST, function: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = function
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                inner = child.name
            if isinstance(child, ast.Call) and _is_read(child):
                found.append((inner, _name(child.func), child.lineno))
            visit(child, inner)

    visit(tree, "<module>")
    return found


def all_reads():
    out = []
    for folder, _dirs, names in os.walk(AGENT):
        for name in sorted(names):
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                relative = os.path.relpath(path, AGENT)
                out.extend((relative, *read) for read in reads_in(path))
    return out


def test_every_read_goes_through_the_safe_reader():
    unexpected = [
        f"{file}:{line} {function}() calls {call}"
        for file, function, call, line in all_reads()
        if (file, function, call) not in ALLOWED
    ]
    assert not unexpected, "reads that bypass safefile:\n" + "\n".join(unexpected)


def test_the_walk_sees_the_reads_it_must_refuse(tmp_path):
    """The walker itself: it finds each way of reading, and passes writes."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import os, json, glob, yaml, distro, platform\n"
        "def f(p, parser, handle):\n"
        "    open(p)\n"
        "    open(p, 'rb')\n"
        "    open(p, mode='r')\n"
        "    os.open(p, os.O_RDONLY)\n"
        "    os.listdir(p)\n"
        "    glob.glob(p)\n"
        "    json.load(handle)\n"
        "    yaml.safe_load(handle)\n"
        "    parser.read_file(handle)\n"
        "    distro.LinuxDistribution(root_dir=p)\n"
        "    platform.freedesktop_os_release()\n"
        "    p.read_text()\n"
        "def g(p):\n"
        "    open(p, 'w')\n"
        "    os.open(p, os.O_WRONLY | os.O_CREAT)\n"
        "    safefile.read_text(p, 10)\n"
        "    files.read_text('/', p)\n"
    )
    found = reads_in(str(sample))
    assert [f for f, _name, _line in found] == ["f"] * 12
    assert all(line <= 14 for _f, _name, line in found)


def test_every_allowed_read_is_still_there():
    """An entry for a read that is gone would let a new one of the same name through."""
    present = {(file, function, call) for file, function, call, _line in all_reads()}
    assert set(ALLOWED) <= present, set(ALLOWED) - present
