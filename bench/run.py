#!/usr/bin/env python3
"""Time wire-preflight's agent as a whole process beside ansible's and facter's fact gathering.

Run by hand (not by CI): timings depend on the machine. Prints, for each command, the median
wall time and median peak RSS over --runs rounds (each round runs every command once, in an
order that rotates: pairs.py's rounds), and the ratios to the agent.

    python3 bench/run.py --runs 5
    python3 bench/run.py --agent .venv-test/3.6/bin/wire-preflight   # another interpreter
"""

import argparse
import os
import shutil
import statistics
import sys

from pairs import rounds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--agent",
        default=shutil.which("wire-preflight"),
        help="path of the wire-preflight entry point to time",
    )
    parser.add_argument("--role", default="cassandra")
    args = parser.parse_args()
    if not args.agent:
        sys.exit("no wire-preflight on PATH: install it (pip install .) or pass --agent")

    agent_python = _shebang_python(args.agent)
    quiet_ansible = dict(
        os.environ, ANSIBLE_LOCALHOST_WARNING="False", ANSIBLE_INVENTORY_UNPARSED_WARNING="False"
    )
    commands = [
        (
            f"wire-preflight check --role {args.role} --json",
            [args.agent, "check", "--role", args.role, "--json"],
            None,
        ),
        ("wire-preflight facts --json", [args.agent, "facts", "--json"], None),
        (
            f"{os.path.basename(agent_python)} -c pass (interpreter alone)",
            [agent_python, "-c", "pass"],
            None,
        ),
        ("facter --json", ["facter", "--json"], None),
        (
            "ansible -m setup localhost -c local",
            ["ansible", "-m", "setup", "localhost", "-c", "local"],
            quiet_ansible,
        ),
    ]
    results = {}
    print("{:<48} {:>10} {:>10} {:>5}".format("command", "median s", "peak MiB", "exit"))
    present = []
    for label, argv, env in commands:
        if shutil.which(argv[0]) or os.path.exists(argv[0]):
            present.append((label, argv, env))
        else:
            print("{:<48} {:>10}".format(label, "not installed"))
    for label, runs in rounds(present, args.runs).items():
        seconds = statistics.median(run[0] for run in runs)
        mib = statistics.median(run[1] for run in runs)
        results[label] = seconds
        print(f"{label:<48} {seconds:>10.3f} {mib:>10.1f} {runs[-1][2]:>5}")
    agent = results[commands[0][0]]
    for label in ("facter --json", "ansible -m setup localhost -c local"):
        if label in results:
            print(f"{label}: {results[label] / agent:.1f}x the agent's time")


def _shebang_python(entry_point):
    with open(entry_point) as handle:
        first = handle.readline()
    return first[2:].strip().split()[0] if first.startswith("#!") else sys.executable


if __name__ == "__main__":
    main()
