"""One spelling for the words the code and the docs share: `summarize` (as the fleet's
summary.summarize, which the collector imports, spells it; -ize is also Oxford British
spelling, so the British prose keeps it too). JSON keys (`summary`) are not affected."""

import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TREES = ("agent", "collector", "docs", "packaging", "tests", "bench")
TEXT = (".py", ".md", ".toml", ".html", ".j2", ".yml", ".yaml", ".sh", ".txt")
# Spellings replaced, each with the one kept, and the files the rule does not read.
REPLACED = {"summaris": "summariz"}
SKIPPED = {os.path.join("tests", "test_spelling.py")}


def project_files():
    yield "README.md"
    for tree in TREES:
        for folder, dirs, files in os.walk(os.path.join(ROOT, tree)):
            dirs[:] = [d for d in dirs if d not in ("fixtures", "__pycache__")]
            for name in sorted(files):
                if name.endswith(TEXT):
                    path = os.path.relpath(os.path.join(folder, name), ROOT)
                    if path not in SKIPPED:
                        yield path


@pytest.mark.parametrize("replaced,kept", sorted(REPLACED.items()))
def test_one_spelling(replaced, kept):
    found = []
    for path in project_files():
        with open(os.path.join(ROOT, path), encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, 1):
                if re.search(replaced, line, re.IGNORECASE):
                    found.append(f"{path}:{number}")
    assert not found, f"spelled {replaced}... (write {kept}...): {', '.join(found)}"
