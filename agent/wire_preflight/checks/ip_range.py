"""ip-range: the node's address is clear of Kubernetes' own ranges (fail) and of 10.x.x.x,
which the installation plan asks to avoid (warn)."""

import ipaddress
from typing import List

from wire_preflight.checks import Context
from wire_preflight.checks.address import find_target, network_missing
from wire_preflight.model import ERROR, FAIL, PASS, SKIP, WARN, CheckResult

PLAN_QUOTE = (
    'the plan: "Avoid 10.x.x.x network address schemes, and instead use something like '
    '192.168.x.x or 172.x.x.x"'
)


def check_ip_range(context: Context) -> List[CheckResult]:
    if context.facts.get("network") is None:
        return [network_missing(context)]
    target = find_target(context)
    if not target.address:
        return [
            context.result(
                ERROR,
                observed=None,
                expected="outside 10.0.0.0/8",
                message=target.problem,
                remedy="pass the node's address with --ip",
                source="",
            )
        ]
    cidrs = context.k8s_cidrs or context.profile.k8s_cidrs
    source = "kubespray defaults; " + PLAN_QUOTE
    address = ipaddress.ip_address(target.address)
    prefix = (target.entry or {}).get("prefixlen")
    network = (
        ipaddress.ip_network(f"{address}/{prefix}", strict=False)
        if prefix is not None
        else ipaddress.ip_network(str(address))
    )
    # A profile without Kubernetes ranges of its own still keeps the node out of 10.x.
    expected = (
        "outside {} and 10.0.0.0/8".format(", ".join(cidrs)) if cidrs else "outside 10.0.0.0/8"
    )
    observed = str(network) if prefix is not None else str(address)
    observed = f"{address} ({observed})" if prefix is not None else observed
    evidence = {"address": str(address), "network": str(network), "k8s_cidrs": cidrs}
    if address.version != 4:
        return [
            context.result(
                SKIP,
                observed=observed,
                expected=expected,
                message="IPv6 address: the plan's ranges are IPv4",
                source=source,
                evidence=evidence,
            )
        ]
    for cidr in cidrs:
        reserved = ipaddress.ip_network(cidr)
        if address in reserved or network.overlaps(reserved):
            what = "inside" if address in reserved else "in a network that overlaps"
            return [
                context.result(
                    FAIL,
                    observed=observed,
                    expected=expected,
                    message=f"{address} is {what} Kubernetes' range {cidr}: pods or services "
                    "would shadow this node",
                    remedy=f"move the node to a network clear of {', '.join(cidrs)} and 10.x "
                    "(a 192.168.x.x or 172.16-31.x.x network), or change the cluster's ranges "
                    "(kube_service_addresses, kube_pods_subnet) and pass them with --k8s-cidr",
                    source=source,
                    evidence=evidence,
                )
            ]
    if address in ipaddress.ip_network("10.0.0.0/8"):
        return [
            context.result(
                WARN,
                observed=observed,
                expected=expected,
                message=f"{address} is a 10.x.x.x address; {PLAN_QUOTE}",
                remedy="prefer 192.168.x.x or 172.16-31.x.x for the VMs",
                source=source,
                evidence=evidence,
            )
        ]
    return [
        context.result(
            PASS,
            observed=observed,
            expected=expected,
            message="clear of Kubernetes' ranges",
            source=source,
            evidence=evidence,
        )
    ]
