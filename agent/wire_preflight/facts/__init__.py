"""Facts: what the live host is, read from /proc, /sys, /etc and the kernel's netlink.

Collecting is the only impure stage of the agent. Each area is collected on its own; an area
that cannot be read (a missing /sys entry, permission denied) leaves its reason under
`errors` instead of raising, so the checks can say `error` with that reason.
"""

import os
import time
from typing import Any, Callable, Dict, Iterable

from wire_preflight import __version__
from wire_preflight.facts import files
from wire_preflight.model import FACTS_SCHEMA, InputError


def collect(
    disk_paths: Iterable[str],
    services: Iterable[str] = (),
    tool_names: Iterable[str] = (),
    root: str = "/",
    module_names: Iterable[str] = (),
) -> Dict[str, Any]:
    """Snapshot the live host. `disk_paths` are the directories whose filesystems matter,
    `services` the systemd units whose limits matter, `tool_names` the programs to look for,
    `module_names` the kernel modules to look for."""
    from wire_preflight.facts import (
        apt,
        assets,
        cpuinfo,
        disks,
        firewall,
        limits,
        netconfig,
        network,
        programs,
        resources,
        system,
        timesync,
        tunables,
    )

    if root != "/":
        return _collect_tree(disk_paths, services, tool_names, root, module_names)
    facts = {
        "schema": FACTS_SCHEMA,
        "agent_version": __version__,
        "collected_at": _utc_now(),
        "collected_at_epoch": time.time(),
    }  # type: Dict[str, Any]
    errors = {}  # type: Dict[str, str]
    # iproute2 answers in its own processes while the areas before it are read.
    ip_calls = network.IpCalls()
    areas = [
        ("hostname", system.hostname),
        ("machine_id", lambda: system.machine_id(root)),
        ("product_uuid", lambda: system.product_uuid(root)),
        ("virtualization", lambda: system.virtualization(root)),
        ("kernel", system.kernel),
        ("os", lambda: system.os_release(root)),
        ("cpu", resources.cpu),
        ("cpu_clock", lambda: cpuinfo.clock(root)),
        ("hardware_virtualization", lambda: cpuinfo.hardware_virtualization(root)),
        ("memory", lambda: resources.memory(root)),
        ("disks", lambda: disks.for_paths(sorted(set(disk_paths)))),
        ("network", lambda: network.collect(ip_calls)),
        ("network_config", lambda: netconfig.collect(root)),
        ("firewall", lambda: firewall.collect(root)),
        ("tunables", lambda: tunables.collect(root)),
        ("kernel_modules", lambda: kernel_modules(module_names, root)),
        ("limits", lambda: limits.collect(services, root)),
        ("listeners", programs.listeners),
        ("tools", lambda: programs.tools(tool_names)),
        ("time", timesync.collect),
        ("apt", lambda: apt.collect(root)),
        ("assets", lambda: assets.usage(root)),
    ]
    try:
        with files.budget():
            for key, reader in areas:
                _collect_one(facts, errors, key, reader)
    finally:
        ip_calls.close()  # an area that raised before the network's: no process left behind
    facts["errors"] = errors
    return facts


# What only the running kernel can tell: never taken from the machine running the command
# when the facts are those of a captured tree.
LIVE_ONLY = "only the live kernel can tell ({}); not read for a captured tree (--root)"


def _collect_tree(
    disk_paths: Iterable[str],
    services: Iterable[str],
    tool_names: Iterable[str],
    root: str,
    module_names: Iterable[str] = (),
) -> Dict[str, Any]:
    """The facts of a captured tree (a mounted image, a support bundle): its files only."""
    from wire_preflight.facts import (
        apt,
        assets,
        cpuinfo,
        firewall,
        limits,
        netconfig,
        resources,
        system,
        tree,
        tunables,
    )

    if not os.path.isdir(root):
        raise InputError(f"--root {root}: not a directory")
    facts = {
        "schema": FACTS_SCHEMA,
        "agent_version": __version__,
        "collected_at": _utc_now(),
        "collected_at_epoch": time.time(),
        "root": os.path.abspath(root),
    }  # type: Dict[str, Any]
    errors = {}  # type: Dict[str, str]
    areas = [
        ("hostname", lambda: tree.hostname(root)),
        ("machine_id", lambda: system.machine_id(root)),
        ("product_uuid", lambda: system.product_uuid(root)),
        ("virtualization", lambda: system.virtualization(root)),
        ("kernel", lambda: tree.kernel(root)),
        ("os", lambda: system.os_release(root)),
        ("cpu", lambda: tree.cpu(root)),
        ("cpu_clock", lambda: cpuinfo.clock(root)),
        ("hardware_virtualization", lambda: cpuinfo.hardware_virtualization(root)),
        ("memory", lambda: resources.memory(root)),
        ("network_config", lambda: netconfig.collect(root)),
        ("firewall", lambda: firewall.collect(root)),
        ("tunables", lambda: tunables.collect(root)),
        # What the tree's /proc/modules and /lib/modules say: the loaded set as of the capture.
        ("kernel_modules", lambda: kernel_modules(module_names, root)),
        ("limits", lambda: limits.collect(services, root)),
        ("tools", lambda: tree.tools(tool_names, root)),
        # The tree's apt settings; its locks are not asked (no processes in a capture).
        ("apt", lambda: apt.collect(root)),
        ("assets", lambda: assets.usage(root)),
    ]
    with files.budget():  # a tree of countless files, each within its bound, still ends
        for key, reader in areas:
            _collect_one(facts, errors, key, reader)
    if facts.get("hostname") is None:
        facts["hostname"] = facts.get("machine_id") or os.path.basename(os.path.abspath(root))
    for key, what in (
        ("network", "addresses and routes, iproute2's view"),
        ("disks", "free space of mounted filesystems"),
        ("listeners", "listening sockets"),
        ("time", "clock synchronisation, adjtimex"),
    ):
        facts[key] = None
        errors[key] = LIVE_ONLY.format(what)
    facts["errors"] = errors
    return facts


def kernel_modules(names: Iterable[str], root: str) -> Dict[str, Any]:
    """The modules the profile names (facts/modules.py); when it names none, nothing is read:
    modules.dep alone is some 600 KiB on an Ubuntu kernel."""
    names = list(names)
    if not names:
        return {"release": None, "modular": None, "modules": {}, "errors": {}}
    from wire_preflight.facts import modules

    return modules.collect(names, root)


def _collect_one(
    facts: Dict[str, Any], errors: Dict[str, str], key: str, reader: Callable[[], Any]
) -> None:
    try:
        facts[key] = reader()
    except OSError as exc:
        facts[key] = None
        errors[key] = describe_os_error(exc)
    except (ValueError, KeyError, IndexError) as exc:
        facts[key] = None
        errors[key] = f"could not parse: {exc}"


def describe_os_error(exc: OSError) -> str:
    where = f" reading {exc.filename}" if exc.filename else ""
    return f"{exc.strerror or exc}{where}"


def _utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
