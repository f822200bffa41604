"""Fleet rules: pure functions of host summaries (summary.py), the profile and, optionally,
the planned fleet from an inventory. Each returns findings:

    {"id", "status", "scope", "roles", "hosts", "message", "remedy"}

`scope` is "reported" (what the agents said) or "planned" (what the inventory says).

A finding's id is written once, in RULES. judge() hands each rule a Fleet bound to its id,
and the rule makes its findings with `fleet.finding(...)`; judge() refuses a finding whose id
is not the rule's. The findings made outside judge() (a report that could not be read, the
collector's own) are registered too, and finding() refuses an id that is not.
"""

from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, NamedTuple, Optional, Tuple

from wire_preflight.model import FAIL, PASS, SKIP, WARN
from wire_preflight.profiles import Profile
from wire_preflight.quantities import count

if TYPE_CHECKING:
    from wire_preflight.shapes import Finding
else:  # the TypedDict is for mypy; at run time (Python 3.6 too) a finding is a dict
    Finding = Dict[str, Any]

# Worst first: how findings are sorted and the fleet's verdict is chosen.
ORDER = {FAIL: 0, WARN: 1, SKIP: 2, PASS: 3}


class Fleet(NamedTuple):
    """What a rule judges: the fleet as reported, or as an inventory plans it."""

    # The reporting hosts (a host that did not say its physical server takes the
    # inventory's physical_host).
    hosts: List[Dict[str, Any]]
    # The hosts as placed on physical servers: the reporting ones and, with an inventory,
    # its planned hosts that have not reported yet, marked not_reporting.
    placement: List[Dict[str, Any]]
    profile: Profile
    # The inventory's hosts (inventory.py), or None without an inventory.
    planned: Optional[List[Dict[str, Any]]]
    # The etcd members (etcd_members); None when the planned fleet has no etcd group.
    etcd: Optional[List[Dict[str, Any]]]
    scope: str = "reported"
    # The id of the rule judging now: set by judge(), never by a rule.
    rule: str = ""

    def finding(
        self,
        status: str,
        message: str,
        roles: Iterable[str] = (),
        hosts: Iterable[Optional[str]] = (),  # a host without a name is left out
        remedy: str = "",
    ) -> Finding:
        return finding(self.rule, status, message, roles, hosts, remedy, self.scope)


class Rule(NamedTuple):
    id: str
    # The rule's function, or None for findings made outside judge(): `made_by` says where.
    function: Optional[Callable[[Fleet], List[Finding]]]
    # Judged only with an inventory.
    needs_inventory: bool = False
    # Judged on the planned fleet too (with an inventory); a planned finding that says what
    # a reported one says is given once.
    planned_too: bool = False
    made_by: str = "judge"


def finding(
    rule: str,
    status: str,
    message: str,
    roles: Iterable[str] = (),
    hosts: Iterable[Optional[str]] = (),  # a host without a name is left out
    remedy: str = "",
    scope: str = "reported",
) -> Finding:
    if rule not in RULE_IDS:
        # A bug, not the fleet's state: the docs, the page and scripts go by these ids.
        raise AssertionError(f"finding with unregistered rule id {rule!r}")
    return {
        "id": rule,
        "status": status,
        "scope": scope,
        "roles": sorted(set(roles)),
        "hosts": sorted(set(h for h in hosts if h)),
        "message": message,
        "remedy": remedy,
    }


def fleet_of(
    hosts: List[Dict[str, Any]], profile: Profile, planned: Optional[List[Dict[str, Any]]] = None
) -> Fleet:
    """The reported fleet as the rules judge it."""
    placement = hosts
    if planned is not None:
        hosts = fill_from_inventory(hosts, planned)
        # The fleet as planned where it has not reported yet: a planned host that never
        # reported has its one inventory-missing finding, and counts and the spread over
        # physical servers are judged with it in its planned place, not without it.
        placement = hosts + [
            dict(planned_as_host(p), not_reporting=True) for p in not_reporting(hosts, planned)
        ]
    return Fleet(hosts, placement, profile, planned, etcd_members(hosts, planned))


def planned_fleet(profile: Profile, planned: List[Dict[str, Any]]) -> Fleet:
    """The fleet as the inventory plans it, every host in its planned place."""
    as_hosts = [planned_as_host(p) for p in planned]
    etcd = [h for h, p in zip(as_hosts, planned) if p["etcd"]] or None
    return Fleet(as_hosts, as_hosts, profile, planned, etcd, scope="planned")


def judge(
    hosts: List[Dict[str, Any]], profile: Profile, planned: Optional[List[Dict[str, Any]]] = None
) -> List[Finding]:
    """Every rule of RULES over the reported fleet, and over the planned one when an inventory
    is given."""
    reported = fleet_of(hosts, profile, planned)
    plan = planned_fleet(profile, planned) if planned is not None else None
    findings = []  # type: List[Finding]
    for rule in RULES:
        if rule.function is None or (rule.needs_inventory and planned is None):
            continue
        found = run(rule, reported)
        if rule.planned_too and plan is not None:
            # Where the plan and the reporting fleet say the same, say it once.
            said = {_same(f) for f in found}
            found += [f for f in run(rule, plan) if _same(f) not in said]
        findings += found
    return sorted(findings, key=lambda f: (ORDER[f["status"]], f["id"]))


def run(rule: Rule, fleet: Fleet) -> List[Finding]:
    """One rule's findings on a fleet."""
    assert rule.function is not None, rule.id
    found = rule.function(fleet._replace(rule=rule.id))
    for one in found:
        if one["id"] != rule.id:
            raise AssertionError(f"rule {rule.id} made a finding with id {one['id']!r}")
    return found


def _same(found: Finding) -> Any:
    """What makes two findings say the same thing, whatever their wording."""
    return (
        found["id"],
        found["status"],
        tuple(found["roles"]),
        tuple(found["hosts"]),
        found.get("server"),
    )


def verdict(findings: List["Finding"]) -> str:
    worst = min((f["status"] for f in findings), key=lambda s: ORDER[s], default=PASS)
    return {FAIL: "FAIL", WARN: "WARN"}.get(worst, "PASS")


def planned_as_host(planned: Dict[str, Any]) -> Dict[str, Any]:
    return {
        "hostname": planned["name"],
        "roles": planned["roles"],
        "physical_host": planned.get("physical_host"),
    }


def not_reporting(
    hosts: List[Dict[str, Any]], planned: List[Dict[str, Any]]
) -> List[Dict[str, Any]]:
    """The planned hosts (with roles) that no reported host matches."""
    match = planned_matcher(planned)
    matched = {(match(h) or {}).get("name") for h in hosts}
    return [p for p in planned if p["roles"] and p["name"] not in matched]


def _label(host: Dict[str, Any]) -> str:
    return host["hostname"] + (" (not reporting)" if host.get("not_reporting") else "")


def _absent(hosts: Iterable[Dict[str, Any]]) -> str:
    names = sorted(h["hostname"] for h in hosts if h.get("not_reporting"))
    return "; {} not reporting yet: {}".format(len(names), ", ".join(names)) if names else ""


def fill_from_inventory(
    hosts: List[Dict[str, Any]], planned: List[Dict[str, Any]]
) -> List[Dict[str, Any]]:
    """A host that did not say its physical server takes the inventory's physical_host."""
    match = planned_matcher(planned)
    out = []
    for host in hosts:
        entry = match(host)
        if entry and not host.get("physical_host") and entry.get("physical_host"):
            host = dict(host, physical_host=entry["physical_host"])
        out.append(host)
    return out


def match_planned(host: Dict[str, Any], planned: List[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """The inventory entry a host is: by hostname first, else by one of its addresses
    (the entry's ansible_host or ip), the inventory's first such entry. The one matcher: the
    fleet rules, etcd membership and `wire-preflight ports` (finding this VM in the
    inventory) all use it."""
    return planned_matcher(planned)(host)


def planned_matcher(
    planned: List[Dict[str, Any]],
) -> Callable[[Dict[str, Any]], Optional[Dict[str, Any]]]:
    """match_planned for a whole fleet: the inventory indexed once, so matching every host
    is linear (scanning the inventory per host took seconds at a few thousand hosts). Names
    and addresses are strings; anything else in an inventory or a report (a YAML list, a
    null) matches nothing rather than failing the whole fleet's judgement."""
    by_name: Dict[str, Dict[str, Any]] = {}
    by_address: Dict[str, Tuple[int, Dict[str, Any]]] = {}
    for position, entry in enumerate(planned):
        if isinstance(entry.get("name"), str):
            by_name.setdefault(entry["name"], entry)
        for key in ("ansible_host", "ip"):
            if isinstance(entry.get(key), str):
                by_address.setdefault(entry[key], (position, entry))

    def match(host: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        hostname = host.get("hostname")
        found = by_name.get(hostname) if isinstance(hostname, str) else None
        if found:
            return found
        addresses = [a for a in host.get("addresses") or [] if isinstance(a, str)]
        candidates = [by_address[a] for a in addresses if a in by_address]
        return min(candidates, key=lambda c: c[0])[1] if candidates else None

    return match


def _production_roles(hosts: List[Dict[str, Any]], profile: Profile) -> List[str]:
    reported = {role for h in hosts for role in h.get("roles", [])}
    standalone = [r.name for r in profile.roles.values() if r.placement == "standalone"]
    if reported and reported <= set(standalone):
        return sorted(reported)  # a demo installation: the demo VM is the whole fleet
    return [r.name for r in profile.roles.values() if r.placement != "standalone"]


def _with_role(hosts: List[Dict[str, Any]], role: str) -> List[Dict[str, Any]]:
    return [h for h in hosts if role in h.get("roles", [])]


# -- role-count ---------------------------------------------------------------------------------


def role_count(fleet: Fleet) -> List[Finding]:
    hosts, profile = fleet.placement, fleet.profile
    out = []
    roles = _production_roles(hosts, profile)
    if fleet.scope == "planned":
        # An inventory lists only the roles its groups map to (the admin host runs ansible
        # and is not in it).
        roles = [r for r in roles if r in set(profile.inventory_groups.values())]
    for name in roles:
        role = profile.roles[name]
        members = _with_role(hosts, name)
        names = [h["hostname"] for h in members]
        labels = [_label(h) for h in sorted(members, key=lambda h: h["hostname"])]
        if len(members) < role.vms:
            out.append(
                fleet.finding(
                    FAIL,
                    "{}: {} of the {} VMs the plan asks for{}".format(
                        name,
                        len(members),
                        role.vms,
                        ": " + ", ".join(labels) if labels else "",
                    ),
                    [name],
                    names,
                    f"add {role.vms - len(members)} more {name} VM(s)",
                )
            )
        else:
            out.append(
                fleet.finding(
                    PASS,
                    "{}: {} (plan: {}){}".format(
                        name, count(len(members), "VM"), role.vms, _absent(members)
                    ),
                    [name],
                    names,
                )
            )
    return out


# -- physical-spread ----------------------------------------------------------------------------


# Without an inventory [etcd] group, etcd runs on the VMs of this role.
ETCD_HOST_ROLE = "kubernetes"


def _quorum_roles(profile: Profile) -> Dict[str, str]:
    """role -> "majority" or "one": what losing a physical server must leave of it."""
    fleet = profile.fleet
    out = OrderedDict()  # type: Dict[str, str]
    for role in fleet.get("quorum_roles", []):
        out[role] = "majority"
    for role in fleet.get("redundant_roles", []):
        out[role] = "one"
    return out


def spread_needs(profile: Profile) -> Dict[str, str]:
    """Every role physical-spread judges -> what losing one server must leave of it: the
    quorum and redundant roles, and etcd's majority on the role that hosts it. The hardware
    planner (plan/placement.py) places by this, so a plan it makes is one this rule passes.
    A profile that plans one machine by design (WIAB) has none."""
    if plans_one_machine(profile):
        return OrderedDict()
    out = _quorum_roles(profile)
    if ETCD_HOST_ROLE in profile.roles and ETCD_HOST_ROLE not in out:
        out[ETCD_HOST_ROLE] = "majority"
    return out


def plans_one_machine(profile: Profile) -> bool:
    """One physical machine and no quorum across servers (WIAB): losing it loses all, by
    design, so there is no spread to keep."""
    fleet = profile.fleet
    return fleet.get("min_physical_servers") == 1 and not fleet.get("quorum_roles")


def survives_loss(need: str, members: int, lost: int) -> bool:
    """Whether a role of `members` VMs keeps what it needs ("majority" or "one") when a
    physical server holding `lost` of them is gone."""
    left = members - lost
    return left * 2 > members if need == "majority" else left >= 1


def physical_spread(fleet: Fleet) -> List[Finding]:
    hosts, profile, etcd = fleet.placement, fleet.profile, fleet.etcd
    if plans_one_machine(profile):
        # WIAB staging, the demo: there is no spread to judge, for etcd neither.
        if fleet.scope != "reported" or not hosts:
            return []
        return [
            fleet.finding(
                PASS,
                "the profile plans one physical server and no quorum across servers: "
                "nothing to spread",
            )
        ]
    out = []
    # A planned host that has not reported and has no physical_host in the inventory is
    # simply not placed: the planned scope says so, it did not fail to say anything.
    unknown = [
        h["hostname"] for h in hosts if not h.get("physical_host") and not h.get("not_reporting")
    ]
    if unknown:
        out.append(
            fleet.finding(
                WARN,
                f"{len(unknown)} host(s) did not say which physical server they run on; "
                "they are left out of the spread",
                hosts=unknown,
                remedy="report with --physical-host NAME (or set physical_host in the inventory)",
            )
        )
    placed = [h for h in hosts if h.get("physical_host")]
    servers = sorted({h["physical_host"] for h in placed})
    minimum = profile.fleet.get("min_physical_servers", 0)
    if placed and len(servers) < minimum:
        out.append(
            fleet.finding(
                FAIL,
                "{} physical server(s) ({}); the plan asks for at least {}".format(
                    len(servers), ", ".join(servers), minimum
                ),
                hosts=[h["hostname"] for h in placed],
                remedy=f"spread the VMs over {minimum} physical servers",
            )
        )
    groups = [
        (role, need, _with_role(placed, role)) for role, need in _quorum_roles(profile).items()
    ]
    if etcd is not None:
        groups.append(("etcd", "majority", [h for h in etcd if h.get("physical_host")]))
    problems = 0
    for server in servers:
        for role, need, members in groups:
            if not members:
                continue
            gone = [h for h in members if h["physical_host"] == server]
            lost = [h["hostname"] for h in gone]
            left = len(members) - len(lost)
            if lost and not survives_loss(need, len(members), len(lost)):
                problems += 1
                what = (
                    f"{role} loses its quorum ({left} of {len(members)} left)"
                    if need == "majority"
                    else f"no {role} is left"
                )
                found = fleet.finding(
                    FAIL,
                    "losing physical server {} takes {} of {} {} VMs ({}): {}".format(
                        server,
                        len(lost),
                        len(members),
                        role,
                        ", ".join(_label(h) for h in sorted(gone, key=lambda h: h["hostname"])),
                        what,
                    ),
                    [role],
                    lost,
                    "move one of {} to another physical server".format(", ".join(sorted(lost))),
                )
                # The physical server whose loss breaks the quorum, for the page's boxes.
                found["server"] = server
                out.append(found)
    if placed and not problems:
        out.append(
            fleet.finding(
                PASS,
                f"losing any one of {len(servers)} physical server(s) keeps every quorum",
                hosts=[h["hostname"] for h in placed],
            )
        )
    return out


# -- etcd ---------------------------------------------------------------------------------------


def etcd_members(
    hosts: List[Dict[str, Any]], planned: Optional[List[Dict[str, Any]]]
) -> List[Dict[str, Any]]:
    """The etcd members: the inventory's etcd group, each as its reported host or, until it
    reports, as planned (marked not_reporting); without that group, the reported Kubernetes
    nodes."""
    if planned and any(p["etcd"] for p in planned):
        match = planned_matcher(planned)
        reported = {}  # type: Dict[str, Dict[str, Any]]
        for host in hosts:
            entry = match(host)
            if entry:
                reported.setdefault(entry["name"], host)
        return [
            reported.get(p["name"]) or dict(planned_as_host(p), not_reporting=True)
            for p in planned
            if p["etcd"]
        ]
    return _with_role(hosts, ETCD_HOST_ROLE)


def etcd_odd(fleet: Fleet) -> List[Finding]:
    """An odd number of etcd members, at least min_etcd: counted from the inventory's etcd
    group when there is one (hosts that have not reported yet included, and named)."""
    profile, members = fleet.profile, fleet.etcd or []
    from_inventory = fleet.planned is not None and any(p["etcd"] for p in fleet.planned)
    if not profile.fleet.get("etcd_odd", False):
        return []
    names = [h["hostname"] for h in members]
    where = f" in the inventory's {profile.etcd_group} group" if from_inventory else ""
    absent = _absent(members)
    minimum = profile.fleet.get("min_etcd", 3)
    count = len(members)
    if count == 0:
        return [fleet.finding(SKIP, "no etcd members reported", ["etcd"])]
    if count % 2 == 0:
        return [
            fleet.finding(
                FAIL,
                f"{count} etcd members{where}: an even count tolerates no more "
                f"failures than {count - 1} and can split evenly{absent}",
                ["etcd"],
                names,
                f"run etcd on an odd number of nodes ({count - 1} or {count + 1})",
            )
        ]
    if count < minimum:
        return [
            fleet.finding(
                FAIL,
                f"{count} etcd member(s){where}; at least {minimum} are needed{absent}",
                ["etcd"],
                names,
                f"add etcd members up to {minimum}",
            )
        ]
    return [fleet.finding(PASS, f"{count} etcd members{where}{absent}", ["etcd"], names)]


# -- duplicate-identity -------------------------------------------------------------------------


def duplicate_identity(fleet: Fleet) -> List[Finding]:
    """The same hostname, machine-id, product_uuid, MAC or address on two hosts."""
    hosts = fleet.hosts
    out = []
    fields = [
        ("hostname", lambda h: [h.get("hostname")]),
        ("machine-id", lambda h: [h.get("machine_id")]),
        ("product_uuid", lambda h: [h.get("product_uuid")]),
        ("MAC", lambda h: h.get("macs") or []),
        ("address", lambda h: h.get("addresses") or []),
    ]
    for label, values_of in fields:
        seen = {}  # type: Dict[str, List[Dict[str, Any]]]
        for host in hosts:
            for value in set(values_of(host)):
                if value:
                    seen.setdefault(value, []).append(host)
        for value, owners in sorted(seen.items()):
            identities = {(h.get("hostname"), h.get("machine_id")) for h in owners}
            if len(identities) < 2:
                continue
            names = [
                "{} (machine-id {})".format(h.get("hostname"), (h.get("machine_id") or "?")[:8])
                if label == "hostname"
                else h.get("hostname") or "?"
                for h in owners
            ]
            out.append(
                fleet.finding(
                    FAIL,
                    "{} {} is shared by {}".format(label, value, ", ".join(sorted(names))),
                    hosts=[h.get("hostname") for h in owners],
                    remedy=_identity_remedy(label),
                )
            )
    if not out and hosts:
        out.append(
            fleet.finding(
                PASS,
                "every host's hostname, machine-id, product_uuid, MACs and addresses are its own",
            )
        )
    return out


def _identity_remedy(label: str) -> str:
    return {
        "machine-id": "a cloned VM: rm /etc/machine-id && systemd-machine-id-setup, reboot",
        "product_uuid": "a cloned VM: give it a new UUID in the hypervisor (virsh edit, "
        "VMware uuid.bios)",
        "MAC": "give the cloned VM's NICs new MAC addresses in the hypervisor",
        "hostname": "hostnamectl set-hostname <unique name> on one of them",
        "address": "give each VM its own static address",
    }[label]


# -- clock-skew ---------------------------------------------------------------------------------


def clock_skew(fleet: Fleet) -> List[Finding]:
    hosts = fleet.hosts
    limit = fleet.profile.fleet.get("max_clock_skew_ms", 100) / 1000.0
    known = [h for h in hosts if (h.get("clock") or {}).get("offset_s") is not None]
    unknown = [h["hostname"] for h in hosts if (h.get("clock") or {}).get("offset_s") is None]
    out = []
    if unknown:
        out.append(
            fleet.finding(
                WARN,
                f"{len(unknown)} host(s) gave no usable clock reading (not "
                "synchronised, or no time facts)",
                hosts=unknown,
                remedy="synchronise them with NTP (see time-sync)",
            )
        )
    if len(known) < 2:
        return out
    ordered = sorted(known, key=lambda h: h["clock"]["offset_s"])
    early, late = ordered[0], ordered[-1]
    spread = late["clock"]["offset_s"] - early["clock"]["offset_s"]
    uncertain = sorted((h["clock"].get("uncertainty_s") or 0 for h in known), reverse=True)
    bound = spread + sum(uncertain[:2])
    message = "clocks {:.0f} ms apart ({} ahead of {}); the profile allows {:.0f} ms".format(
        spread * 1000, late["hostname"], early["hostname"], limit * 1000
    )
    if spread > limit:
        out.append(
            fleet.finding(
                FAIL,
                message,
                hosts=[early["hostname"], late["hostname"]],
                remedy="point every VM at the same NTP servers (chrony) and wait "
                "for them to synchronise",
            )
        )
    elif bound > limit:
        out.append(
            fleet.finding(
                WARN,
                message
                + f", but their NTP error bounds add up to {bound * 1000:.0f} ms: not proven",
                hosts=[h["hostname"] for h in known],
                remedy="report through the collector for a direct measurement",
            )
        )
    else:
        out.append(fleet.finding(PASS, message, hosts=[h["hostname"] for h in known]))
    return out


# -- the hosts' own checks ----------------------------------------------------------------------


def host_checks(fleet: Fleet) -> List[Finding]:
    hosts = fleet.hosts
    out = []
    for host in sorted(hosts, key=lambda h: h.get("hostname") or ""):
        if host.get("failing"):
            out.append(
                fleet.finding(
                    FAIL,
                    "{}: {} failed".format(host["hostname"], ", ".join(host["failing"])),
                    host.get("roles", []),
                    [host["hostname"]],
                    "run `wire-preflight check` on {}".format(host["hostname"]),
                )
            )
    warned = [h["hostname"] for h in hosts if h.get("warnings") and not h.get("failing")]
    if warned:
        out.append(
            fleet.finding(
                WARN,
                f"{len(warned)} host(s) with warnings only",
                hosts=warned,
            )
        )
    if hosts and not out:
        out.append(
            fleet.finding(
                PASS,
                "every host passes its own checks",
                hosts=[h["hostname"] for h in hosts],
            )
        )
    return out


# -- inventory-unexpected, inventory-role, inventory-ip, inventory-missing ------------------


def _matched(fleet: Fleet) -> List[Tuple[Dict[str, Any], Dict[str, Any]]]:
    """(reported host, its inventory entry) for every reported host the inventory lists."""
    assert fleet.planned is not None
    match = planned_matcher(fleet.planned)
    pairs = [(host, match(host)) for host in fleet.hosts]
    return [(host, plan) for host, plan in pairs if plan is not None]


def inventory_unexpected(fleet: Fleet) -> List[Finding]:
    assert fleet.planned is not None
    match = planned_matcher(fleet.planned)
    return [
        fleet.finding(
            WARN,
            "{} reported but is not in the inventory".format(host["hostname"]),
            host.get("roles", []),
            [host["hostname"]],
            "add it to the inventory, or retire it",
        )
        for host in fleet.hosts
        if match(host) is None
    ]


def inventory_role(fleet: Fleet) -> List[Finding]:
    return [
        fleet.finding(
            FAIL,
            "{} reports roles {} but the inventory's groups ({}) say {}".format(
                host["hostname"],
                ", ".join(host.get("roles", [])) or "none",
                ", ".join(plan["groups"]),
                ", ".join(plan["roles"]),
            ),
            plan["roles"],
            [host["hostname"]],
            "report with --role {}".format(" --role ".join(plan["roles"])),
        )
        for host, plan in _matched(fleet)
        if plan["roles"] and set(plan["roles"]) != set(host.get("roles", []))
    ]


def inventory_ip(fleet: Fleet) -> List[Finding]:
    return [
        fleet.finding(
            FAIL,
            "{}: the inventory's ip={} is not one of its addresses ({})".format(
                host["hostname"], plan["ip"], ", ".join(host.get("addresses") or []) or "none"
            ),
            plan["roles"],
            [host["hostname"]],
            "fix ip= in the inventory or the VM's address",
        )
        for host, plan in _matched(fleet)
        if plan.get("ip") and plan["ip"] not in (host.get("addresses") or [])
    ]


def inventory_missing(fleet: Fleet) -> List[Finding]:
    assert fleet.planned is not None
    return [
        fleet.finding(
            FAIL,
            "{} ({}) is in the inventory but never reported".format(
                plan["name"], ", ".join(plan["roles"])
            ),
            plan["roles"],
            [plan["name"]],
            "run `wire-preflight report` on it (see packaging/)",
        )
        for plan in not_reporting(fleet.hosts, fleet.planned)
    ]


# -- mtu ----------------------------------------------------------------------------------------


def same_mtu(fleet: Fleet) -> List[Finding]:
    """Every host's primary interface has the same MTU (`[fleet] mtu` turns the rule on and
    says what a difference is). The value most hosts share is the reference and the others
    are named; when no value has a majority, every group is named."""
    hosts = fleet.hosts
    severity = fleet.profile.fleet.get("mtu")
    if not severity:
        return []
    by_mtu = OrderedDict()  # type: Dict[int, List[str]]
    unknown = []
    for host in sorted(hosts, key=lambda h: h["hostname"]):
        mtu = host.get("primary_mtu")
        if isinstance(mtu, int) and not isinstance(mtu, bool):
            by_mtu.setdefault(mtu, []).append(host["hostname"])
        else:
            unknown.append(host["hostname"])
    known = sum(len(names) for names in by_mtu.values())
    if known < 2:
        return []
    tail = "; MTU not reported by {}".format(", ".join(unknown)) if unknown else ""
    if len(by_mtu) == 1:
        mtu = next(iter(by_mtu))
        return [
            fleet.finding(
                PASS,
                f"the primary interfaces of all {known} hosts have MTU {mtu}{tail}",
                hosts=by_mtu[mtu],
            )
        ]

    def named(mtu: int) -> str:
        return "{} on {}".format(mtu, ", ".join(by_mtu[mtu]))

    ranked = sorted(by_mtu, key=lambda m: (-len(by_mtu[m]), m))
    top = ranked[0]
    if len(by_mtu[top]) * 2 > known:
        odd = [name for mtu in ranked[1:] for name in by_mtu[mtu]]
        return [
            fleet.finding(
                severity,
                "MTU {} where the other {} host(s) have {}{}".format(
                    "; ".join(named(m) for m in ranked[1:]), len(by_mtu[top]), top, tail
                ),
                hosts=odd,
                remedy=f"give the primary interface of {', '.join(odd)} MTU {top} "
                "(netplan: mtu:), or set calico_mtu for the smallest",
            )
        ]
    return [
        fleet.finding(
            severity,
            "no MTU is shared by most hosts: {}{}".format(
                "; ".join(named(m) for m in ranked), tail
            ),
            hosts=[name for names in by_mtu.values() for name in names],
            remedy="give every VM's primary interface the same MTU (ip link show; netplan: mtu:)",
        )
    ]


# -- inventory-hostname, inventory-interface -----------------------------------------------------


def _dns_name(name: Any) -> str:
    """As DNS compares names: case does not matter, nor a final dot."""
    return str(name or "").rstrip(".").lower()


def inventory_hostname(fleet: Fleet) -> List[Finding]:
    """Each reporting host's hostname is its inventory name (`[fleet] inventory_hostname`
    turns the rule on: RabbitMQ's cluster, for one, names its nodes by hostname)."""
    severity = fleet.profile.fleet.get("inventory_hostname")
    if not severity:
        return []
    assert fleet.planned is not None
    match = planned_matcher(fleet.planned)
    out = []
    judged = 0
    for host in sorted(fleet.hosts, key=lambda h: h["hostname"]):
        plan = match(host)
        if plan is None:
            continue  # inventory-unexpected says so
        judged += 1
        if _dns_name(host["hostname"]) != _dns_name(plan["name"]):
            out.append(
                fleet.finding(
                    severity,
                    "{} is {} in the inventory (matched by its address): the names differ".format(
                        host["hostname"], plan["name"]
                    ),
                    plan["roles"] or host.get("roles", []),
                    [host["hostname"], plan["name"]],
                    f"hostnamectl set-hostname {plan['name']} on it, or rename it in the inventory",
                )
            )
    if judged and not out:
        out.append(
            fleet.finding(
                PASS,
                f"the hostnames of all {judged} reporting host(s) are their inventory names",
            )
        )
    return out


def inventory_interface(fleet: Fleet) -> List[Finding]:
    """The interface the inventory says a host's services bind (cassandra_network_interface
    and the like) exists on it and carries an IPv4 address."""
    assert fleet.planned is not None
    match = planned_matcher(fleet.planned)
    out = []
    for host in sorted(fleet.hosts, key=lambda h: h["hostname"]):
        plan = match(host)
        interfaces = host.get("interfaces")
        if not plan or not plan.get("interface") or not isinstance(interfaces, dict):
            continue  # nothing named, or a report from before interfaces were summarized
        name = plan["interface"]
        variables = ", ".join(
            f"{var}={value}" for var, value in (plan.get("interfaces") or {}).items()
        )
        addresses = [a for a in interfaces.get(name) or [] if isinstance(a, str) and "." in a]
        if name not in interfaces:
            problem = "names no interface of the host (it has {})".format(
                ", ".join(sorted(interfaces)) or "none"
            )
        elif not addresses:
            problem = f"names {name}, which carries no IPv4 address"
        else:
            continue
        out.append(
            fleet.finding(
                FAIL,
                f"{host['hostname']}: the inventory's {variables} {problem}",
                plan["roles"],
                [host["hostname"]],
                "set the interface variable to the interface the node's address is on",
            )
        )
    return out


# -- reachability -------------------------------------------------------------------------------

_BLOCKED = ("filtered", "no-route", "error")


def reachability(fleet: Fleet) -> List[Finding]:
    """The hosts' last `ports` runs: a path a role must use that a firewall blocks fails."""
    pairs = {}  # type: Dict[Any, Dict[str, List[str]]]
    for host in fleet.hosts:
        for probe in host.get("reachability") or []:
            key = (probe.get("from_role"), probe.get("to_role"))
            cell = pairs.setdefault(key, {"blocked": [], "unsure": [], "hosts": []})
            label = "{} -> {}:{}/{} {}".format(
                host["hostname"],
                probe.get("peer"),
                probe.get("port"),
                probe.get("proto"),
                probe.get("state"),
            )
            cell["hosts"] += [host["hostname"], probe.get("peer")]
            if probe.get("state") in _BLOCKED:
                cell["blocked"].append(label)
            elif probe.get("state") == "open|filtered":
                cell["unsure"].append(label)
    out = []
    for (source, target), cell in sorted(pairs.items(), key=lambda kv: str(kv[0])):
        roles = [source, target]
        if cell["blocked"]:
            out.append(
                fleet.finding(
                    FAIL,
                    "{} -> {}: {}".format(source, target, "; ".join(cell["blocked"])),
                    roles,
                    cell["hosts"],
                    "open those ports between the VMs (see `wire-preflight ports` on each)",
                )
            )
        elif cell["unsure"]:
            out.append(
                fleet.finding(
                    WARN,
                    "{} -> {}: UDP unproven: {}".format(source, target, "; ".join(cell["unsure"])),
                    roles,
                    cell["hosts"],
                    "run `wire-preflight listen` on the peers, then `ports` again",
                )
            )
        else:
            out.append(
                fleet.finding(
                    PASS,
                    f"{source} -> {target}: every path open",
                    roles,
                    cell["hosts"],
                )
            )
    return out


# -- the registry -------------------------------------------------------------------------------

RULES = (
    Rule("role-count", role_count, planned_too=True),
    Rule("physical-spread", physical_spread, planned_too=True),
    Rule("etcd-odd", etcd_odd),
    Rule("duplicate-identity", duplicate_identity),
    Rule("clock-skew", clock_skew),
    Rule("host-checks", host_checks),
    Rule("reachability", reachability),
    Rule("mtu", same_mtu),
    Rule("inventory-unexpected", inventory_unexpected, needs_inventory=True),
    Rule("inventory-role", inventory_role, needs_inventory=True),
    Rule("inventory-ip", inventory_ip, needs_inventory=True),
    Rule("inventory-missing", inventory_missing, needs_inventory=True),
    Rule("inventory-hostname", inventory_hostname, needs_inventory=True),
    Rule("inventory-interface", inventory_interface, needs_inventory=True),
    # Made outside judge(): by the fleet document (fleet/document.py) from the reports it
    # could not read, and by the collector from what only it sees.
    Rule("report-invalid", None, made_by="fleet document"),
    Rule("identity-conflict", None, made_by="collector"),
    Rule("foreign-report", None, made_by="collector"),
    Rule("cloned-key", None, made_by="collector"),
    Rule("stale", None, made_by="collector"),
    Rule("clock-offset", None, made_by="collector"),
)
RULE_IDS = frozenset(rule.id for rule in RULES)


def rule_ids() -> List[str]:
    return [rule.id for rule in RULES]
