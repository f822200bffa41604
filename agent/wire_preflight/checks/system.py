"""Checks of the host's identity: distribution and release, hostname."""

import re
from typing import List

from wire_preflight.checks import Context
from wire_preflight.model import FAIL, PASS, WARN, CheckResult

# RFC 1123 label, lowercase only: what kubeadm accepts as a node name.
_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def check_os(context: Context) -> List[CheckResult]:
    os_facts = context.facts.get("os")
    if not os_facts:
        return [context.missing("os")]
    profile = context.profile
    os_id, version = os_facts.get("id", ""), os_facts.get("version_id", "")
    observed = f"{os_id} {version}".strip()
    expected = "{} {}".format(profile.os_id, " or ".join(profile.os_versions))
    source = profile.os_source
    if os_id != profile.os_id:
        return [
            context.result(
                FAIL,
                observed=observed,
                expected=expected,
                message=f"the plan needs {profile.os_id}, this is {observed}",
                remedy=f"reinstall the VM with {profile.os_id} {profile.os_versions[-1]}",
                source=source,
            )
        ]
    if version not in profile.os_versions:
        fits = [
            name
            for name, (other_id, versions) in sorted(context.os_alternatives.items())
            if other_id == os_id and version in versions and name != profile.name
        ]
        hint = f"; profile {fits[0]} fits this release (--profile {fits[0]})" if fits else ""
        return [
            context.result(
                WARN,
                observed=observed,
                expected=expected,
                message="profile {} expects {} {}{}".format(
                    profile.name, profile.os_id, " or ".join(profile.os_versions), hint
                ),
                remedy="use the profile that matches your release, or install "
                f"{profile.os_id} {profile.os_versions[-1]}",
                source=source,
            )
        ]
    return [
        context.result(
            PASS, observed=observed, expected=expected, message="release as planned", source=source
        )
    ]


def check_hostname(context: Context) -> List[CheckResult]:
    name = context.facts.get("hostname")
    if not name:
        return [context.missing("hostname")]
    source = "kubeadm preflight; RFC 1123"
    expected = "lowercase RFC 1123 name"
    problem = hostname_problem(name)
    if problem:
        fixed = suggest_hostname(name)
        return [
            context.result(
                context.profile.hostname_severity,
                observed=name,
                expected=expected,
                message=f"hostname {problem}",
                remedy=f"hostnamectl set-hostname {fixed}",
                source=source,
            )
        ]
    return [
        context.result(
            PASS, observed=name, expected=expected, message="valid node name", source=source
        )
    ]


def hostname_problem(name: str) -> str:
    if len(name) > 253:
        return "is longer than 253 characters"
    if name != name.lower():
        return "has uppercase letters (Kubernetes node names must be lowercase)"
    for label in name.split("."):
        if not _LABEL.match(label):
            return (
                f"label {label!r} is not 1-63 characters of a-z, 0-9 and '-' "
                "starting and ending with a letter or digit"
            )
    return ""


def suggest_hostname(name: str) -> str:
    labels = []
    for label in name.lower().split("."):
        label = re.sub(r"[^a-z0-9-]+", "-", label).strip("-")[:63].strip("-")
        if label:
            labels.append(label)
    return ".".join(labels) or "node1"
