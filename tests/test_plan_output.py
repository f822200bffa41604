"""What `plan` prints for every built-in profile: columns that fit, no lines that say nothing,
and counts in the singular where there is one."""

import pytest
from helpers import judge, one, with_changes
from wire_preflight import profiles
from wire_preflight.plan import vms as plan
from wire_preflight.quantities import count
from wire_preflight.render.tables import plan_lines


def lines_of(name):
    return plan_lines(plan.fleet_plan(profiles.load(name)), name, 0)


@pytest.mark.parametrize("name", profiles.builtin_names())
def test_every_row_lines_up_under_its_header(name):
    lines = lines_of(name)
    header = lines[1]
    roles = list(profiles.load(name).roles)
    rows = lines[2 : 2 + len(roles)]
    assert [row.split()[0] for row in rows] == roles
    for row in rows:
        cells = row.split()
        assert cells[0] == row[: len(cells[0])]  # ROLE starts the line
        # PLACEMENT starts where its header does, after the widest role name and two blanks.
        assert row[header.index("PLACEMENT") - 2 :].startswith("  " + cells[1])
        for column in ("VMS", "CORES", "MEMORY", "DISK"):  # numbers end under their header
            end = header.index(column) + len(column)
            assert row[end - 1] != " " and row[end : end + 1] in ("", " "), (row, column)


def test_calling_kubernetes_fits_its_column():
    lines = lines_of("current")
    row = next(line for line in lines if line.startswith("calling-kubernetes"))
    assert row.split()[:3] == ["calling-kubernetes", "each-server", "3"]


def test_a_one_vm_profile_prints_no_empty_fleet():
    text = "\n".join(lines_of("wiab"))
    assert "0 VMs" not in text and "per physical server" not in text and "()" not in text
    assert "wiab  standalone" in text


@pytest.mark.parametrize(
    "value,unit,words", [(1, "core", "1 core"), (2, "core", "2 cores"), (1, "VM", "1 VM")]
)
def test_counts(value, unit, words):
    assert count(value, unit) == words


def test_cpu_check_says_one_core(base_facts):
    facts = with_changes(base_facts, cpu__logical_count=1)
    result = one(judge(facts, ["cassandra"]), "cpu")
    assert result.observed == "1 core" and result.expected == ">= 2 cores"
    assert result.message == "1 core, 2 cores needed"
