#!/usr/bin/env python3
"""Prove a speed change changed nothing the agent says: run one agent tree over every role of
every built-in profile, live and on the test fixtures (a saved facts file and the captured
`--root` trees), plus `--help` of every command, `profiles`, `plan` and some bad input, and
write each output (exit code, stdout, stderr) to a directory, with what moves from run to run
taken out (report ids, times, this host's clock and load). Run it for the tree before and the
tree after, then compare the two directories with `diff -r`.

    PYTHON=.venv-dev/bin/python
    $PYTHON bench/same_output.py --tree /tmp/before --python $PYTHON --out /tmp/out-before
    $PYTHON bench/same_output.py --tree .           --python $PYTHON --out /tmp/out-after
    diff -r /tmp/out-before /tmp/out-after

Run by hand, not by CI (tests/ cover the behaviour; this covers "the same as before").
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(os.path.dirname(HERE), "tests", "fixtures")
# Values that differ between two runs of one tree on one host, at any depth of the report.
MOVING_KEYS = {
    "report_id",
    "generated_at",
    "generated_at_epoch",
    "collected_at",
    "collected_at_epoch",
}
# Facts of the live host that move between runs (free memory, the clock, the load, sockets).
LIVE_MOVING = re.compile(
    r"available|free|offset|uptime|load|used|listeners|ports|since|age|epoch|timestamp|"
    r"jitter|delay|dispersion|ago",
    re.I,
)


def scrub(value, tree, live, path=""):
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            moving = live and (LIVE_MOVING.search(key) or key in ("pid", "port"))
            if key in MOVING_KEYS or moving:
                out[key] = "<moves>"
            else:
                out[key] = scrub(item, tree, live, f"{path}.{key}" if path else key)
        return out
    if isinstance(value, list):
        return [scrub(item, tree, live, path) for item in value]
    if isinstance(value, str):
        return value.replace(FIXTURES, "<fixtures>").replace(tree, "<tree>")
    return value


def live_checks(doc):
    """On the live host a check's observed value and message may carry a moving number
    (clock offset, free space, a listener's pid): numbers in them are taken out; ids, roles,
    statuses and the words stay."""
    for check in doc.get("checks", []):
        for key in ("observed", "message"):
            if isinstance(check.get(key), str):
                check[key] = re.sub(r"\d+(\.\d+)?", "<n>", check[key])
    return doc


def run(python, tree, args, state_dir):
    env = dict(os.environ, PYTHONPATH=os.path.join(tree, "agent"), COLUMNS="100")
    env.pop("WIRE_PREFLIGHT_DEBUG", None)
    proc = subprocess.run(
        [python, "-m", "wire_preflight", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=state_dir,
        universal_newlines=True,
    )
    return proc.returncode, proc.stdout, proc.stderr


def cases(python, tree):
    """(name, argv, live) for every case."""
    listed = subprocess.run(
        [python, "-m", "wire_preflight", "profiles", "--json"],
        stdout=subprocess.PIPE,
        env=dict(os.environ, PYTHONPATH=os.path.join(tree, "agent")),
        check=True,
    ).stdout
    profiles = [(p["name"], p["roles"]) for p in json.loads(listed)["profiles"]]
    commands = ["check", "report", "facts", "profiles", "plan", "install-timer", "bundle"]
    commands += ["dns", "tls", "ports", "listen", "fleet"]
    fleet = ["drift", "accept", "forget", "rekey", "enrolments"]
    yield "help", ["--help"], False
    yield "version", ["--version"], False
    yield "no-command", [], False
    yield "bad-command", ["chek"], False
    for command in commands:
        yield f"help-{command}", [command, "--help"], False
    for command in fleet:
        yield f"help-fleet-{command}", ["fleet", command, "--help"], False
    yield "profiles-text", ["profiles"], False
    yield "profiles-json", ["profiles", "--json"], False
    roots = ["vm-tree-ubuntu1804", "netconfig-dhcp", "netconfig-broken", "ubuntu-18.04"]
    roots += [os.path.join("kernel-modules", name) for name in ("builtin", "loadable", "loaded")]
    roots += [os.path.join("kernel-modules", name) for name in ("missing", "unreadable")]
    saved = os.path.join(FIXTURES, "facts-ubuntu1804-kvm-4g.json")
    for profile, roles in profiles:
        yield f"plan-{profile}", ["plan", "--profile", profile, "--json"], False
        yield f"plan-text-{profile}", ["plan", "--profile", profile], False
        yield f"facts-{profile}", ["facts", "--profile", profile, "--json"], True
        for role in roles:
            base = ["check", "--profile", profile, "--role", role]
            yield f"{profile}-{role}-live", [*base, "--json"], True
            yield f"{profile}-{role}-live-text", base, True
            yield f"{profile}-{role}-facts", [*base, "--json", "--facts", saved], False
            yield f"{profile}-{role}-facts-text", [*base, "--facts", saved], False
            for root in roots:
                name = root.replace(os.sep, "-")
                argv = [*base, "--json", "--root", os.path.join(FIXTURES, root)]
                yield f"{profile}-{role}-root-{name}", argv, False
    bad = [
        ["check", "--role", "nosuch"],
        ["check", "--profile", "nosuch", "--role", "cassandra"],
        ["check", "--role", "cassandra", "--ip", "300.1.1.1"],
        ["check", "--role", "cassandra", "--ignore", "nosuch"],
        ["check"],
        ["check", "--role", "cassandra", "--nosuch"],
        ["check", "--role", "cassandra", "--facts", "/nonexistent"],
        ["check", "--role", "cassandra", "--facts", saved, "--root", FIXTURES],
        ["fleet"],
        ["fleet", "drift"],
        ["plan", "--server", "bad"],
    ]
    for index, argv in enumerate(bad):
        yield f"bad-{index}", argv, False


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", required=True, help="a checkout of wire-preflight")
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    tree = os.path.abspath(args.tree)
    if os.sep in args.python:  # the runs start in a scratch directory
        args.python = os.path.abspath(args.python)
    if os.path.exists(args.out):
        shutil.rmtree(args.out)
    os.makedirs(args.out)
    count = 0
    for name, argv, live in cases(args.python, tree):
        with tempfile.TemporaryDirectory() as state_dir:
            if argv and argv[0] == "check":
                argv = [*argv, "--state-dir", state_dir]
            code, out, err = run(args.python, tree, argv, state_dir)
            out, err = out.replace(state_dir, "<state>"), err.replace(state_dir, "<state>")
        try:
            doc = scrub(json.loads(out), tree, live)
            out = json.dumps(live_checks(doc) if live else doc, indent=1, sort_keys=True)
        except ValueError:
            out = out.replace(FIXTURES, "<fixtures>").replace(tree, "<tree>")
            if live:  # the text table of a live run carries the same moving numbers
                out = re.sub(r"\d+(\.\d+)?", "<n>", out)
        with open(os.path.join(args.out, name), "w", encoding="utf-8") as handle:
            handle.write(f"exit {code}\n--- stdout\n{out}\n--- stderr\n{err}")
        count += 1
    print(f"{count} cases written to {args.out}")


if __name__ == "__main__":
    main()
