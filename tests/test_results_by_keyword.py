"""Results are built by keyword: a positional CheckResult(...) lets `expected` and `message`
swap unnoticed. Checks with a Context use context.result(...) / context.missing(...); the
others (dns, tls, reach) name every field."""

import ast
import os

AGENT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "agent")


def _agent_sources():
    for folder, _dirs, files in os.walk(AGENT):
        for name in sorted(files):
            if name.endswith(".py"):
                yield os.path.join(folder, name)


def _called_name(call):
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def positional_calls(source, path="<source>"):
    """The line of each CheckResult(...) call in source that passes an argument by position
    (or by *args)."""
    found = []
    for node in ast.walk(ast.parse(source, path)):
        if isinstance(node, ast.Call) and _called_name(node) == "CheckResult" and node.args:
            found.append(node.lineno)
    return found


def test_the_agent_has_no_positional_check_result():
    sources = list(_agent_sources())
    assert any(p.endswith(os.path.join("checks", "network.py")) for p in sources), AGENT
    offenders = []
    for path in sources:
        with open(path, encoding="utf-8") as handle:
            lines = positional_calls(handle.read(), path)
        offenders += [f"{os.path.relpath(path, AGENT)}:{n}" for n in lines]
    assert offenders == [], "build results by keyword (context.result(...)): " + ", ".join(
        offenders
    )


def test_the_walker_sees_positional_calls():
    assert positional_calls('CheckResult("cpu", None, "pass", 1, 2, "ok")') == [1]
    assert positional_calls('model.CheckResult("cpu", role=None, status="pass")') == [1]
    assert positional_calls("CheckResult(*fields)") == [1]
    assert positional_calls('CheckResult(id="cpu", role=None, status="pass")') == []
    assert positional_calls("CheckResult(**fields)") == []


def test_checks_no_longer_export_the_old_helpers():
    from wire_preflight import checks

    assert not hasattr(checks, "missing_fact")
