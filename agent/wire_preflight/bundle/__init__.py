"""The support bundle: one archive of what the checks read on this VM, judged again elsewhere.

`wire-preflight bundle` records the paths the readers ask for during one collection of facts
(facts/files.py tells record.py), and writes them with the facts, the report and the agent's
remembered state into one tar.gz (archive.py), every member screened for secrets on the way
in (secrets.py). `check --bundle FILE` (or `check --root DIR` on an unpacked bundle) reads the
files again with this agent's readers and takes what only the live kernel could tell from the
bundle's facts (replay.py).

Layout of format 1, all under one top directory named after the host and the time:

    TOP/manifest.json   format, agent version, what was asked, captured, skipped and why
    TOP/facts.json      the facts as collected on the host (their own schema, docs/json.md)
    TOP/report.json     the report of the bundle's own run, when roles were given (optional)
    TOP/state.json      what the agent remembered from its last run, for ip-drift (optional)
    TOP/root/...        the host's files the readers read, at their host paths
"""

FORMAT_NAME = "wire-preflight/bundle"
FORMAT_VERSION = 1
FORMAT = f"{FORMAT_NAME}/{FORMAT_VERSION}"

MANIFEST = "manifest.json"
FACTS = "facts.json"
REPORT = "report.json"
STATE = "state.json"
TREE = "root"
