"""The docs' indexes of checks and fleet rules follow the two registries, checks.REGISTRY and
fleet.rules.RULES: each registered id has its row (naming the file that judges it), and no
row names an id that is not registered."""

import os
import re

import pytest
from wire_preflight import checks
from wire_preflight.fleet import rules

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHECKS = {check.id: check for check in checks.REGISTRY}
CHECK_MODULES = {check.module for check in checks.REGISTRY}


def read(*parts):
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as handle:
        return handle.read()


def id_table(text):
    """The rows of the text's table whose header starts `| id |`: (ids, cells) per row, the
    ids being every `backticked` name in the first cell."""
    rows, inside = [], False
    for line in text.splitlines():
        if line.startswith("| id |"):
            inside = True
            continue
        if inside and not line.startswith("|"):
            break
        if inside and not line.startswith("|---"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows.append((re.findall(r"`([^`]+)`", cells[0]), cells))
    assert rows, "no `| id |` table"
    return rows


def module_named(cell):
    """`checks/<module>.py` named in a cell, with or without `agent/wire_preflight/`."""
    found = re.search(r"`(?:agent/wire_preflight/)?checks/(\w+)\.py`", cell)
    return found.group(1) if found else None


def made_by_command_check(check_id, module):
    """A check run by its own command (dns, tls, ports): not in REGISTRY; its id is a string
    in the module the row names, and that module holds no registered check."""
    if module is None or module in CHECK_MODULES:
        return False
    path = os.path.join(ROOT, "agent", "wire_preflight", "checks", module + ".py")
    return os.path.exists(path) and f'"{check_id}"' in read(path)


# -- README.md: ## Checks -----------------------------------------------------------------------


def readme_check_rows():
    return id_table(read("README.md").split("\n## Checks\n", 1)[1])


@pytest.mark.parametrize("check_id", sorted(CHECKS))
def test_readme_check_index_lists_every_registered_check_with_its_file(check_id):
    modules = [module_named(cells[-1]) for ids, cells in readme_check_rows() if check_id in ids]
    assert modules, f"README.md's check index has no row for `{check_id}`"
    assert modules == [CHECKS[check_id].module], (check_id, modules)


def test_readme_check_index_names_no_check_that_does_not_exist():
    for ids, cells in readme_check_rows():
        module = module_named(cells[-1])
        for check_id in ids:
            known = check_id in CHECKS or made_by_command_check(check_id, module)
            assert known, f"README.md's check index names `{check_id}` ({cells[-1]})"


# -- docs/checks.md: a section per check, or a row of the component table -----------------------


def checks_md_entries():
    """(id, module) for each `## `id` — `...checks/x.py`` heading and each component row."""
    text = read("docs", "checks.md")
    entries = [
        (check_id, module)
        for check_id, module in re.findall(
            r"^## `([^`]+)` — `agent/wire_preflight/checks/(\w+)\.py`", text, re.M
        )
    ]
    for ids, cells in id_table(text):
        entries += [(check_id, module_named(cells[-1])) for check_id in ids]
    return entries


@pytest.mark.parametrize("check_id", sorted(CHECKS))
def test_checks_md_documents_every_registered_check_with_its_file(check_id):
    modules = {module for found, module in checks_md_entries() if found == check_id}
    assert modules, f"docs/checks.md has no section or component row for `{check_id}`"
    assert modules == {CHECKS[check_id].module}, (check_id, modules)


def test_checks_md_documents_no_check_that_does_not_exist():
    for check_id, module in checks_md_entries():
        assert check_id in CHECKS, f"docs/checks.md documents `{check_id}` (checks/{module}.py)"


def test_checks_package_index_names_each_checks_module():
    """checks/__init__.py's "Where to find a check by its id" maps each id to its module."""
    index = checks.__doc__.split("by its id:", 1)[1].split("Run by their own commands", 1)[0]
    where, pending = {}, []
    for line in index.splitlines():
        names, arrow, target = line.partition("->")
        pending += [name for name in re.split(r"[,\s]+", names) if name]
        if arrow:
            module = re.search(r"checks/(\w+)\.py", target).group(1)
            where.update((name, module) for name in pending)
            pending = []
    for check in checks.REGISTRY:
        assert where.get(check.id) == check.module, (check.id, where.get(check.id))
    assert set(where) <= set(CHECKS), set(where) - set(CHECKS)


# -- docs/fleet.md: the rule table --------------------------------------------------------------


def fleet_md_rule_ids():
    return [check_id for ids, _ in id_table(read("docs", "fleet.md")) for check_id in ids[:1]]


@pytest.mark.parametrize("rule_id", rules.rule_ids())
def test_fleet_md_has_a_row_for_every_rule(rule_id):
    assert rule_id in fleet_md_rule_ids(), f"docs/fleet.md's rule table has no `{rule_id}`"


def test_fleet_md_names_no_rule_that_does_not_exist():
    rows = fleet_md_rule_ids()
    assert len(rows) == len(set(rows)), "a rule with two rows"
    for rule_id in rows:
        assert rule_id in rules.RULE_IDS, f"docs/fleet.md has a row for `{rule_id}`: no such rule"
