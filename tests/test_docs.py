"""The documentation keeps up with the code: every command, option and check id is written down."""

import os

import click
import pytest
from wire_preflight import checks
from wire_preflight.cli import cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def docs_text():
    parts = []
    for folder, _, files in os.walk(os.path.join(ROOT, "docs")):
        parts += [os.path.join(folder, f) for f in files if f.endswith(".md")]
    parts.append(os.path.join(ROOT, "README.md"))
    text = ""
    for path in parts:
        with open(path, encoding="utf-8") as handle:
            text += handle.read()
    return text


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_is_in_the_readme(name):
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        assert f"wire-preflight {name}" in handle.read()


@pytest.mark.parametrize(
    "command,option",
    [
        (name, opt)
        for name, command in sorted(cli.commands.items())
        for param in command.params
        if isinstance(param, click.Option)
        for opt in param.opts
        if opt.startswith("--") and opt != "--help"
    ],
)
def test_every_option_is_documented(command, option):
    assert option in docs_text(), f"{command} {option} is not documented"


@pytest.mark.parametrize("check_id", checks.check_ids())
def test_every_check_id_is_documented(check_id):
    with open(os.path.join(ROOT, "docs", "checks.md"), encoding="utf-8") as handle:
        assert f"`{check_id}`" in handle.read()


def collector_options():
    try:
        from wire_preflight_collector.cli import serve
    except ImportError:  # the collector's extras are not installed on this interpreter
        return []
    return [
        opt
        for param in serve.params
        if isinstance(param, click.Option)
        for opt in param.opts
        if opt.startswith("--") and opt != "--help"
    ]


@pytest.mark.parametrize("option", collector_options())
def test_every_collector_option_is_documented(option):
    with open(os.path.join(ROOT, "docs", "collector.md"), encoding="utf-8") as handle:
        assert f"`{option}" in handle.read()
