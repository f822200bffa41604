"""Checks of the host's identity: distribution and release, hostname."""

import re
from typing import List, Sequence, Tuple

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
        hint, remedy = _other_profiles(context, os_id, version, observed)
        return [
            context.result(
                WARN,
                observed=observed,
                expected=expected,
                message="profile {} expects {} {}{}".format(
                    profile.name, profile.os_id, " or ".join(profile.os_versions), hint
                ),
                remedy=remedy,
                source=source,
            )
        ]
    return [
        context.result(
            PASS, observed=observed, expected=expected, message="release as planned", source=source
        )
    ]


def _other_profiles(context: Context, os_id: str, version: str, observed: str) -> Tuple[str, str]:
    """(hint, remedy) for a release the profile does not name: the built-in profile that
    names it and defines every one of the VM's roles, or why none does. A profile for
    another kind of installation (wiab: one demo VM) is no answer for a cassandra VM."""
    profile, roles = context.profile, context.needs.roles
    on_release = [
        (name, other)
        for name, other in sorted(context.os_alternatives.items())
        if name != profile.name and other.os_id == os_id and version in other.versions
    ]
    fits = [name for name, other in on_release if all(r in other.roles for r in roles)]
    install = f"{profile.os_id} {profile.os_versions[-1]}"
    if fits:
        return (
            f"; profile {fits[0]} fits this release (--profile {fits[0]})",
            f"use the profile that matches your release, or install {install}",
        )
    hint = f"; no built-in profile has {_roles_words(roles)} on {observed}"
    if on_release:
        lacking = [(name, [r for r in roles if r not in other.roles]) for name, other in on_release]
        hint += " ({})".format(
            "; ".join(f"{name} has this release, but not {_roles_words(r)}" for name, r in lacking)
        )
    remedy = (
        f"install {install}, the release profile {profile.name} plans for, or write a "
        f"profile for {observed} with these roles and pass its path with --profile"
    )
    return hint, remedy


def _roles_words(roles: Sequence[str]) -> str:
    if len(roles) == 1:
        return f"the role {roles[0]}"
    return "the roles {} and {}".format(", ".join(roles[:-1]), roles[-1])


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
