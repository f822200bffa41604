# The start of wire-preflight.pyz (build-pyz writes it into the zip as __main__.py, with BUILD
# filled in). psutil's compiled module cannot be imported from inside a zip, so the libraries
# are unpacked once per build into a cache directory and imported from there. Runs on every
# python3 from 3.6 on, as cheaply as an installed agent: on the usual run it only looks for
# that directory (no zipfile, no hashing), so it imports nothing beyond os and sys itself.
import os
import sys

BUILD = "@BUILD@"  # "<version>-<hash of the bundle>": a new build never reuses an old directory
ENV_ROOT = "WIRE_PREFLIGHT_PYZ_ROOT"


def candidates():
    """(root, must be checked) in order of preference: the first that has or takes the unpacked
    libraries is used. A root named in the environment is the operator's choice; the others
    are checked, since the code unpacked there is imported (trusted() says by what rule).
    SHIV_ROOT is the variable's name before the pyz had its own start."""
    env = os.environ
    for name in (ENV_ROOT, "SHIV_ROOT"):
        if env.get(name):
            yield env[name], False
    home = os.path.expanduser("~")
    if env.get("XDG_CACHE_HOME"):
        yield os.path.join(env["XDG_CACHE_HOME"], "wire-preflight"), True
    elif home != "~" and os.path.isdir(home):  # never create a missing home (HOME=/nonexistent)
        yield os.path.join(home, ".cache", "wire-preflight"), True
    if os.geteuid() == 0:
        yield "/var/cache/wire-preflight", True
    yield os.path.join(env.get("TMPDIR") or "/tmp", f"wire-preflight-{os.geteuid()}"), True


def trusted(root):
    """Refuse a root that another user could put code into, or swap for a directory of theirs:
    the root (a resolved path) and every directory above it must belong to this user or to
    root, the root writable by its owner alone, the directories above by their owner alone or
    sticky (/tmp); a symlink that appeared since is refused. The cases: a directory another
    user made in a shared /tmp, and root run by sudo keeping the caller's HOME (Ubuntu 18.04's
    sudo does) finding there what the caller unpacked."""
    uid = os.geteuid()
    path, leaf = root, True
    while True:
        info = os.lstat(path)
        writable_by_others = info.st_mode & 0o022 and (leaf or not info.st_mode & 0o1000)
        if info.st_uid not in (uid, 0) or writable_by_others or (leaf and not os.path.isdir(path)):
            raise OSError(f"{path} can be changed by users other than {uid} and root")
        parent = os.path.dirname(path)
        if parent == path:
            return
        path, leaf = parent, False


def unpack(archive, root, checked):
    """Unpack the bundle's lib/ under root/BUILD, atomically: a run that is interrupted, or races
    another, never leaves a half-filled directory where the next run would look."""
    import shutil
    import zipfile

    os.makedirs(root, mode=0o700, exist_ok=True)
    if checked:  # after makedirs: the directory made, or found, is the one judged
        trusted(root)
    target = os.path.join(root, BUILD)
    scratch = f"{target}.tmp-{os.getpid()}"
    try:
        with zipfile.ZipFile(archive) as bundle:
            bundle.extractall(scratch, [n for n in bundle.namelist() if n.startswith("lib/")])
        os.rename(scratch, target)
    except OSError:
        shutil.rmtree(scratch, ignore_errors=True)
        if not os.path.isdir(os.path.join(target, "lib")):  # else another run got there first
            raise
    return os.path.join(target, "lib")


def compile_once(lib):
    """Bytecode for this interpreter, written once into the cache (3.6-3.12 each have their own
    __pycache__ names), even where PYTHONDONTWRITEBYTECODE is set; skipped where read-only."""
    marker = os.path.join(lib, ".compiled-" + sys.implementation.cache_tag)
    if os.path.exists(marker) or not os.access(lib, os.W_OK):
        return
    import py_compile

    for folder, _, names in os.walk(lib):
        for name in names:
            if name.endswith(".py"):
                try:  # noqa: SIM105 (contextlib would be one more import on every run)
                    py_compile.compile(os.path.join(folder, name), doraise=True)
                except (py_compile.PyCompileError, OSError):
                    pass  # Python compiles it in memory when it is imported
    open(marker, "w").close()


def find_lib(archive):
    tried = []
    for root, checked in candidates():
        if checked:  # imported from the very path judged, not through a link that can move
            root = os.path.realpath(root)
        lib = os.path.join(root, BUILD, "lib")
        try:
            if checked and os.path.isdir(root):
                trusted(root)
            if os.path.isdir(lib):
                return lib
            return unpack(archive, root, checked)
        except OSError as err:
            tried.append("{} ({})".format(root, getattr(err, "strerror", None) or err))
    sys.stderr.write(
        "wire-preflight: error: no writable directory to unpack the single-file agent into;"
        " tried {}; set {} to one\n".format(", ".join(tried), ENV_ROOT)
    )
    sys.exit(2)


def main():
    lib = find_lib(os.path.dirname(os.path.abspath(__file__)))
    try:  # noqa: SIM105 (contextlib would be one more import on every run)
        compile_once(lib)
    except OSError:
        pass  # only slower: Python compiles each module in memory
    sys.path[0] = lib  # the zip itself holds nothing importable
    from wire_preflight.cli.main import main as agent

    sys.exit(agent())


main()
