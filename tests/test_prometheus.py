"""The Prometheus alerting rules (packaging/prometheus/): promtool checks them and runs their
unit tests; the metric names they use are the ones a real collector serves; a real Prometheus
loads them and evaluates them against a real collector; the store-error counter counts a full
disk."""

import os
import re
import shutil
import subprocess
import time

import pytest

pytest.importorskip("fastapi", reason="the collector needs Python >= 3.10 and its extras")
import requests
import yaml
from collectorlib import VIEWER, Collector, free_port
from helpers import fill, make_report, small_disk
from wire_preflight.model import STATUSES

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RULES_DIR = os.path.join(ROOT, "packaging", "prometheus")
RULES = os.path.join(RULES_DIR, "wire-preflight-rules.yml")
RULE_TESTS = os.path.join(RULES_DIR, "wire-preflight-rules.test.yml")


def tool(name):
    found = shutil.which(name)
    if not found:
        pytest.skip(
            f"!!! {name} is not installed: the alerting rules are NOT checked "
            "(Debian's prometheus package; .ci/run installs it)"
        )
    return found


def promtool(*args, cwd=RULES_DIR, stdin=None):
    return subprocess.run(
        [tool("promtool"), *args],
        cwd=cwd,
        input=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        universal_newlines=True,
        timeout=120,
    )


def rules():
    with open(RULES) as handle:
        return [rule for group in yaml.safe_load(handle)["groups"] for rule in group["rules"]]


def test_rules_pass_promtool_check():
    done = promtool("check", "rules", RULES)
    assert done.returncode == 0, done.stdout
    assert f"SUCCESS: {len(rules())} rules found" in done.stdout


def test_rules_unit_tests_pass_and_cover_every_alert():
    done = promtool("test", "rules", RULE_TESTS)
    assert done.returncode == 0, done.stdout
    with open(RULE_TESTS) as handle:
        tests = yaml.safe_load(handle)["tests"]
    cases = [case for test in tests for case in test["alert_rule_test"]]
    for rule in rules():
        mine = [case for case in cases if case["alertname"] == rule["alert"]]
        assert any(case.get("exp_alerts") for case in mine), f"{rule['alert']} never fires"
        assert any(not case.get("exp_alerts") for case in mine), f"{rule['alert']} always fires"


@pytest.mark.parametrize(
    "change",
    [
        ("for: 24h", "for: 1h"),
        ("increase(wire_preflight_store_errors_total[10m]) > 0", "vector(1)"),
    ],
)
def test_rules_unit_tests_catch_a_changed_rule(tmp_path, change):
    # The unit tests must fail on a rule that fires too early or always.
    with open(RULES) as handle:
        text = handle.read()
    assert change[0] in text
    (tmp_path / "wire-preflight-rules.yml").write_text(text.replace(change[0], change[1]))
    shutil.copy(RULE_TESTS, tmp_path)
    done = promtool("test", "rules", "wire-preflight-rules.test.yml", cwd=str(tmp_path))
    assert done.returncode != 0, done.stdout


def scrape(server):
    response = server.get("/metrics", token=VIEWER)
    assert response.status_code == 200, response.text
    return response.text


TARGET_LABELS = {"instance", "job"}  # what Prometheus adds to every scraped series


def label_problems(rules, served):
    """Each label a rule selects on or names in its annotations ($labels.X) that none of the
    metrics in its expression has; a `status` it matches that is no status the agent gives.
    served: metric name -> its label names."""
    problems = []
    for rule in rules:
        names = re.findall(r"wire_preflight_\w+", rule["expr"])
        known = TARGET_LABELS.union(*(served.get(name, set()) for name in names))
        texts = [rule["expr"], *rule.get("annotations", {}).values()]
        for label in sorted(
            set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)\s*\"", rule["expr"]))
            | {m for text in texts for m in re.findall(r"\$labels\.(\w+)", text)}
        ):
            if label not in known:
                problems.append(f"{rule['alert']}: no label {label} on {names or 'up'}")
        for values in re.findall(r"\bstatus\s*=~?\s*\"([^\"]*)\"", rule["expr"]):
            for value in set(values.split("|")) - set(STATUSES):
                problems.append(f"{rule['alert']}: no status {value}")
    return problems


def served_labels(text):
    from prometheus_client.parser import text_string_to_metric_families

    served = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            served.setdefault(sample.name, set()).update(sample.labels)
    return served


def test_rules_use_the_metrics_a_real_collector_serves(tmp_path, base_facts):
    server = Collector(tmp_path).start()
    try:
        server.post(make_report(base_facts, "cassandra1", ["cassandra"], "s1", failing=["memory"]))
        text = scrape(server)
    finally:
        server.stop()
    served = set(re.findall(r"^(wire_preflight_\w+?)(?:\{| )", text, re.M))
    used = {name for rule in rules() for name in re.findall(r"wire_preflight_\w+", rule["expr"])}
    assert used and used <= served, used - served
    assert label_problems(rules(), served_labels(text)) == []
    # The label check itself sees a misnamed label and a status no check has.
    with open(RULES) as handle:
        text_rules = handle.read()
    for change in (("$labels.hostname", "$labels.host"), ('"fail|error"', '"fail|failed"')):
        assert change[0] in text_rules
        changed = yaml.safe_load(text_rules.replace(change[0], change[1]))
        changed_rules = [rule for group in changed["groups"] for rule in group["rules"]]
        assert label_problems(changed_rules, served_labels(text)), change
    checked = promtool("check", "metrics", stdin=text)
    assert checked.returncode == 0 and not checked.stdout.strip(), checked.stdout


def test_store_errors_count_a_full_disk(tmp_path, base_facts):
    with small_disk(tmp_path, "2m") as disk:
        server = Collector(tmp_path, db=str(disk / "collector.db")).start()
        try:
            assert server.post(make_report(base_facts, "h0", ["cassandra"])).status_code < 300
            assert "wire_preflight_store_errors_total 0.0" in scrape(server)
            fill(disk)  # what is left of it: the next report cannot be written
            refused = sum(
                server.post(make_report(base_facts, f"h{n}", ["cassandra"])).status_code == 503
                for n in range(1, 4)
            )
            assert refused, "the full disk took a report"
            count = re.search(r"^wire_preflight_store_errors_total (\S+)$", scrape(server), re.M)
            assert count and float(count.group(1)) >= refused, scrape(server)
        finally:
            server.stop()


def test_a_real_prometheus_evaluates_the_rules_against_a_real_collector(tmp_path, base_facts):
    prometheus = tool("prometheus")
    server = Collector(tmp_path).start()
    port = free_port()
    proc = None
    try:
        server.post(make_report(base_facts, "cassandra1", ["cassandra"], "s1", failing=["memory"]))
        viewer = tmp_path / "viewer"
        viewer.write_text(VIEWER)
        config = tmp_path / "prometheus.yml"
        config.write_text(
            yaml.safe_dump(
                {
                    "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                    "rule_files": [RULES],
                    "scrape_configs": [
                        {
                            "job_name": "wire-preflight",
                            "authorization": {"credentials_file": str(viewer)},
                            "static_configs": [{"targets": [f"127.0.0.1:{server.port}"]}],
                        }
                    ],
                }
            )
        )
        log = open(tmp_path / "prometheus.log", "wb")  # noqa: SIM115 - lives with the process
        proc = subprocess.Popen(
            [
                prometheus,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=log,
        )
        api = f"http://127.0.0.1:{port}/api/v1"
        deadline = time.time() + 90
        groups, up = [], []
        while time.time() < deadline:
            assert proc.poll() is None, (tmp_path / "prometheus.log").read_text()[-3000:]
            try:
                groups = requests.get(f"{api}/rules", timeout=5).json()["data"]["groups"]
                up = requests.get(
                    f"{api}/query",
                    params={"query": 'up{job="wire-preflight"} == 1'},
                    timeout=5,
                ).json()["data"]["result"]
            except (requests.RequestException, ValueError, KeyError):
                time.sleep(0.5)
                continue
            loaded = {r["name"]: r for g in groups for r in g["rules"]}
            firing = (loaded.get("WirePreflightCheckFailing") or {}).get("alerts")
            if up and firing and all(r["health"] == "ok" for r in loaded.values()):
                break
            time.sleep(0.5)
        loaded = {r["name"]: r for g in groups for r in g["rules"]}
        assert set(loaded) == {r["alert"] for r in rules()}, loaded.keys()
        assert all(r["health"] == "ok" for r in loaded.values()), loaded
        assert up, "Prometheus never scraped the collector with the viewer token"
        # The failing check is pending (for: 15m) on the real series.
        pending = loaded["WirePreflightCheckFailing"]["alerts"]
        assert [a["labels"]["check"] for a in pending] == ["memory"], pending
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
        server.stop()
