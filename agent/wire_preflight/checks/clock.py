"""Is the clock synchronised? Cassandra and MinIO break when nodes' clocks drift apart."""

from typing import List

from wire_preflight.checks import Context
from wire_preflight.model import PASS, WARN, CheckResult


def check_time_sync(context: Context) -> List[CheckResult]:
    time = context.facts.get("time")
    if time is None:
        return [context.missing("time")]
    severity = context.table().get("severity", "fail")
    daemons = time.get("daemons") or []
    evidence = dict(time)
    via = str(time.get("source"))
    if "daemons" in time:  # listed only when the clock is not synchronised
        via += " ({})".format(", ".join(daemons) or "no NTP daemon running")
    if time.get("synchronized") is True:
        return [
            context.result(
                PASS,
                observed="synchronised",
                expected="synchronised",
                message="synchronised, per " + via,
                evidence=evidence,
            )
        ]
    if time.get("synchronized") is None:
        return [
            context.result(
                WARN,
                observed="unknown",
                expected="synchronised",
                message="cannot tell whether the clock is synchronised: {}".format(
                    time.get("detail")
                ),
                remedy="install chrony (apt-get install chrony) and check `chronyc tracking`",
                evidence=evidence,
            )
        ]
    remedy = (
        "install and start an NTP client: apt-get install chrony (or enable "
        "systemd-timesyncd: timedatectl set-ntp true)"
        if not daemons
        else "{} runs but has not synchronised: check that it reaches its servers".format(
            ", ".join(daemons)
        )
    )
    return [
        context.result(
            severity,
            observed="not synchronised",
            expected="synchronised",
            message="the clock is not synchronised, per " + via,
            remedy=remedy,
            evidence=evidence,
        )
    ]
