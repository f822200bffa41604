"""The built-in TOML files' parsed copy (profiles/parsed.py): used only for the exact text it
was made from, equal to what this interpreter's TOML parser makes of it, and up to date."""

import json
import os
import shutil

import pytest
from wire_preflight import profiles
from wire_preflight.profiles import parsed

BUILTIN = [os.path.join(profiles.BUILTIN_DIR, n + ".toml") for n in profiles.builtin_names()]
HOST = os.path.join(profiles.BUILTIN_DIR, "host")
BUILTIN += [os.path.join(HOST, n) for n in sorted(os.listdir(HOST)) if n.endswith(".toml")]


def read(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def test_the_shipped_copy_is_up_to_date():
    """Else every run parses TOML again (slower, not wrong). After editing a built-in file:
    python -c 'from wire_preflight.profiles import parsed; print(parsed.write())'"""
    with open(os.path.join(parsed.HERE, parsed.CACHE), encoding="utf-8") as handle:
        shipped = json.load(handle)
    assert shipped == parsed.build()
    assert sorted(shipped["files"]) == sorted(
        os.path.relpath(path, profiles.BUILTIN_DIR) for path in BUILTIN
    )


@pytest.mark.parametrize("path", BUILTIN, ids=lambda p: os.path.relpath(p, profiles.BUILTIN_DIR))
def test_each_file_reads_back_as_the_parser_reads_it_in_its_order(path):
    text = read(path)
    cached = parsed.lookup(path, text)
    fresh = parsed.toml_module().loads(text)
    assert cached is not None
    assert cached == fresh
    # Same order too: roles are listed in the file's order.
    assert json.dumps(cached) == json.dumps(fresh)
    assert cached is not parsed.lookup(path, text)  # a new object: callers may change it


def test_a_changed_text_or_another_file_is_not_taken_from_the_copy(tmp_path):
    path = os.path.join(profiles.BUILTIN_DIR, "classic.toml")
    text = read(path)
    assert parsed.lookup(path, text + "\n# edited\n") is None
    assert parsed.lookup(str(tmp_path / "classic.toml"), text) is None


def test_an_edited_builtin_profile_is_judged_as_edited(tmp_path, monkeypatch):
    """The copy left behind by an edit is never used: the edited file is parsed."""
    tree = tmp_path / "profiles"
    shutil.copytree(profiles.BUILTIN_DIR, str(tree))
    classic = tree / "classic.toml"
    text = classic.read_text()
    assert "min_physical_servers = 3" in text
    classic.write_text(text.replace("min_physical_servers = 3", "min_physical_servers = 5", 1))
    monkeypatch.setattr(profiles, "BUILTIN_DIR", str(tree))
    monkeypatch.setattr(parsed, "HERE", str(tree))
    monkeypatch.setattr(parsed, "_entries", None)
    assert profiles.load("classic").fleet["min_physical_servers"] == 5
    # The host requirements beside it still come from the copy, unchanged.
    components = tree / "host" / "components.toml"
    assert parsed.lookup(str(components), components.read_text()) is not None
    assert profiles.load("classic").host == profiles.load(str(classic)).host


def test_a_missing_or_broken_copy_means_parsing_every_file(tmp_path, monkeypatch):
    monkeypatch.setattr(parsed, "HERE", str(tmp_path))
    for content in (None, "not json", '{"files": [1]}', '{"files": {"a.toml": {"text": 1}}}'):
        if content is not None:
            (tmp_path / parsed.CACHE).write_text(content)
        monkeypatch.setattr(parsed, "_entries", None)
        assert parsed.lookup(str(tmp_path / "a.toml"), "x = 1\n") is None
        # ...and the built-in profiles are parsed from their TOML instead, whole.
        classic = profiles.load("classic")
        assert classic.fleet["min_physical_servers"] == 3
        assert "cassandra" in classic.roles


def test_a_value_json_cannot_hold_is_left_out(tmp_path):
    (tmp_path / "host").mkdir()
    (tmp_path / "dated.toml").write_text("when = 2026-12-03\n")
    (tmp_path / "plain.toml").write_text('b = 1\na = 2.0\nc = ["x"]\n')
    built = parsed.build(str(tmp_path))["files"]
    assert sorted(built) == ["plain.toml"]
    assert json.loads(built["plain.toml"]["data"]) == {"b": 1, "a": 2.0, "c": ["x"]}
    assert list(json.loads(built["plain.toml"]["data"])) == ["b", "a", "c"]
