"""The `wire-preflight` command line: main.py (the group, its commands and the entry point),
network.py (dns, tls, ports, listen), fleet.py (`fleet` and its subcommands), options.py (the
options they share). What it shares with the collector's command line is in
wire_preflight.commandline.

Imports nothing: cron runs the agent on every VM, and each command loads only what it uses.
"""
