#!/usr/bin/env python3
"""Time commands against a reference command in alternating rounds, so that load from other
work on the machine falls on every side alike; print medians and ratios to the reference.

Run by hand (not by CI). Each round runs the reference and every command once, in an order
that rotates from round to round; the table gives the median wall time and peak RSS over the
rounds and the ratio of the medians to the reference's, and the same for CPU time (user +
system of the process and the children it waited for, from `wait4`): CPU time is what load
from other work changes least, so it is the ratio to read on a busy machine.

    python3 bench/pairs.py --rounds 9 --reference 'facter --json' \
        'venv 3.12=.venv-test/3.12/bin/wire-preflight check --role cassandra --json' \
        'pyz 3.12=python3.12 dist/wire-preflight.pyz check --role cassandra --json'
"""

import argparse
import os
import shlex
import statistics
import subprocess
import time


def once(argv, env=None):
    """(wall seconds, peak RSS in MiB, exit code, CPU seconds) of one whole process."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    code = os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status
    cpu = usage.ru_utime + usage.ru_stime  # its waited-for children included (facter's too)
    return time.perf_counter() - start, usage.ru_maxrss / 1024, code, cpu  # KiB on Linux


def rounds(sides, count, warmup=0):
    """{label: [once()'s tuple per timed round]} for sides [(label, argv, env)]: each round
    runs every side once, starting one further along than the round before, so load from
    other work falls on every side alike."""
    runs = {label: [] for label, _, _ in sides}
    for number in range(warmup + count):
        shift = number % len(sides)
        for label, argv, env in sides[shift:] + sides[:shift]:
            measured = once(argv, env)
            if number >= warmup:
                runs[label].append(measured)
    return runs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--reference", default="facter --json")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first")
    parser.add_argument("commands", nargs="+", help="LABEL=COMMAND")
    args = parser.parse_args()
    # A VM's cron has no PYTHONDONTWRITEBYTECODE; some shells here set it.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    sides = [("reference: " + args.reference, shlex.split(args.reference), env)]
    for spec in args.commands:
        label, _, command = spec.partition("=")
        sides.append((label, shlex.split(command), env))
    load_before = os.getloadavg()
    runs = rounds(sides, args.rounds, args.warmup)
    load_after = os.getloadavg()
    reference = statistics.median(run[0] for run in runs[sides[0][0]])
    reference_cpu = statistics.median(run[3] for run in runs[sides[0][0]])
    loads = f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f}"
    print(f"{args.rounds} rounds; {loads}")
    header = ("command", "median s", "min s", "/ ref", "CPU s", "CPU / ref", "peak MiB")
    print("{:<40} {:>9} {:>9} {:>7} {:>7} {:>9} {:>9}".format(*header))
    for label, _, _ in sides:
        times = [run[0] for run in runs[label]]
        median = statistics.median(times)
        cpu = statistics.median(run[3] for run in runs[label])
        peak = statistics.median(run[1] for run in runs[label])
        print(
            f"{label:<40} {median:>9.3f} {min(times):>9.3f} {median / reference:>7.2f} "
            f"{cpu:>7.3f} {cpu / reference_cpu:>9.2f} {peak:>9.1f}"
        )


if __name__ == "__main__":
    main()
