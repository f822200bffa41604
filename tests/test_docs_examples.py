"""The example outputs in README.md and docs/ are what the commands print now (each re-run
from fixtures, tests/docs_examples.py; `tests/regen-docs` rewrites them), and the README's
Layout tree is the real tree."""

import os
import re

import docs_examples
import pytest
from docs_examples import ROOT

EXAMPLES = docs_examples.all_examples()
CHECKED = [e for e in EXAMPLES if e.reason is None]


@pytest.mark.parametrize("example", CHECKED, ids=[e.name for e in CHECKED])
def test_example_output_is_what_the_command_prints(example):
    for expected, actual in docs_examples.compare(example):
        assert actual == expected, (
            f"{example.name} is stale: run tests/regen-docs and review the diff"
        )


def blocks(path):
    """(line number, lines) of every fenced block of a markdown file."""
    lines = docs_examples.read_lines(path)
    out, start = [], None
    for number, line in enumerate(lines):
        if line.startswith("```"):
            if start is None:
                start = number
            else:
                out.append((start, lines[start + 1 : number]))
                start = None
    return out


SHOWS_OUTPUT = re.compile(r"^\$ (sudo )?wire-preflight")


@pytest.mark.parametrize("path", docs_examples.doc_files())
def test_every_block_that_shows_a_command_is_checked_or_says_why_not(path):
    marked = {e.start - 1 for e in docs_examples.examples(path)}
    unmarked = [
        f"{path}:{number + 1}"
        for number, lines in blocks(path)
        if any(SHOWS_OUTPUT.match(line) for line in lines) and number not in marked
    ]
    assert unmarked == [], "add an <!-- example ... --> marker (tests/docs_examples.py)"


def test_unchecked_examples_say_why():
    assert all(e.reason for e in EXAMPLES if e.reason is not None)
    assert len(CHECKED) >= 7


def test_the_checker_sees_a_stale_output(tmp_path):
    example = CHECKED[0]
    stale = docs_examples.Example(
        example.path,
        example.line,
        example.commands,
        example.setup,
        None,
        example.start,
        example.end,
        [*example.block[:-1], "PASS: 5 pass"],
    )
    pairs = docs_examples.compare(stale)
    assert any(expected != actual for expected, actual in pairs)


# -- the Layout tree ------------------------------------------------------------------------------


def layout_entries():
    """(path, line) of every name in the README's Layout tree, each under its parent."""
    text = "\n".join(docs_examples.read_lines("README.md"))
    block = text.split("## Layout", 1)[1].split("```")[1]
    entries, parents = [], []  # parents: (indent, directory)
    for line in block.strip("\n").split("\n"):
        match = re.match(r"^( *)(\S.*?)(?: {2,}|$)", line)
        indent = len(match.group(1))
        if indent >= 12:  # a description going on
            continue
        while parents and parents[-1][0] >= indent:
            parents.pop()
        base = parents[-1][1] if parents else ""
        for name in match.group(2).split(", "):
            path = base + name
            entries.append((path, line.strip()))
            if name.endswith("/"):
                parents.append((indent, path))
    return entries


def test_layout_names_only_what_exists_where_it_says():
    entries = dict(layout_entries())
    assert "agent/wire_preflight/report.py" in entries and "agent/wire_preflight/fleet/" in entries
    assert "collector/wire_preflight_collector/store/" in entries
    wrong = []
    for path, line in layout_entries():
        full = os.path.join(ROOT, path)
        if not (os.path.isdir(full) if path.endswith("/") else os.path.isfile(full)):
            wrong.append(f"{path} (from: {line})")
    assert wrong == []


def test_layout_lists_every_top_level_folder_and_agent_subpackage():
    listed = {path for path, _ in layout_entries()}
    skip = {"build", "dist"}
    top = {
        name + "/"
        for name in os.listdir(ROOT)
        if os.path.isdir(os.path.join(ROOT, name))
        and not name.startswith(".")
        and name not in skip
        and not name.endswith(".egg-info")
    }
    agent = os.path.join(ROOT, "agent", "wire_preflight")
    subpackages = {
        f"agent/wire_preflight/{name}/"
        for name in os.listdir(agent)
        if os.path.isdir(os.path.join(agent, name)) and not name.startswith(("_", "."))
    }
    tops = {p.split("/")[0] + "/" for p in listed}
    assert top - tops == set()
    assert subpackages - listed == set()
