"""One way to make a result: model.result (or a check Context's result, which calls it). A
CheckResult(...) built anywhere else can leave out what model.result fills in and drifts
from it unnoticed (#13)."""

import ast
import os

AGENT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "agent")
MODEL = os.path.join(AGENT, "wire_preflight", "model.py")


def _constructed(path):
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if name == "CheckResult":
                yield node.lineno


def test_only_model_result_constructs_a_check_result():
    offenders = []
    for folder, _dirs, files in os.walk(AGENT):
        for name in sorted(files):
            path = os.path.join(folder, name)
            if name.endswith(".py") and path != MODEL:
                offenders += [f"{os.path.relpath(path, AGENT)}:{n}" for n in _constructed(path)]
    assert offenders == [], "use model.result(...) or context.result(...): " + ", ".join(offenders)


def test_reach_results_are_model_results():
    from wire_preflight.checks import reach

    probe = {
        "to_role": "cassandra",
        "from_role": "kubernetes",
        "peer": "cassandra1",
        "address": "10.0.0.5",
        "proto": "tcp",
        "port": 9042,
        "state": "filtered",
        "detail": "no answer in 2 s",
    }
    (found,) = reach.judge([probe], "kube1", "10.0.0.1")
    assert found.id == "reach" and found.role == "kubernetes"
    assert found.expected == "open or refused" and found.source == reach.SOURCE
    assert found.evidence["port"] == 9042 and found.status == "fail"
    assert found.message == "kube1 -> cassandra1 10.0.0.5:9042/tcp: filtered (no answer in 2 s)"
    assert "allow tcp from 10.0.0.1 to 10.0.0.5 port 9042" in found.remedy
