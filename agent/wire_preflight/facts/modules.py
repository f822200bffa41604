"""Whether the running kernel has the modules the profile names: loaded, built in, or
available to load.

Where each answer comes from (the order `calicoctl node checksystem` looks in too):
    loaded      /proc/modules (a name there is a module in the kernel now)
    built in    /lib/modules/RELEASE/modules.builtin, and /sys/module/NAME for a name that is
                not in /proc/modules (sysfs shows a built-in module that has a parameter or
                a version there, Documentation/ABI/stable/sysfs-module)
    loadable    listed in /lib/modules/RELEASE/modules.dep with its .ko file present
Each source that cannot be read leaves its reason under `errors`, and the answers it would
have given are None (not known), never False: a check must not call a module missing
because a file could not be read.

Only the names asked for are recorded (a generic Ubuntu kernel ships some 6,000 modules).
"""

import os
import re
from typing import Any, Dict, Iterable, List, Optional

from wire_preflight import safefile
from wire_preflight.facts import files

PROC_MODULES = "/proc/modules"
SYS_MODULE = "/sys/module"
LIB_MODULES = "/lib/modules"
OSRELEASE = "/proc/sys/kernel/osrelease"
# A release names a directory: nothing that could climb out of /lib/modules.
_RELEASE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+~-]*$")
_MODULE_FILE = re.compile(r"\.ko(\.(gz|xz|zst))?$")


def canonical(name: str) -> str:
    """modprobe treats '-' and '_' in a module name alike; /proc/modules writes '_'."""
    return name.replace("-", "_")


def collect(names: Iterable[str], root: str = "/") -> Dict[str, Any]:
    wanted = sorted({canonical(name) for name in names})
    errors = {}  # type: Dict[str, str]
    release = _release(root)
    loaded = _source(errors, "loaded", lambda: parse_proc_modules(_read(root, PROC_MODULES)))
    # A live kernel built without loadable modules (CONFIG_MODULES off) has no /proc/modules:
    # nothing is loaded and nothing can be, every feature is built in or absent. A captured
    # tree without the file says nothing of the kind (the capture may have left /proc out).
    modular = None if loaded is None else True  # type: Optional[bool]
    live = os.path.abspath(root) == "/"
    if loaded is None and live and not os.path.exists(PROC_MODULES) and os.path.isdir("/proc/self"):
        modular, loaded = False, []
        del errors["loaded"]
    base = f"{LIB_MODULES}/{release}" if release else None
    if base is None:
        reason = "the kernel release is not known (no usable {})".format(
            OSRELEASE if root != "/" else "uname"
        )
        errors["builtin"] = errors["loadable"] = reason
        builtin = dep = None  # type: Optional[Dict[str, str]]
    else:
        builtin = _source(
            errors, "builtin", lambda: parse_module_list(_read(root, base + "/modules.builtin"))
        )
        dep = _source(
            errors, "loadable", lambda: parse_modules_dep(_read(root, base + "/modules.dep"))
        )
    if modular is False:
        dep = {}
        errors.pop("loadable", None)
    modules = {}  # type: Dict[str, Dict[str, Any]]
    for name in wanted:
        in_sysfs = os.path.isdir(files.under(root, f"{SYS_MODULE}/{name}"))
        is_loaded = None if loaded is None else name in loaded
        is_builtin = None if builtin is None else name in builtin
        if not is_loaded and in_sysfs and loaded is not None:
            is_builtin = True  # in sysfs but not a loaded module: part of the kernel image
        path = None  # type: Optional[str]
        if dep is not None and name in dep:
            candidate = f"{base}/{dep[name]}"
            path = candidate if os.path.isfile(files.under(root, candidate)) else None
        modules[name] = {
            "loaded": is_loaded,
            "builtin": is_builtin,
            "file": path,
            "loadable": None if dep is None else path is not None,
        }
    return {"release": release, "modular": modular, "modules": modules, "errors": errors}


def _release(root: str) -> Optional[str]:
    if os.path.abspath(root) == "/":
        release = os.uname().release
    else:
        try:
            release = files.read_text(root, OSRELEASE, safefile.VALUE).strip()
        except OSError:
            return None
    return release if _RELEASE.match(release) else None


def _read(root: str, path: str) -> str:
    return files.read_text(root, path, safefile.LARGE)


def _source(errors: Dict[str, str], key: str, read: Any) -> Any:
    try:
        return read()
    except OSError as exc:
        where = f" reading {exc.filename}" if exc.filename else ""
        errors[key] = f"{exc.strerror or exc}{where}"
        return None


def parse_proc_modules(text: str) -> List[str]:
    """/proc/modules: 'name size refcount deps state address', one module a line."""
    return [canonical(line.split()[0]) for line in text.splitlines() if line.split()]


def module_name(path: str) -> str:
    """kernel/net/netfilter/xt_set.ko.zst -> xt_set"""
    return canonical(_MODULE_FILE.sub("", path.rsplit("/", 1)[-1]))


def parse_module_list(text: str) -> Dict[str, str]:
    """modules.builtin: one module path a line -> {name: path}."""
    out = {}  # type: Dict[str, str]
    for line in text.splitlines():
        path = line.strip()
        if path and _MODULE_FILE.search(path):
            out[module_name(path)] = path
    return out


def parse_modules_dep(text: str) -> Dict[str, str]:
    """modules.dep: 'path: dependency paths', one module a line -> {name: path}. The path is
    relative to /lib/modules/RELEASE; one that climbs out of it is ignored."""
    out = {}  # type: Dict[str, str]
    for line in text.splitlines():
        path = line.partition(":")[0].strip()
        if path and _MODULE_FILE.search(path) and ".." not in path.split("/"):
            out[module_name(path)] = path.lstrip("/")
    return out
