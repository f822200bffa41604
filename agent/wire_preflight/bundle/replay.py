"""Judging a bundle on another machine: `check --bundle FILE`, or `check --root DIR` on an
unpacked one. The same pipeline as `check` (pipeline.py), with the facts made this way:

- the host's files are read again from the bundle's tree by this agent's readers (a fixed
  reader gives its fixed answer on old evidence), exactly as `--root` reads a captured tree;
- what only the live kernel could tell (addresses and routes, free space, sockets, clock
  synchronisation, the running kernel and CPUs, the programs on the PATH, apt's locks...)
  is taken from the facts the bundle recorded on the host (LIVE_AREAS, LIVE_PARTS);
- ip-drift compares with the state the agent had remembered on the host (state.json), and
  nothing is read from or written to this machine's state directory.
"""

import os
import shutil
import tempfile
from typing import Any, Dict, List, Optional, Tuple

from wire_preflight.bundle import FACTS, FORMAT_NAME, FORMAT_VERSION, MANIFEST, STATE, TREE, archive
from wire_preflight.model import InputError

# Areas the live collection takes from the running system, not from files (facts/__init__.py
# collects them; tests/test_bundle.py fails when a new one is not named here).
LIVE_AREAS = (
    "hostname",
    "kernel",
    "cpu",
    "disks",
    "network",
    "listeners",
    "tools",
    "time",
    "assets",
    # The running kernel's release (uname), its loaded modules and /sys/module: what the VM's
    # kernel had, which no file in the tree stands for.
    "kernel_modules",
)
# Parts of file-read areas that the live run adds from the running system.
LIVE_PARTS = (
    ("apt", ("locks",)),
    ("hardware_virtualization", ("dev_kvm",)),
    ("cpu_clock", ("machine", "x86_64")),
)
# Taken from the host's run: when the evidence was collected, not when it was re-read.
WHEN = ("collected_at", "collected_at_epoch")


def evaluate_file(path: str, options: Any) -> Tuple[List[Any], Dict[str, Any]]:
    """`check --bundle FILE`: unpack into a private directory, judge, remove it."""
    scratch = tempfile.mkdtemp(prefix="wire-preflight-bundle-")
    try:
        top = archive.unpack(path, scratch)
        return evaluate_directory(top, options, path)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def evaluate_directory(
    top: str, options: Any, origin: Optional[str] = None
) -> Tuple[List[Any], Dict[str, Any]]:
    """Judge an unpacked bundle with `check`'s options (pipeline.Options); the profile,
    roles and data directories default to those the bundle was made with."""
    from wire_preflight import pipeline
    from wire_preflight.facts.load import validate

    origin = origin or top
    manifest = read_manifest(top, origin)
    options = _defaults_from(manifest, options)
    if options.facts_file:
        raise InputError("--facts and --bundle both say what to judge: give one of them")
    question = pipeline.prepare(options)
    try:
        recorded = validate(
            archive.read_json(os.path.join(top, FACTS), origin, FACTS), f"{origin}: {FACTS}"
        )
    except FileNotFoundError:
        raise InputError(f"bundle {origin}: no {FACTS} in it") from None
    tree = os.path.join(top, TREE)
    if not os.path.isdir(tree) or os.path.islink(tree):
        raise InputError(f"bundle {origin}: no {TREE}/ directory in it")
    reread = pipeline.collect_for(
        question.profile, ["/"] + [need.path for need in question.needs.disks], tree
    )
    facts = merge(reread, recorded, manifest)
    facts["bundle"]["file"] = origin
    previous = _state(top, origin)
    results = pipeline.judge(facts, question, options, previous)
    doc = pipeline.document(facts, question, options, results, "")
    return results, doc


def read_manifest(top: str, origin: str) -> Dict[str, Any]:
    try:
        manifest = archive.read_json(os.path.join(top, MANIFEST), origin, MANIFEST)
    except FileNotFoundError:
        raise InputError(f"bundle {origin}: no {MANIFEST} in it") from None
    name, _, version = str(manifest.get("format", "")).rpartition("/")
    if name != FORMAT_NAME or not version.isdigit():
        raise InputError(
            f"bundle {origin}: {MANIFEST} field 'format' must be '{FORMAT_NAME}/N', "
            f"got {manifest.get('format')!r}"
        )
    if int(version) > FORMAT_VERSION:
        raise InputError(
            f"bundle {origin}: format {version} is newer than this agent reads "
            f"({FORMAT_VERSION}); judge it with wire-preflight {manifest.get('agent_version')}"
            " or later"
        )
    for field, kind in (("roles", list), ("data_dirs", list), ("profile", str)):
        value = manifest.get(field)
        if value is not None and not isinstance(value, kind):
            raise InputError(
                f"bundle {origin}: {MANIFEST} field '{field}' must be a {kind.__name__}"
            )
    for field in ("roles", "data_dirs"):
        if not all(isinstance(v, str) for v in manifest.get(field) or []):
            raise InputError(f"bundle {origin}: {MANIFEST} field '{field}' must list strings")
    return manifest


def _defaults_from(manifest: Dict[str, Any], options: Any) -> Any:
    """What `check` was not told is what the bundle was made for."""
    changes = {}  # type: Dict[str, Any]
    if not options.roles and manifest.get("roles"):
        changes["roles"] = tuple(manifest["roles"])
    if not options.profile_name and manifest.get("profile"):
        changes["profile_name"] = manifest["profile"]
    if not options.data_dirs and manifest.get("data_dirs"):
        changes["data_dirs"] = tuple(manifest["data_dirs"])
    return options._replace(**changes) if changes else options


def merge(
    reread: Dict[str, Any], recorded: Dict[str, Any], manifest: Dict[str, Any]
) -> Dict[str, Any]:
    """The facts of the tree as read here, with the live views the host recorded."""
    facts = dict(reread)
    errors = dict(reread.get("errors") or {})
    raw_errors = recorded.get("errors")
    recorded_errors = raw_errors if isinstance(raw_errors, dict) else {}  # type: Dict[str, Any]
    made_by = manifest.get("agent_version") or "an unknown version"
    facts.pop("root", None)
    if recorded.get("root"):
        facts["root"] = recorded["root"]  # the bundle was made of a captured tree itself
    for key in LIVE_AREAS:
        errors.pop(key, None)
        if key in recorded:
            facts[key] = recorded[key]
            if key in recorded_errors:
                errors[key] = recorded_errors[key]
        else:
            facts[key] = None
            errors[key] = f"not in this bundle (made by wire-preflight {made_by})"
    for key, why in recorded_errors.items():
        # An area the host could not read either: its reason (permission denied, a FIFO...)
        # says more than "missing", which is all a file left out of the bundle can say.
        if key not in LIVE_AREAS and facts.get(key) is None and recorded.get(key) is None:
            errors[key] = why
    for area, parts in LIVE_PARTS:
        here, there = facts.get(area), recorded.get(area)
        if isinstance(here, dict) and isinstance(there, dict):
            facts[area] = dict(here, **{p: there[p] for p in parts if p in there})
    for key in WHEN:
        if key in recorded:
            facts[key] = recorded[key]
    facts["errors"] = errors
    facts["bundle"] = {
        "format": manifest.get("format"),
        "agent_version": manifest.get("agent_version"),
        "hostname": recorded.get("hostname"),
    }
    return facts


def _state(top: str, origin: str) -> Optional[Dict[str, Any]]:
    try:
        return archive.read_json(os.path.join(top, STATE), origin, STATE)
    except FileNotFoundError:
        return None  # an older bundle, or a first run: ip-drift starts anew
