"""ip-drift: the primary address is the one the agent saw on its last run (a DHCP lease that
moved a node shows here first)."""

from typing import List

from wire_preflight.checks import Context
from wire_preflight.checks.address import STATIC_SOURCE
from wire_preflight.model import ERROR, FAIL, PASS, WARN, CheckResult


def target_problem(context: Context) -> str:
    network = context.facts.get("network")
    if context.facts.get("root"):
        return "a captured tree has no live kernel to ask"
    if network is None:
        return (context.facts.get("errors") or {}).get("network", "no network facts")
    return "no default route"


def check_ip_drift(context: Context) -> List[CheckResult]:
    source = STATIC_SOURCE
    primary = ((context.facts.get("network") or {}).get("primary")) or {}
    now = primary.get("address")
    previous = context.previous
    if context.state_error:
        return [
            context.result(
                WARN,
                observed=now,
                expected="unchanged since the last run",
                message=f"cannot remember addresses: {context.state_error}",
                remedy="give --state-dir a writable directory",
                source=source,
            )
        ]
    if now is None:
        before = ((previous or {}).get("primary") or {}).get("address")
        why = target_problem(context)
        kept = (
            "still remembering {} from {}".format(before, previous.get("seen_at"))
            if before and previous
            else "nothing remembered"
        )
        return [
            context.result(
                WARN,
                observed=None,
                expected="unchanged since the last run",
                message=f"cannot see the primary address this run ({why}); {kept}",
                remedy="run it where the default route and `ip` are available",
                source=source,
            )
        ]
    if previous is None:
        return [
            context.result(
                PASS,
                observed=now,
                expected="unchanged since the last run",
                message=f"first run: remembering {now}",
                source=source,
            )
        ]
    if "error" in previous:
        return [
            context.result(
                ERROR,
                observed=now,
                expected="unchanged since the last run",
                message="the last run's state is unreadable: {}; starting anew".format(
                    previous["error"]
                ),
                source=source,
            )
        ]
    before = (previous.get("primary") or {}).get("address")
    if before is None:
        # An earlier agent remembered a run that saw no address; that was no address change.
        return [
            context.result(
                PASS,
                observed=now,
                expected="unchanged since the last run",
                message="remembering {} (the run of {} saw no primary address)".format(
                    now, previous.get("seen_at")
                ),
                source=source,
            )
        ]
    evidence = {
        "before": previous.get("primary"),
        "after": primary or None,
        "before_seen_at": previous.get("seen_at"),
        "state_file": previous.get("file"),
    }
    if before != now:
        return [
            context.result(
                FAIL,
                observed=now,
                expected=before,
                message="the primary address changed from {} to {} since {}".format(
                    before, now, previous.get("seen_at")
                ),
                remedy="give the VM a static address (see ip-static) and update the "
                f"inventory and every peer that uses {before}",
                source=source,
                evidence=evidence,
            )
        ]
    return [
        context.result(
            PASS,
            observed=now,
            expected=before,
            message="unchanged since {}".format(previous.get("seen_at")),
            source=source,
            evidence=evidence,
        )
    ]
