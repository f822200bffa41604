"""os and hostname checks."""

import pytest
from helpers import judge, with_changes
from wire_preflight.checks.system import hostname_problem, suggest_hostname
from wire_preflight.model import FAIL, PASS, WARN
from wire_preflight.profiles import Alternative

CLASSIC = Alternative("ubuntu", ["18.04"], ("cassandra", "minio", "restund", "kubernetes"))
CURRENT = Alternative("ubuntu", ["22.04"], ("cassandra", "minio", "postgresql", "kubernetes"))
WIAB = Alternative("ubuntu", ["24.04"], ("wiab",))


def by_id(facts, alternatives=None, roles=("cassandra",)):
    """Each check's one result on a VM of these roles (a cassandra VM), by check id."""
    return {r.id: r for r in judge(facts, list(roles), os_alternatives=alternatives or {})}


def test_ubuntu_1804_passes(base_facts):
    assert by_id(base_facts)["os"].status == PASS


def test_other_release_warns_and_names_the_profile_that_fits(base_facts):
    facts = with_changes(base_facts, os__version_id="22.04")
    alternatives = {"classic": CLASSIC, "current": CURRENT}
    os_result = by_id(facts, alternatives)["os"]
    assert os_result.status == WARN
    assert "--profile current" in os_result.message


def test_other_release_without_a_fitting_profile_still_warns(base_facts):
    facts = with_changes(base_facts, os__version_id="16.04")
    os_result = by_id(facts, {"classic": CLASSIC})["os"]
    assert os_result.status == WARN
    assert "--profile" not in os_result.message
    assert "no built-in profile has the role cassandra on ubuntu 16.04" in os_result.message
    assert "ubuntu 18.04" in os_result.remedy


def test_a_profile_without_the_vms_role_is_not_suggested(base_facts):
    """wiab (one demo VM) names 24.04 but has no cassandra: it is no answer for this VM."""
    facts = with_changes(base_facts, os__version_id="24.04")
    os_result = by_id(facts, {"classic": CLASSIC, "current": CURRENT, "wiab": WIAB})["os"]
    assert os_result.status == WARN
    assert "--profile wiab" not in os_result.message
    assert "fits" not in os_result.message
    assert "no built-in profile has the role cassandra on ubuntu 24.04" in os_result.message
    assert "wiab has this release, but not the role cassandra" in os_result.message
    # The remedy still says what to do: the release this profile plans for, or an own profile.
    assert "install ubuntu 18.04" in os_result.remedy
    assert "--profile" in os_result.remedy


def test_the_suggested_profile_defines_every_role_of_the_vm(base_facts):
    facts = with_changes(base_facts, os__version_id="22.04")
    alternatives = {"classic": CLASSIC, "current": CURRENT}
    # current has cassandra and minio, so it fits a VM running both...
    both = by_id(facts, alternatives, roles=("cassandra", "minio"))["os"]
    assert "profile current fits this release (--profile current)" in both.message
    # ...but not a restund VM: current plans calling differently.
    restund = by_id(facts, alternatives, roles=("cassandra", "restund"))["os"]
    assert "--profile current" not in restund.message
    assert "no built-in profile has the roles cassandra and restund on ubuntu 22.04" in (
        restund.message
    )
    assert "current has this release, but not the role restund" in restund.message


def test_the_first_fitting_profile_is_named_among_several(base_facts):
    facts = with_changes(base_facts, os__version_id="22.04")
    other = Alternative("ubuntu", ["22.04"], ("cassandra",))
    alternatives = {"classic": CLASSIC, "current": CURRENT, "zz-other": other, "wiab": WIAB}
    assert "--profile current" in by_id(facts, alternatives)["os"].message


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
