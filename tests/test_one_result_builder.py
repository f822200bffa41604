"""One way to make a result: model.result (or a check Context's result, which calls it), by
keyword. A CheckResult(...) built anywhere else can leave out what model.result fills in and
drift from it unnoticed, and one built by position lets `expected` and `message` swap."""

import ast
import os

AGENT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "agent")
MODEL = os.path.join(AGENT, "wire_preflight", "model.py")


def constructions(source, path="<source>"):
    """(line, built by position?) of each CheckResult(...) or CheckResult._make(...) call in
    source (_make takes its fields by position); *args counts as by position, **fields not."""
    found = []
    for node in ast.walk(ast.parse(source, path)):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if name == "CheckResult":
                found.append((node.lineno, bool(node.args)))
            elif (
                name == "_make"
                and isinstance(func, ast.Attribute)
                and getattr(func.value, "id", getattr(func.value, "attr", "")) == "CheckResult"
            ):
                found.append((node.lineno, True))
    return found


def test_only_model_result_constructs_a_check_result_and_by_keyword():
    offenders, seen = [], []
    for folder, _dirs, files in os.walk(AGENT):
        for name in sorted(files):
            path = os.path.join(folder, name)
            if not name.endswith(".py"):
                continue
            seen.append(os.path.relpath(path, AGENT))
            with open(path, encoding="utf-8") as handle:
                calls = constructions(handle.read(), path)
            where = os.path.relpath(path, AGENT)
            # model.result itself builds by keyword, so `expected` and `message` cannot swap.
            offenders += [f"{where}:{n}" for n, positional in calls if path != MODEL or positional]
    assert os.path.join("wire_preflight", "checks", "ip_static.py") in seen, AGENT
    assert offenders == [], "use model.result(...) or context.result(...): " + ", ".join(offenders)


def test_the_walker_sees_every_construction():
    assert constructions('CheckResult("cpu", None, "pass", 1, 2, "ok")') == [(1, True)]
    assert constructions('model.CheckResult("cpu", role=None)') == [(1, True)]
    assert constructions("x = 1\nCheckResult(*fields)") == [(2, True)]
    assert constructions('CheckResult(id="cpu", role=None, status="pass")') == [(1, False)]
    assert constructions("CheckResult(**fields)") == [(1, False)]
    assert constructions("result(check_id='cpu')") == []
    assert constructions("model.CheckResult._make(fields)") == [(1, True)]
    assert constructions("found._replace(status='warn')") == []  # a copy, not a new result


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
