"""os and hostname checks."""

import pytest
from conftest import judge, with_changes
from wire_preflight.checks.system import hostname_problem, suggest_hostname
from wire_preflight.model import FAIL, PASS, WARN


def by_id(facts, alternatives=None):
    """Each check's one result on a cassandra VM, by check id."""
    return {r.id: r for r in judge(facts, ["cassandra"], os_alternatives=alternatives or {})}


def test_ubuntu_1804_passes(base_facts):
    assert by_id(base_facts)["os"].status == PASS


def test_other_release_warns_and_names_the_profile_that_fits(base_facts):
    facts = with_changes(base_facts, os__version_id="22.04")
    alternatives = {"classic": ("ubuntu", ["18.04"]), "current": ("ubuntu", ["22.04"])}
    os_result = by_id(facts, alternatives)["os"]
    assert os_result.status == WARN
    assert "--profile current" in os_result.message


def test_other_release_without_a_fitting_profile_still_warns(base_facts):
    facts = with_changes(base_facts, os__version_id="16.04")
    os_result = by_id(facts, {"classic": ("ubuntu", ["18.04"])})["os"]
    assert os_result.status == WARN
    assert "--profile" not in os_result.message


def test_other_distribution_fails(base_facts):
    facts = with_changes(base_facts, os__id="debian", os__version_id="12")
    os_result = by_id(facts)["os"]
    assert os_result.status == FAIL
    assert "ubuntu" in os_result.remedy


@pytest.mark.parametrize("name", ["cassandra1", "kube-node-1", "node1.dc1.example.com", "a" * 63])
def test_valid_hostnames(base_facts, name):
    assert by_id(with_changes(base_facts, hostname=name))["hostname"].status == PASS


@pytest.mark.parametrize(
    "name",
    ["Cassandra1", "kube_node_1", "-node", "node-", "a" * 64, "node..example", "<b>x</b>"],
)
def test_invalid_hostnames_fail_with_a_safe_remedy(base_facts, name):
    result = by_id(with_changes(base_facts, hostname=name))["hostname"]
    assert result.status == FAIL
    fixed = result.remedy.split()[-1]
    assert hostname_problem(fixed) == "", fixed


def test_suggest_hostname():
    assert suggest_hostname("Kube_Node_1") == "kube-node-1"
    assert suggest_hostname("<script>") == "script"
