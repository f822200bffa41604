"""The documentation keeps up with the code: every command, every option of every command and
subcommand is written down, each where that command is documented (the check and fleet rule
ids: test_docs_registries.py)."""

import os
import re

import click
import pytest
from wire_preflight.cli.main import cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def doc_files():
    paths = [os.path.join(ROOT, "README.md")]
    for folder, _, files in os.walk(os.path.join(ROOT, "docs")):
        paths += sorted(os.path.join(folder, f) for f in files if f.endswith(".md"))
    return paths


def sections():
    """(heading, text) of every markdown section in the README and docs/, headings inside
    code blocks left alone; a section runs to the next heading of the same or a higher level."""
    out = []
    for path in doc_files():
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
        headings, fenced = [], False
        for number, line in enumerate(lines):
            if line.startswith("```"):
                fenced = not fenced
            match = None if fenced else re.match(r"^(#+) (.*)", line)
            if match:
                headings.append((number, len(match.group(1)), match.group(2)))
        for index, (start, level, title) in enumerate(headings):
            end = next((n for n, lv, _ in headings[index + 1 :] if lv <= level), len(lines))
            out.append((f"{os.path.relpath(path, ROOT)}: {title}", "\n".join(lines[start:end])))
    return out


SECTIONS = sections()


def command_tree(group, path=()):
    """(command path, click command) for every command and subcommand, depth first (asked
    through click, which loads the commands `wire-preflight` imports only when used)."""
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from command_tree(command, (*path, name))


COMMANDS = list(command_tree(cli))


# A command documented as taking all of another's options, in the words its section uses.
INHERITS = {
    ("report",): (("check",), "it takes all of `check`'s options"),
    ("bundle",): (("check",), "it takes all of `check`'s options"),
}


def sections_of(path):
    """The sections whose heading names this command, e.g. `wire-preflight fleet drift`."""
    name = re.escape("wire-preflight " + " ".join(path)) + r"\b(?![ -]\w)"
    found = [text for heading, text in SECTIONS if re.search(name, heading)]
    if path in INHERITS:
        parent, words = INHERITS[path]
        if any(words in " ".join(text.split()) for text in found):
            found += sections_of(parent)
    return found


def options(command):
    return [
        opt
        for param in command.params
        if isinstance(param, click.Option)
        for opt in param.opts
        if opt.startswith("--") and opt != "--help"
    ]


@pytest.mark.parametrize("path", [" ".join(p) for p, _ in COMMANDS])
def test_every_command_has_a_section(path):
    found = sections_of(tuple(path.split()))
    assert found, f"no heading in README.md or docs/ names `wire-preflight {path}`"


@pytest.mark.parametrize(
    "path,option", [(" ".join(p), opt) for p, command in COMMANDS for opt in options(command)]
)
def test_every_option_is_documented_with_its_command(path, option):
    found = [text for text in sections_of(tuple(path.split())) if option in text]
    assert found, f"`wire-preflight {path}` {option} is not documented in that command's section"


def test_the_tree_walk_sees_subcommands_and_their_options():
    paths = {" ".join(p): command for p, command in COMMANDS}
    assert {"check", "fleet", "fleet drift", "fleet accept", "fleet roles", "dns"} <= set(paths)
    assert "--since" in options(paths["fleet drift"])


def collector_options():
    try:
        from wire_preflight_collector.cli import serve
    except ImportError:  # the collector's extras are not installed on this interpreter
        return []
    return options(serve)


@pytest.mark.parametrize("option", collector_options())
def test_every_collector_option_is_documented(option):
    with open(os.path.join(ROOT, "docs", "collector.md"), encoding="utf-8") as handle:
        assert f"`{option}" in handle.read()


def cited_sections():
    """Every `docs/sources.md, "Section"` a profile or the agent's code cites."""
    cited = []
    agent = os.path.join(ROOT, "agent", "wire_preflight")
    for folder, _, files in os.walk(agent):
        for name in sorted(files):
            if name.endswith((".toml", ".py")):
                with open(os.path.join(folder, name), encoding="utf-8") as handle:
                    text = handle.read()
                where = os.path.relpath(os.path.join(folder, name), ROOT)
                cited += [(where, s) for s in re.findall(r'docs/sources\.md, \\?"([^"\\]+)', text)]
    return cited


@pytest.mark.parametrize("where,section", cited_sections())
def test_cited_sources_sections_exist(where, section):
    # A heading may go on after the name, e.g. "Ports between hosts (`[[reach]]` ...)".
    headings = [h for h, _ in SECTIONS if h.startswith("docs/sources.md: ")]
    assert any(h.startswith(f"docs/sources.md: {section}") for h in headings), where


def test_no_source_points_outside_the_project():
    for folder, _, files in os.walk(os.path.join(ROOT, "agent", "wire_preflight")):
        for name in files:
            if name.endswith((".toml", ".py")):
                with open(os.path.join(folder, name), encoding="utf-8") as handle:
                    assert "reference/" not in handle.read(), os.path.join(folder, name)
