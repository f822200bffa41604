"""calico-modules: Calico's kernel dependencies on the Kubernetes nodes, judged from what the
kernel says (/proc/modules, modules.builtin, modules.dep and the .ko files), on captured trees
of each case and through the real CLI."""

import gzip
import json
import os
import shutil

import pytest
from helpers import DELETE, fixture_path, judge, one, with_changes
from wire_preflight import profiles
from wire_preflight.checks.kernel import module_state, requirement_state
from wire_preflight.facts import modules
from wire_preflight.model import ERROR, FAIL, PASS, SKIP, WARN

CASES = {
    # case: (the check's status, how xt_set is there)
    "loaded": (PASS, "loaded"),
    "builtin": (PASS, "built in"),
    "loadable": (PASS, "loadable"),
    "missing": (FAIL, "missing"),
    "unreadable": (ERROR, "unknown"),
}


def tree(case):
    return fixture_path("kernel-modules", case)


def copy_tree(case, tmp_path):
    target = tmp_path / case
    shutil.copytree(tree(case), str(target))
    return target


def calico_result(run_cli, root, profile="classic", role="kubernetes"):
    code, out, err = run_cli(
        "check", "--profile", profile, "--role", role, "--root", str(root), "--json"
    )
    assert code in (0, 3, 4), err
    found = [c for c in json.loads(out)["checks"] if c["id"] == "calico-modules"]
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_case_through_the_cli(run_cli, case):
    status, xt_set = CASES[case]
    result = calico_result(run_cli, tree(case))
    assert result["status"] == status, result
    assert result["evidence"]["modules"]["xt_set"]["state"] == xt_set


def test_a_loadable_module_passes_and_says_so(run_cli):
    result = calico_result(run_cli, tree("loadable"))
    assert result["status"] == PASS
    assert result["observed"] == "15 loadable"
    # The .ko.zst of Ubuntu 24.04 is found where modules.dep puts it.
    facts = modules.collect(["xt_set"], tree("loadable"))
    assert facts["modules"]["xt_set"]["file"] == (
        "/lib/modules/6.8.0-45-generic/kernel/net/netfilter/xt_set.ko.zst"
    )


def test_a_missing_module_fails_naming_it_and_the_package(run_cli):
    result = calico_result(run_cli, tree("missing"))
    assert result["status"] == FAIL
    assert "no xt_set, ipt_rpfilter, ip_set in kernel 5.15.0-91-generic" in result["message"]
    assert "linux-modules-extra-5.15.0-91-generic" in result["remedy"]
    # the recommended tunnel is named among what is missing, but is not what fails
    assert result["observed"].endswith("missing: xt_set, ipt_rpfilter, ip_set, vxlan|ipip")


def test_a_capture_without_lib_modules_cannot_tell(run_cli):
    result = calico_result(run_cli, tree("unreadable"))
    assert result["status"] == ERROR
    assert "/lib/modules/5.15.0-91-generic/modules.dep" in result["message"]
    # what it could read stands: nothing of Calico's is loaded, but that alone proves nothing
    assert result["evidence"]["modules"]["ip_set"]["state"] == "unknown"


def test_modules_dep_that_is_not_a_file_is_an_error_not_a_miss(tmp_path, run_cli):
    root = copy_tree("missing", tmp_path)
    dep = root / "lib/modules/5.15.0-91-generic/modules.dep"
    dep.unlink()
    dep.mkdir()
    result = calico_result(run_cli, root)
    assert result["status"] == ERROR, result
    assert "modules.dep" in result["message"]


def test_loaded_but_not_in_lib_modules_still_counts(tmp_path, run_cli):
    """A module in /proc/modules is in the kernel, whatever /lib/modules says now (a kernel
    package removed under the running kernel)."""
    root = copy_tree("loaded", tmp_path)
    shutil.rmtree(str(root / "lib"))
    result = calico_result(run_cli, root)
    assert result["status"] == PASS, result


def test_only_the_recommended_tunnel_missing_warns(tmp_path, run_cli):
    root = copy_tree("loadable", tmp_path)
    base = root / "lib/modules/6.8.0-45-generic"
    dep = base / "modules.dep"
    lines = dep.read_text().splitlines()
    dep.write_text("".join(x + "\n" for x in lines if "vxlan" not in x and "/ipip." not in x))
    result = calico_result(run_cli, root)
    assert result["status"] == WARN, result
    assert "vxlan|ipip" in result["message"]


def test_nft_alone_satisfies_the_iptables_base(tmp_path, run_cli):
    root = copy_tree("loaded", tmp_path)
    proc = root / "proc/modules"
    kept = [x for x in proc.read_text().splitlines() if not x.startswith("ip_tables ")]
    proc.write_text("\n".join([*kept, "nf_tables 303104 0 - Live 0xffffffffc0b00000"]) + "\n")
    dep = root / "lib/modules/5.15.0-91-generic/modules.dep"
    dep.write_text("".join(x + "\n" for x in dep.read_text().splitlines() if "ip_tables" not in x))
    result = calico_result(run_cli, root)
    assert result["status"] == PASS, result
    assert result["evidence"]["modules"]["ip_tables|nf_tables"] == {
        "state": "loaded",
        "module": "nf_tables",
    }


def test_a_listed_module_whose_file_is_gone_is_missing(tmp_path):
    root = copy_tree("loadable", tmp_path)
    (root / "lib/modules/6.8.0-45-generic/kernel/net/netfilter/xt_set.ko.zst").unlink()
    found = modules.collect(["xt_set"], str(root))["modules"]["xt_set"]
    assert found == {"loaded": False, "builtin": False, "file": None, "loadable": False}
    assert module_state(found) == "missing"


def test_a_release_that_would_climb_out_is_refused(tmp_path):
    root = copy_tree("loadable", tmp_path)
    (root / "proc/sys/kernel/osrelease").write_text("../../etc\n")
    facts = modules.collect(["xt_set"], str(root))
    assert facts["release"] is None
    assert module_state(facts["modules"]["xt_set"]) == "unknown"
    assert "kernel release is not known" in facts["errors"]["loadable"]


@pytest.mark.parametrize(
    "line,name",
    [
        ("kernel/net/netfilter/xt_set.ko", "xt_set"),
        ("kernel/net/netfilter/xt_set.ko.zst: kernel/net/netfilter/ipset/ip_set.ko.zst", "xt_set"),
        ("kernel/net/ipv4/netfilter/ipt_REJECT.ko.xz:", "ipt_REJECT"),
        ("kernel/drivers/net/dummy-module.ko.gz:", "dummy_module"),
    ],
)
def test_module_names_from_kmod_files(line, name):
    assert list(modules.parse_modules_dep(line + "\n")) == [name]


def test_modules_dep_entries_that_climb_out_are_ignored():
    assert modules.parse_modules_dep("../../../etc/passwd.ko:\nkernel/a/b.ko:\n") == {
        "b": "kernel/a/b.ko"
    }


def test_alternatives_take_the_best_and_unknown_never_means_missing():
    facts = {
        "a": {"loaded": False, "builtin": None, "loadable": False},
        "b": {"loaded": False, "builtin": False, "loadable": True},
    }
    assert requirement_state("a|b", facts) == ("loadable", "b")
    assert requirement_state("a", facts) == ("unknown", "a")
    assert requirement_state("c", facts) == ("unknown", "c")


def test_facts_from_an_older_agent_skip_the_check(base_facts):
    assert one(judge(base_facts, ["kubernetes"]), "calico-modules").status == PASS
    older = with_changes(base_facts, kernel_modules=DELETE)
    assert one(judge(older, ["kubernetes"]), "calico-modules").status == SKIP
    # facts saved for a profile that asked for other modules: not known, never missing
    other = with_changes(base_facts, kernel_modules__modules={})
    result = one(judge(other, ["kubernetes"]), "calico-modules")
    assert result.status == ERROR
    assert "collected for another profile" in result.message


def test_only_the_kubernetes_roles_are_judged(run_cli):
    _, out, _ = run_cli("check", "--role", "cassandra", "--root", tree("missing"), "--json")
    assert not [c for c in json.loads(out)["checks"] if c["id"] == "calico-modules"]
    staging = calico_result(run_cli, tree("missing"), profile="wiab-staging")
    assert staging["status"] == FAIL
    current = calico_result(run_cli, tree("loaded"), profile="current", role="calling-kubernetes")
    assert current["status"] == PASS


def test_every_profile_with_kubernetes_asks_for_the_modules():
    for name in ("classic", "current", "wiab-staging"):
        assert "xt_set" in profiles.host_modules(profiles.load(name)), name


@pytest.mark.parametrize(
    "old,new,message",
    [
        ('"xt_set", "ipt_rpfilter"', '"xt set", "ipt_rpfilter"', "required[1]' must be a module"),
        ('["vxlan|ipip"]', '["vxlan||ipip"]', "recommended[0]' must be a module name"),
        ('["vxlan|ipip"]', '"vxlan"', "recommended' must be a list"),
        ("required = [\n", "requird = [\n", "requird' is not a known key"),
    ],
)
def test_a_bad_module_rule_is_a_one_line_error(tmp_path, run_cli, old, new, message):
    with open(profiles.resolve("classic")) as handle:
        classic = handle.read()
    with open(os.path.join(profiles.BUILTIN_DIR, "host", "components.toml")) as handle:
        host = handle.read()
    assert old in host
    (tmp_path / "mine.toml").write_text(host.replace(old, new, 1))
    profile = tmp_path / "p.toml"
    profile.write_text('host_requirements = "mine.toml"\n' + classic)
    code, out, err = run_cli("check", "--profile", str(profile), "--role", "kubernetes")
    assert code == 2, (out, err)
    assert "calico-modules.kubernetes." in err and message in err, err
    assert len(err.strip().splitlines()) == 1


CONFIG = "\n".join(
    [
        "# Automatically generated file; DO NOT EDIT.",
        "CONFIG_MODULES=y",
        *(f"{s}=y" for s in sorted(set(modules.KCONFIG.values())) if s != "CONFIG_NET_IPIP"),
        "# CONFIG_NET_IPIP is not set",
        "CONFIG_NETFILTER_XT_SET=m",
        "",
    ]
)


def test_the_kernel_configuration_answers_what_modules_builtin_cannot(tmp_path, run_cli):
    """A capture without /lib/modules but with /boot/config-RELEASE: `=y` is built in; `=m`
    says only that a module was built, not that its file is there."""
    root = copy_tree("unreadable", tmp_path)
    boot = root / "boot"
    boot.mkdir()
    (boot / "config-5.15.0-91-generic").write_text(CONFIG)
    facts = modules.collect(["xt_set", "ip_set", "ipip"], str(root))
    assert facts["config_file"] == "/boot/config-5.15.0-91-generic"
    assert module_state(facts["modules"]["ip_set"]) == "built in"
    assert module_state(facts["modules"]["xt_set"]) == "unknown"  # =m: loadable not known
    result = calico_result(run_cli, root)
    assert result["status"] == ERROR and "xt_set" in result["message"], result
    assert "ip_set" not in result["message"].partition(":")[0]


def test_proc_config_gz_is_read_and_bounded(tmp_path):
    root = copy_tree("unreadable", tmp_path)
    (root / "proc/config.gz").write_bytes(gzip.compress(CONFIG.replace("=m", "=y").encode()))
    facts = modules.collect(["xt_set", "ipip"], str(root))
    assert facts["config_file"] == "/proc/config.gz"
    assert module_state(facts["modules"]["xt_set"]) == "built in"
    assert facts["modules"]["ipip"]["builtin"] is False  # "is not set"
    # A .gz that unpacks past any real configuration is refused, not inflated.
    (root / "proc/config.gz").write_bytes(gzip.compress(b"#" * (8 * 1024 * 1024)))
    facts = modules.collect(["xt_set"], str(root))
    assert "unpacked" in facts["errors"]["config"]
    assert module_state(facts["modules"]["xt_set"]) == "unknown"
    (root / "proc/config.gz").write_bytes(b"not gzip")
    facts = modules.collect(["xt_set"], str(root))
    assert "not gzip data" in facts["errors"]["config"]
