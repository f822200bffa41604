"""Whether the running kernel has the modules the profile names: loaded, built in, or
available to load.

Where each answer comes from (the order `calicoctl node checksystem` looks in too):
    loaded      /proc/modules (a name there is a module in the kernel now)
    built in    /lib/modules/RELEASE/modules.builtin, and /sys/module/NAME for a name that is
                not in /proc/modules (sysfs shows a built-in module that has a parameter or
                a version there, Documentation/ABI/stable/sysfs-module)
    loadable    listed in /lib/modules/RELEASE/modules.dep with its .ko file present
and where modules.builtin cannot tell (a kernel without loadable modules often ships none),
the kernel's configuration (/proc/config.gz, else /boot/config-RELEASE) for the modules whose
Kconfig symbol is known (KCONFIG): `=y` is built in, anything else is not.
Each source that cannot be read leaves its reason under `errors`, and the answers it would
have given are None (not known), never False: a check must not call a module missing
because a file could not be read.

Only the names asked for are recorded (a generic Ubuntu kernel ships some 6,000 modules).
"""

import os
import re
from typing import Any, Dict, Iterable, List, Optional, Tuple

from wire_preflight import safefile
from wire_preflight.facts import files

PROC_MODULES = "/proc/modules"
SYS_MODULE = "/sys/module"
LIB_MODULES = "/lib/modules"
OSRELEASE = "/proc/sys/kernel/osrelease"
# A release names a directory: nothing that could climb out of /lib/modules.
_RELEASE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+~-]*$")
_MODULE_FILE = re.compile(r"\.ko(\.(gz|xz|zst))?$")
PROC_CONFIG = "/proc/config.gz"
BOOT_CONFIG = "/boot/config-{}"
# The kernel option that builds each module, from the kernel's own Makefiles
# (`obj-$(CONFIG_NETFILTER_XT_SET) += xt_set.o` in net/netfilter/Makefile, ...): the modules
# the built-in profiles name. A module not here is judged without the configuration.
KCONFIG = {
    "br_netfilter": "CONFIG_BRIDGE_NETFILTER",
    "ip_set": "CONFIG_IP_SET",
    "ip_tables": "CONFIG_IP_NF_IPTABLES",
    "ipip": "CONFIG_NET_IPIP",
    "ipt_REJECT": "CONFIG_IP_NF_TARGET_REJECT",
    "ipt_rpfilter": "CONFIG_IP_NF_MATCH_RPFILTER",
    "nf_conntrack": "CONFIG_NF_CONNTRACK",
    "nf_tables": "CONFIG_NF_TABLES",
    "vxlan": "CONFIG_VXLAN",
    "xt_LOG": "CONFIG_NETFILTER_XT_TARGET_LOG",
    "xt_addrtype": "CONFIG_NETFILTER_XT_MATCH_ADDRTYPE",
    "xt_comment": "CONFIG_NETFILTER_XT_MATCH_COMMENT",
    "xt_conntrack": "CONFIG_NETFILTER_XT_MATCH_CONNTRACK",
    "xt_mark": "CONFIG_NETFILTER_XT_MARK",
    "xt_multiport": "CONFIG_NETFILTER_XT_MATCH_MULTIPORT",
    "xt_sctp": "CONFIG_NETFILTER_XT_MATCH_SCTP",
    "xt_set": "CONFIG_NETFILTER_XT_SET",
    "xt_tcpudp": "CONFIG_NETFILTER_XTABLES",
}
# A kernel configuration is some 250 KiB; more than this from a .gz is not one.
_CONFIG_LIMIT = 4 * safefile.MiB


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
    config, config_file = None, None  # type: Optional[Dict[str, str]], Optional[str]
    if builtin is None and release and any(name in KCONFIG for name in wanted):
        found = _source(errors, "config", lambda: read_config(root, release))
        config_file, config = found if found else (None, None)
    modules = {}  # type: Dict[str, Dict[str, Any]]
    for name in wanted:
        in_sysfs = os.path.isdir(files.under(root, f"{SYS_MODULE}/{name}"))
        is_loaded = None if loaded is None else name in loaded
        is_builtin = None if builtin is None else name in builtin
        if not is_loaded and in_sysfs and loaded is not None:
            is_builtin = True  # in sysfs but not a loaded module: part of the kernel image
        if is_builtin is None and config is not None and name in KCONFIG:
            is_builtin = config.get(KCONFIG[name]) == "y"
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
    return {
        "release": release,
        "modular": modular,
        "config_file": config_file,
        "modules": modules,
        "errors": errors,
    }


def read_config(root: str, release: str) -> Tuple[str, Dict[str, str]]:
    """(the file, the kernel's configuration {CONFIG_X: "y" | "m" | ...}): /proc/config.gz
    (the running kernel's own), else /boot/config-RELEASE."""
    import zlib

    try:
        packed = files.read_bytes(root, PROC_CONFIG, safefile.LARGE)
    except FileNotFoundError:
        path = BOOT_CONFIG.format(release)
        return path, parse_config(files.read_text(root, path, safefile.LARGE))
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)  # gzip framing
    try:
        text = inflate.decompress(packed, _CONFIG_LIMIT)
    except zlib.error as exc:
        raise OSError(0, f"not gzip data ({exc})", PROC_CONFIG) from None
    if inflate.unconsumed_tail:
        raise OSError(0, f"more than {safefile.size_words(_CONFIG_LIMIT)} unpacked", PROC_CONFIG)
    return PROC_CONFIG, parse_config(text.decode("utf-8", errors="replace"))


def parse_config(text: str) -> Dict[str, str]:
    """Kconfig's .config: CONFIG_X=value lines; `# CONFIG_X is not set` is absent."""
    out = {}  # type: Dict[str, str]
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key.startswith("CONFIG_"):
            out[key] = value.strip().strip('"')
    return out


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
