"""Is the clock synchronised? Cassandra and MinIO break when nodes' clocks drift apart."""

from typing import List

from wire_preflight.checks import Context, missing_fact, roles_label
from wire_preflight.model import PASS, WARN, CheckResult


def check_time_sync(context: Context) -> List[CheckResult]:
    role = roles_label(context.needs.roles)
    time = context.facts.get("time")
    if time is None:
        return [missing_fact(context, "time-sync", "time", role)]
    severity = context.profile.host.get("time-sync", {}).get("severity", "fail")
    source = context.source("time-sync")
    daemons = time.get("daemons") or []
    evidence = dict(time)
    via = str(time.get("source"))
    if "daemons" in time:  # listed only when the clock is not synchronised
        via += " ({})".format(", ".join(daemons) or "no NTP daemon running")
    if time.get("synchronized") is True:
        return [
            CheckResult(
                "time-sync",
                role,
                PASS,
                "synchronised",
                "synchronised",
                "synchronised, per " + via,
                "",
                source,
                evidence,
            )
        ]
    if time.get("synchronized") is None:
        return [
            CheckResult(
                "time-sync",
                role,
                WARN,
                "unknown",
                "synchronised",
                "cannot tell whether the clock is synchronised: {}".format(time.get("detail")),
                "install chrony (apt-get install chrony) and check `chronyc tracking`",
                source,
                evidence,
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
        CheckResult(
            "time-sync",
            role,
            severity,
            "not synchronised",
            "synchronised",
            "the clock is not synchronised, per " + via,
            remedy,
            source,
            evidence,
        )
    ]
