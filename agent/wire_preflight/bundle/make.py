"""`wire-preflight bundle`: collect the facts once, recording what the readers read, run the
checks on them when roles are given, and write it all as one screened archive.

Read-only on the host: the agent's remembered state is read (for ip-drift, as `check` would)
and never written, nothing is sent.
"""

import contextlib
import json
import os
import re
import time
from typing import Any, Dict, Iterator, List, NamedTuple, Optional, Tuple

from wire_preflight import __version__
from wire_preflight.bundle import FACTS, FORMAT, MANIFEST, REPORT, STATE, TREE, archive
from wire_preflight.bundle.record import Capture, Recorder
from wire_preflight.bundle.replay import LIVE_AREAS
from wire_preflight.bundle.secrets import Screen, read_secret_values
from wire_preflight.model import InputError


class Made(NamedTuple):
    path: str
    size: int
    manifest: Dict[str, Any]


def make(
    options: Any, out: Optional[str], agent_config: Dict[str, Any], config_path: Optional[str]
) -> Made:
    """options: pipeline.Options; agent_config: what the agent's configuration file says
    (its token, enroll-secret and state paths are the agent's own secrets)."""
    from wire_preflight import pipeline, profiles, state
    from wire_preflight.facts import files

    if options.facts_file:
        raise InputError(
            "--facts: a bundle holds a host's files; give --root DIR to bundle a captured tree"
        )
    live = os.path.abspath(options.root) == "/"
    question = pipeline.prepare(options) if options.roles else None
    profile = question.profile if question else profiles.load(options.profile_name)
    recorder = Recorder(options.root)
    with files.observed(recorder):
        facts = pipeline.collect_for(
            profile, _disk_paths(profile, question, options.data_dirs), options.root
        )
    state_dir = options.state_dir or agent_config.get("state_dir") or state.default_dir()
    previous = state.load(state_dir, facts) if live and state_dir else None
    report = None
    if question is not None:
        results = pipeline.judge(facts, question, options, previous)
        report = pipeline.document(facts, question, options, results, state_dir)

    screen = _screen(agent_config, config_path, state_dir)
    capture = recorder.members()
    top = _top_name(facts)
    host_members, skipped, redacted = _screened_tree(capture, screen, top)
    documents = [(FACTS, facts), (REPORT, report), (STATE, previous if live else None)]
    doc_members = []  # type: List[Tuple[str, str, bytes, str]]
    for name, document in documents:
        if document is None:
            continue
        verdict = screen.screen(None, _json_bytes(document))
        if verdict.data is None:
            skipped.append({"path": name, "reason": verdict.reason or ""})
            continue
        if verdict.redacted_lines:
            redacted.append({"path": name, "values": verdict.redacted_lines})
        doc_members.append((f"{top}/{name}", "file", verdict.data, ""))
    manifest = _manifest(options, profile, question, facts, capture, host_members, doc_members)
    manifest["skipped"] = skipped
    manifest["redacted"] = redacted
    manifest_bytes = screen.screen(None, _json_bytes(manifest)).data or b"{}"
    path = out or top + ".tar.gz"
    entries = [
        (top, "dir", b"", ""),
        (f"{top}/{MANIFEST}", "file", manifest_bytes, ""),
        *doc_members,
        (f"{top}/{TREE}", "dir", b"", ""),
        *host_members,
    ]
    try:
        size = archive.write(path, entries)
    except OSError as exc:
        raise InputError(f"cannot write bundle {path}: {exc.strerror}") from None
    return Made(path, size, manifest)


def _disk_paths(profile: Any, question: Any, data_dirs: Any) -> List[str]:
    # Every role's data directory of the profile, so the bundle can be judged for any role.
    paths = ["/"] + [role.data_dir for role in profile.roles.values()]
    if question is not None:
        paths += [need.path for need in question.needs.disks]
    paths += [d.split("=", 1)[-1] for d in data_dirs]
    return sorted(set(p for p in paths if p))


def _screen(agent_config: Dict[str, Any], config_path: Optional[str], state_dir: str) -> Screen:
    from wire_preflight import config

    settings = dict(agent_config)
    if not config_path and os.path.isfile(config.DEFAULT_PATH):
        # The agent's usual configuration names its secrets even when this run was not told.
        with contextlib.suppress(InputError):
            settings = dict(config.load(config.DEFAULT_PATH), **settings)
        config_path = config.DEFAULT_PATH
    secret_files = [settings.get(k) for k in ("token_file", "enroll_secret_file")]
    own = [config_path, state_dir, settings.get("spool_dir"), *secret_files]
    own_paths = [p for p in own if p]
    keys = os.path.join(state_dir, "keys") if state_dir else None
    values = read_secret_values([p for p in [*secret_files, keys] if p])
    return Screen([os.path.abspath(p) for p in own_paths], values)


def _screened_tree(
    capture: Capture, screen: Screen, top: str
) -> Tuple[List[Tuple[str, str, bytes, str]], List[Dict[str, str]], List[Dict[str, Any]]]:
    members = []  # type: List[Tuple[str, str, bytes, str]]
    skipped = list(capture.left_out)
    redacted = []  # type: List[Dict[str, Any]]
    refused_dirs = []  # type: List[str]
    for path in sorted(capture.tree):
        member = capture.tree[path]
        if any(path.startswith(d + "/") for d in refused_dirs):
            continue  # under a directory left out: said once, for the directory
        reason = screen.path_reason(path)
        data = member.data
        if reason is None and member.kind == "file":
            verdict = screen.screen(path, data)
            if verdict.data is None:
                reason = verdict.reason  # left out whole (a private key inside)
            else:
                data = verdict.data
            if verdict.redacted_lines:
                redacted.append({"path": path, "values": verdict.redacted_lines})
        if reason is not None:
            skipped.append({"path": path, "reason": reason})
            if member.kind == "dir":
                refused_dirs.append(path)
            continue
        members.append((f"{top}/{TREE}{path}", member.kind, data, member.target))
    return members, skipped, redacted


def _manifest(
    options: Any,
    profile: Any,
    question: Any,
    facts: Dict[str, Any],
    capture: Capture,
    host_members: List[Tuple[str, str, bytes, str]],
    doc_members: List[Tuple[str, str, bytes, str]],
) -> Dict[str, Any]:
    kinds = [kind for _name, kind, _data, _target in host_members]
    return {
        "format": FORMAT,
        "agent_version": __version__,
        "created_at": facts.get("collected_at"),
        "hostname": facts.get("hostname"),
        "root": os.path.abspath(options.root),
        "profile": options.profile_name or profile.name,
        "roles": list(question.roles) if question else [],
        "data_dirs": list(options.data_dirs),
        "captured": {
            "files": kinds.count("file"),
            "directories": kinds.count("dir"),
            "links": kinds.count("link"),
            "documents": sorted(name.rsplit("/", 1)[-1] for name, *_rest in doc_members),
            # A captured tree has no live views: its name, kernel and CPUs are its files'.
            "live_areas": [key for key in LIVE_AREAS if facts.get(key) is not None]
            if os.path.abspath(options.root) == "/"
            else [],
        },
    }


def _json_bytes(document: Any) -> bytes:
    # One key a line: the screen's line rule sees every "key": "value" pair of a document.
    return (json.dumps(document, indent=1, sort_keys=True, default=str) + "\n").encode("utf-8")


def _top_name(facts: Dict[str, Any]) -> str:
    host = re.sub(r"[^A-Za-z0-9_.-]", "_", str(facts.get("hostname") or "host"))[:64]
    return "wire-preflight-bundle-{}-{}".format(
        host.strip(".") or "host", time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    )


def summary_lines(made: Made) -> Iterator[str]:
    manifest = made.manifest
    captured = manifest["captured"]
    yield f"wrote {made.path}"
    yield "  host files: {} files, {} directories, {} links, as the checks read them".format(
        captured["files"], captured["directories"], captured["links"]
    )
    yield "  documents: " + (", ".join(captured["documents"]) or "none")
    yield "  live views: " + (", ".join(captured["live_areas"]) or "none (a captured tree)")
    reasons = {}  # type: Dict[str, int]
    for entry in manifest["skipped"]:
        reason = entry["reason"].split(":", 1)[0]
        reasons[reason] = reasons.get(reason, 0) + 1
    if reasons:
        yield "  left out: " + "; ".join(f"{n} {why}" for why, n in sorted(reasons.items()))
    redacted = manifest["redacted"]
    if redacted:
        yield "  redacted: {} secret value(s) in {} file(s)".format(
            sum(r["values"] for r in redacted), len(redacted)
        )
    yield f"  (what and why: {manifest['format']} manifest, {MANIFEST} in the archive)"
