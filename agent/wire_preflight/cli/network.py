"""Network readiness: `dns`, `tls`, `ports` and `listen`. Same exit codes and JSON shape as
`check`: a `checks` list of results, a summary, a schema version.

main.py adds these commands to the `wire-preflight` group (cli.add_command)."""

import time
from typing import Any, Dict, List, Optional

import click

from wire_preflight.cli.options import emit
from wire_preflight.commandline import file_option, profile_option
from wire_preflight.model import InputError, summary


def _doc(schema: str, results: List[Any], **fields: Any) -> Dict[str, Any]:
    doc: Dict[str, Any] = {
        "schema": schema,
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    doc.update(fields)
    doc["summary"] = summary(results)
    doc["checks"] = [r.to_json() for r in results]
    return doc


def _domain(value: str) -> str:
    domain = value.strip().rstrip(".").lower()
    if not domain or " " in domain or "." not in domain:
        raise InputError(f"--domain {value!r}: give the domain, e.g. wire.example.com")
    return domain


@click.command()
@click.option("--domain", required=True, metavar="DOMAIN", help="e.g. wire.example.com")
@click.option(
    "--expect",
    default=None,
    metavar="IP",
    help="The address every name must resolve to (your ingress).",
)
@click.option(
    "--nameserver",
    default=None,
    metavar="IP[:PORT]",
    help="Ask this server instead of the system resolver.",
)
@click.option(
    "--federation",
    is_flag=True,
    help="Federation is on: federator and its SRV record are required.",
)
@profile_option
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def dns(
    domain: str,
    expect: Optional[str],
    nameserver: Optional[str],
    federation: bool,
    profile_name: Optional[str],
    as_json: bool,
) -> int:
    """Check the DNS records a Wire installation needs under DOMAIN."""
    import ipaddress

    from wire_preflight import profiles
    from wire_preflight.checks import dns as judge_dns

    domain = _domain(domain)
    if expect:
        try:
            ipaddress.ip_address(expect)
        except ValueError as exc:
            raise InputError(f"--expect: {exc}") from None
    from wire_preflight.facts import dns as dns_facts

    if nameserver:
        try:
            host, _ = dns_facts.split_nameserver(nameserver)
            ipaddress.ip_address(host)
        except ValueError:
            raise InputError(f"--nameserver {nameserver!r}: give IP or IP:PORT") from None
    profile = profiles.load(profile_name)
    names = list(profile.dns["required"]) + list(profile.dns["optional"])
    try:
        resolution = dns_facts.collect(
            domain, names, profile.dns["federator_srv"] if federation else None, nameserver
        )
    except ImportError:
        raise InputError(
            "`wire-preflight dns` needs dnspython: pip install 'wire-preflight[network]'"
        ) from None
    results = judge_dns.judge(resolution, profile.dns, expect, federation)
    doc = _doc("wire-preflight/dns/1", results, domain=domain, resolution=resolution)
    return emit(results, doc, as_json)


@click.command()
@click.option("--domain", required=True, metavar="DOMAIN", help="e.g. wire.example.com")
@file_option("--cert", "cert_file", help="The certificate (PEM; leaf first, then intermediates).")
@file_option("--key", "key_file", help="Its private key (PEM), to check they belong together.")
@file_option("--ca", "ca_file", help="CA certificates to trust instead of the system store.")
@click.option(
    "--connect",
    default=None,
    metavar="HOST:PORT",
    help="Fetch the certificate a live endpoint serves instead of reading files.",
)
@click.option(
    "--federation", is_flag=True, help="Also check serverAuth+clientAuth and federator.DOMAIN."
)
@profile_option
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def tls(
    domain: str,
    cert_file: Optional[str],
    key_file: Optional[str],
    ca_file: Optional[str],
    connect: Optional[str],
    federation: bool,
    profile_name: Optional[str],
    as_json: bool,
) -> int:
    """Check the TLS certificate for DOMAIN: names, validity, key, chain (and federation)."""
    import datetime

    from wire_preflight import profiles
    from wire_preflight.checks import tls as judge_tls
    from wire_preflight.facts import tls as tls_facts

    domain = _domain(domain)
    if bool(cert_file) == bool(connect):
        raise InputError("give exactly one of --cert FILE or --connect HOST:PORT")
    profile = profiles.load(profile_name)
    required = list(profile.dns["required"]) + (["federator"] if federation else [])
    names = [f"{n}.{domain}" for n in required]
    if connect:
        fetched = tls_facts.fetch(connect, names[0], ca_file)
        leaf = tls_facts.leaf_from_der(fetched["der"])
        chain_ok, chain_detail = fetched["verified"], fetched["detail"]
        key_match = None
    else:
        chain = tls_facts.load_chain(cert_file or "")
        leaf = chain[0]
        key_match = tls_facts.key_matches(leaf, tls_facts.load_key(key_file)) if key_file else None
        chain_ok, chain_detail = tls_facts.verify_chain(chain, ca_file, names[0])
    cert = tls_facts.describe(leaf)
    now = datetime.datetime.now(datetime.timezone.utc)
    results = judge_tls.judge(
        cert, names, now, key_match, chain_ok, chain_detail, federation, domain
    )
    doc = _doc(
        "wire-preflight/tls/1",
        results,
        domain=domain,
        certificate=cert,
        source=connect or cert_file,
    )
    return emit(results, doc, as_json)


@click.command()
@file_option(
    "--inventory",
    "inventory_file",
    help="The wire-server-deploy inventory: who the peers are.",
    required=True,
)
@click.option(
    "--from-role",
    "from_roles",
    multiple=True,
    metavar="ROLE",
    help="This VM's role(s), when the inventory does not list this host.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(0.2, 30),
    default=2.0,
    show_default=True,
    help="Seconds each probe waits.",
)
@click.option(
    "--state-dir",
    default=None,
    metavar="DIR",
    help="Where the results are kept for the next `report`.",
)
@profile_option
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def ports(
    inventory_file: str,
    from_roles: List[str],
    timeout: float,
    state_dir: Optional[str],
    profile_name: Optional[str],
    as_json: bool,
) -> int:
    """Probe every peer and port this VM must reach, before anything is installed."""
    import socket

    from wire_preflight import profiles, state
    from wire_preflight.checks import reach as judge_reach
    from wire_preflight.facts import network
    from wire_preflight.facts import reach as reach_facts
    from wire_preflight.fleet import inventory
    from wire_preflight.fleet.rules import match_planned

    profile = profiles.load(profile_name)
    for role in from_roles:
        profile.role(role)
    planned = inventory.planned_for(inventory.load(inventory_file), profile)
    hostname = socket.gethostname()
    mine = network.local_addresses(global_only=True)
    me = match_planned({"hostname": hostname, "addresses": mine}, planned)
    roles = list(from_roles) or (me["roles"] if me else [])
    if not roles:
        raise InputError(
            f"this host ({hostname}) is not in {inventory_file} and no --from-role was given"
        )
    name = me["name"] if me else hostname
    my_address = (me.get("ip") or me.get("ansible_host")) if me else (mine[0] if mine else "")
    targets = judge_reach.targets(planned, roles, profile.reach, name)
    probes = reach_facts.probe_all(targets, timeout)
    results = judge_reach.judge(probes, name, my_address or "")
    if not results:
        raise InputError(
            "the profile's matrix asks nothing of roles {} toward this inventory".format(
                ", ".join(roles)
            )
        )
    doc = _doc("wire-preflight/ports/1", results, hostname=name, roles=roles, probes=probes)
    problem = state.save_reachability(state_dir or state.default_dir(), doc)
    if problem:
        click.echo("wire-preflight: cannot keep the results for `report`: " + problem, err=True)
    return emit(results, doc, as_json)


@click.command()
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    metavar="ROLE",
    help="Open the ports peers must reach on this role (repeatable).",
)
@click.option(
    "--for",
    "seconds",
    type=click.IntRange(1, 3600),
    default=120,
    show_default=True,
    metavar="SECONDS",
    help="How long to listen; then every socket closes.",
)
@click.option("--address", default="", metavar="IP", help="Listen on this address only.")
@profile_option
def listen(roles: List[str], seconds: int, address: str, profile_name: Optional[str]) -> int:
    """Open ROLE's ports for a while, so peers' `ports` runs prove the path end to end."""
    from wire_preflight import listen as listener
    from wire_preflight import profiles

    profile = profiles.load(profile_name)
    for role in roles:
        profile.role(role)
    tcp = sorted({p for r in profile.reach if r["to"] in roles for p in r["tcp"]})
    udp = sorted({p for r in profile.reach if r["to"] in roles for p in r["udp"]})
    if not tcp and not udp:
        raise InputError(
            "no peer needs to reach roles {} in profile {}".format(", ".join(roles), profile.name)
        )
    sockets, notes = listener.open_sockets(tcp, udp, address)
    for note in notes:
        click.echo(note)
    click.echo(f"listening for {seconds} s")
    answered = listener.serve(sockets, seconds)
    click.echo(f"answered {answered} probe(s)")
    return 0
