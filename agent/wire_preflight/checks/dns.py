"""Does the domain have every record a Wire installation needs, pointing where it should?

ids: `dns` (a required name: missing or pointing elsewhere), `dns-private` (a name that
resolves only to private addresses), `dns-optional` (teams, sftd, federator), `dns-srv` (the
federator SRV record, with --federation).
"""

import ipaddress
from typing import Any, Dict, List, Optional

from wire_preflight import model
from wire_preflight.model import ERROR, FAIL, PASS, SKIP, WARN, CheckResult


def judge(
    resolution: Dict[str, Any], profile_dns: Dict[str, Any], expect: Optional[str], federation: bool
) -> List[CheckResult]:
    domain = resolution["domain"]
    source = profile_dns.get("source", "")
    required = list(profile_dns["required"]) + (["federator"] if federation else [])
    results = []
    for name, record in resolution["records"].items():
        fqdn = f"{name}.{domain}"
        if name in required:
            results += _required(fqdn, record, expect, source)
        else:
            purpose = profile_dns["optional"].get(name, "an optional feature")
            results.append(_optional(fqdn, record, purpose, expect, source))
    if federation:
        results.append(_srv(resolution.get("srv") or {}, domain, source))
    return results


def _create(fqdn: str, expect: Optional[str]) -> str:
    return "create {}. IN A {}".format(fqdn, expect or "<the address of your ingress>")


def _required(
    fqdn: str, record: Dict[str, Any], expect: Optional[str], source: str
) -> List[CheckResult]:
    addresses = record.get("addresses") or []
    observed = ", ".join(addresses) or record.get("error")
    if record.get("cname"):
        observed = "{} (via CNAME {})".format(observed, record["cname"])
    expected = expect or "an address"
    if not addresses:
        # A name the resolver says is absent fails; one it could not be asked about is an error.
        status = FAIL if record.get("answered", True) else ERROR
        return [
            result(
                "dns",
                fqdn,
                status,
                observed=observed,
                expected=expected,
                message="{}: {}".format(fqdn, record.get("error")),
                remedy=_create(fqdn, expect),
                source=source,
            )
        ]
    if expect and expect not in addresses:
        return [
            result(
                "dns",
                fqdn,
                FAIL,
                observed=observed,
                expected=expected,
                message="{} points to {}, not to {}".format(fqdn, ", ".join(addresses), expect),
                remedy=f"change the record: {fqdn}. IN A {expect}",
                source=source,
            )
        ]
    results = [
        result(
            "dns",
            fqdn,
            PASS,
            observed=observed,
            expected=expected,
            message=f"{fqdn} resolves",
            source=source,
        )
    ]
    if all(_private(a) for a in addresses):
        results.append(
            result(
                "dns-private",
                fqdn,
                WARN,
                observed=observed,
                expected="a public address",
                message=f"{fqdn} resolves only to private addresses: clients outside this "
                "network cannot reach it",
                remedy="publish the ingress's public address, or --ignore dns-private for an "
                "installation used only inside this network",
                source=source,
            )
        )
    return results


def _optional(
    fqdn: str, record: Dict[str, Any], purpose: str, expect: Optional[str], source: str
) -> CheckResult:
    addresses = record.get("addresses") or []
    if not addresses:
        return result(
            "dns-optional",
            fqdn,
            SKIP,
            observed=record.get("error"),
            expected="an address",
            message=f"{fqdn} does not resolve; only {purpose} needs it",
            remedy=_create(fqdn, expect) + " if you use " + purpose,
            source=source,
        )
    if expect and expect not in addresses:
        return result(
            "dns-optional",
            fqdn,
            WARN,
            observed=", ".join(addresses),
            expected=expect,
            message="{} points to {}, not to {}".format(fqdn, ", ".join(addresses), expect),
            remedy=f"change the record: {fqdn}. IN A {expect}",
            source=source,
        )
    return result(
        "dns-optional",
        fqdn,
        PASS,
        observed=", ".join(addresses),
        expected=expect or "an address",
        message=f"{fqdn} resolves ({purpose})",
        source=source,
    )


def _srv(srv: Dict[str, Any], domain: str, source: str) -> CheckResult:
    name = srv.get("name") or f"_wire-server-federator._tcp.{domain}"
    targets = srv.get("targets") or []
    remedy = f"create {name}. IN SRV 0 10 443 federator.{domain}."
    if not targets:
        return result(
            "dns-srv",
            name,
            FAIL,
            observed=srv.get("error"),
            expected="an SRV record",
            message="{}: {}; other backends cannot find this one".format(name, srv.get("error")),
            remedy=remedy,
            source=source,
        )
    shown = ", ".join("{}:{}".format(t["target"], t["port"]) for t in targets)
    return result(
        "dns-srv",
        name,
        PASS,
        observed=shown,
        expected="an SRV record",
        message="federation is discoverable at " + shown,
        source=source,
    )


def result(check_id: str, subject: str, status: str, **fields: Any) -> CheckResult:
    """A check result about one name: no role, the name in the evidence."""
    return model.result(check_id, status, evidence={"name": subject}, **fields)


# Addresses clients on the internet cannot reach: RFC 1918, shared (CGNAT), loopback,
# link-local, unique-local. Not ipaddress.is_private, which also counts documentation ranges.
_PRIVATE = [
    ipaddress.ip_network(n)
    for n in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "fc00::/7",
        "fe80::/10",
        "::1/128",
    )
]


def _private(address: str) -> bool:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in _PRIVATE if network.version == parsed.version)
