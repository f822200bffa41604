"""What trips the installation itself up on a host: apt locked by a background upgrade when
the ansible run starts, and an asset host whose /opt/assets has no room for the next release."""

from typing import Any, Dict, List

from wire_preflight.checks import Context
from wire_preflight.model import ERROR, PASS, SKIP, CheckResult
from wire_preflight.quantities import decimal

DISABLE_UNATTENDED = (
    "during the installation, stop and disable it: systemctl disable --now "
    "unattended-upgrades apt-daily.timer apt-daily-upgrade.timer (or set "
    'APT::Periodic::Unattended-Upgrade "0" in {}); re-enable it afterwards'
)


def check_apt_lock(context: Context) -> List[CheckResult]:
    table = context.table()
    if not table:
        return []
    apt = context.facts.get("apt")
    if apt is None:
        return [context.absent("apt")]
    severity = table.get("severity", "warn")
    setting = apt.get("unattended_upgrades") or {}
    locks = apt.get("locks")
    evidence = {"locks": locks, "unattended_upgrades": setting}
    where = setting.get("file") or "/etc/apt/apt.conf.d/20auto-upgrades"
    enabled = setting.get("enabled") is True
    expected = "locks free, unattended-upgrades off"
    held = [lock for lock in locks or [] if lock.get("held")]
    unreadable = [lock for lock in locks or [] if lock.get("held") is None]
    if held:
        who = "; ".join(
            "{} held by {}".format(
                lock["path"],
                "process {} ({})".format(lock["pid"], lock.get("process") or "?")
                if lock.get("pid")
                else "an open file description lock",
            )
            for lock in held
        )
        return [
            context.result(
                severity,
                observed=who,
                expected=expected,
                message="apt is busy now: an ansible run's apt tasks would fail with "
                "'Could not get lock'",
                remedy="wait for it to finish (watch the process), then run ansible; "
                + (DISABLE_UNATTENDED.format(where) if enabled else "find what runs apt"),
                evidence=evidence,
            )
        ]
    if enabled:
        return [
            context.result(
                severity,
                observed="unattended-upgrades enabled (APT::Periodic::Unattended-Upgrade "
                '"{}" in {})'.format(setting.get("value"), where),
                expected=expected,
                message="apt is free now, but unattended-upgrades can take its lock at any "
                "time during an installation",
                remedy=DISABLE_UNATTENDED.format(where),
                evidence=evidence,
            )
        ]
    if locks is None:
        return [
            context.result(
                SKIP,
                observed="unattended-upgrades off",
                expected=expected,
                message="a captured tree: unattended-upgrades is off in its files; who holds "
                "apt's locks only the live host can tell",
                evidence=evidence,
            )
        ]
    if unreadable:
        return [
            context.result(
                ERROR,
                observed="cannot open {}".format(", ".join(lock["path"] for lock in unreadable)),
                expected=expected,
                message="cannot ask who holds apt's locks: {}".format(
                    unreadable[0].get("error", "unreadable")
                ),
                remedy="run as root",
                evidence=evidence,
            )
        ]
    return [
        context.result(
            PASS,
            observed="free; unattended-upgrades off",
            expected=expected,
            message="apt's locks are free",
            evidence=evidence,
        )
    ]


def check_assets_headroom(context: Context) -> List[CheckResult]:
    disks = context.facts.get("disks")
    assets = context.facts.get("assets")
    results = []
    for role, _component, rule in context.rules():
        if disks is None:
            results.append(context.absent("disks", role))
            continue
        if assets is None:
            results.append(context.absent("assets", role))
            continue
        results.append(_judge_headroom(context, role, rule, disks, assets))
    return results


def _judge_headroom(
    context: Context,
    role: str,
    rule: Dict[str, Any],
    disks: List[Dict[str, Any]],
    assets: Dict[str, Any],
) -> CheckResult:
    path = rule.get("path", "/opt/assets")
    releases = rule.get("releases", 1)
    floor = rule.get("min_free_gb", 0) * context.profile.units["bytes_per_gb"]
    entry = next((d for d in disks if d.get("path") == path), None)
    evidence = {"assets": assets, "filesystem": entry, "releases": releases}
    if entry is None:
        return context.result(
            ERROR,
            observed=None,
            expected=None,
            message=f"the facts hold no filesystem for {path}",
            remedy=f"run the check for this role (its data directory is {path})",
            role=role,
        )
    free = entry["free_bytes"]
    used = assets.get("bytes") or 0
    if not assets.get("exists") or not used:
        return context.result(
            SKIP,
            observed=f"{path} empty or absent, {decimal(free)} free",
            expected="room for the next release",
            message="no release unpacked yet: the first one's room is the disk check's",
            role=role,
            evidence=evidence,
        )
    need = max(int(used * releases), int(floor))
    evidence["need_bytes"] = need
    observed = "{} free on {}, {} holds {}{}".format(
        decimal(free),
        entry.get("mountpoint") or "its filesystem",
        path,
        decimal(used),
        "" if assets.get("complete", True) else " or more (walk stopped early)",
    )
    expected = "free >= {} (what {} holds now{})".format(
        decimal(need), path, f" x {releases:g}" if releases != 1 else ""
    )
    if free >= need:
        return context.result(
            PASS,
            observed=observed,
            expected=expected,
            message="room for another release's assets",
            role=role,
            evidence=evidence,
        )
    return context.result(
        rule.get("severity", "warn"),
        observed=observed,
        expected=expected,
        message="the next upgrade's setup-offline-sources would run out of space on the "
        "asset host ('no space left on device')",
        remedy=f"before the upgrade, on the asset host: sudo rm -rvf {path}, then re-run "
        "setup-offline-sources from the admin host; or grow the disk",
        role=role,
        evidence=evidence,
    )
