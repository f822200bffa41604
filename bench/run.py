#!/usr/bin/env python3
"""Time wire-preflight's agent as a whole process beside ansible's and facter's fact gathering.

Run by hand (not by CI): timings depend on the machine. Prints, for each command, the median
wall time and median peak RSS over --runs runs, and the ratios to the agent.

    python3 bench/run.py --runs 5
    python3 bench/run.py --agent .venv-test/3.6/bin/wire-preflight   # another interpreter
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time


def measure(argv, runs, env=None):
    """(median seconds, median peak RSS MiB, exit code of the last run)."""
    times, peaks, code = [], [], None
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        times.append(time.perf_counter() - start)
        peaks.append(usage.ru_maxrss / 1024)  # Linux reports KiB
        code = (
            os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status
        )
    return statistics.median(times), statistics.median(peaks), code


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
    for label, argv, env in commands:
        if not shutil.which(argv[0]) and not os.path.exists(argv[0]):
            print("{:<48} {:>10}".format(label, "not installed"))
            continue
        seconds, mib, code = measure(argv, args.runs, env)
        results[label] = seconds
        print(f"{label:<48} {seconds:>10.3f} {mib:>10.1f} {code:>5}")
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
