"""`wire-preflight fleet` and its subcommands: judge the fleet from saved reports or a
collector, and the admin calls on a collector's hosts (drift, accept, forget, rekey,
enrolments). main.py adds the group to `wire-preflight`.
"""

from typing import Any, Dict, Optional

import click

from wire_preflight.cli.options import collector_access_options, echo_lines, print_json
from wire_preflight.commandline import file_option, parse_duration, profile_option, read_token
from wire_preflight.model import EXIT_INTERNAL, EXIT_OK, InputError


@click.group(invoke_without_command=True)
@click.option(
    "--from",
    "from_dir",
    type=click.Path(file_okay=False),
    default=None,
    metavar="DIR",
    help="Judge the saved reports in DIR (as `check --json` wrote them).",
)
@file_option(
    "--inventory", "inventory_file", help="A wire-server-deploy ansible inventory (INI or YAML)."
)
@click.option(
    "--collector", default=None, metavar="URL", help="Ask a collector for its fleet report instead."
)
@collector_access_options
@profile_option
@click.option("--json", "as_json", is_flag=True, help="Print the fleet report as JSON.")
@click.pass_context
def fleet(
    ctx: click.Context,
    from_dir: Optional[str],
    inventory_file: Optional[str],
    collector: Optional[str],
    token_file: Optional[str],
    ca_cert: Optional[str],
    profile_name: Optional[str],
    as_json: bool,
) -> int:
    """Judge the whole fleet: role counts, spread over physical servers, clones, clocks."""
    if ctx.invoked_subcommand is not None:
        ctx.obj = {
            "collector": collector,
            "token_file": token_file,
            "ca_cert": ca_cert,
            "as_json": as_json,
            "inventory": inventory_file,
            "profile": profile_name,
        }
        return EXIT_OK
    from wire_preflight.fleet.document import EXIT_CODES

    if bool(from_dir) == bool(collector):
        raise InputError("fleet: give exactly one of --from DIR or --collector URL")
    if collector:
        from wire_preflight.delivery import send

        token = read_token(token_file)
        if not token:
            raise InputError("fleet --collector needs --token-file FILE")
        doc = send.get_json(collector, "/api/v1/fleet", token, ca_cert)
    else:
        from wire_preflight import profiles
        from wire_preflight.fleet import document, inventory, load

        profile = profiles.load(profile_name)
        hosts, problems = load.from_directory(from_dir or "")
        for problem in problems:
            click.echo(f"wire-preflight: skipped {problem}", err=True)
        planned = None
        if inventory_file:
            planned = inventory.planned_for(inventory.load(inventory_file), profile)
        doc = document.build(hosts, profile, planned, problems)
    if as_json:
        print_json(doc)
    else:
        from wire_preflight.fleet.render import lines

        for line in lines(doc):
            click.echo(line)
    # Raised, not returned: click 8.0 (Python 3.6) drops a nested group's return value.
    raise click.exceptions.Exit(EXIT_CODES.get(doc.get("verdict"), EXIT_INTERNAL))


def _collector_args(ctx: click.Context) -> Dict[str, Any]:
    obj = ctx.obj or {}
    if not obj.get("collector") or not obj.get("token_file"):
        raise InputError(
            f"fleet {ctx.info_name} needs --collector URL and --token-file FILE (before the "
            "subcommand)"
        )
    return {
        "collector": obj["collector"],
        "token": read_token(obj["token_file"]),
        "ca_cert": obj.get("ca_cert"),
    }


@fleet.command("drift")
@click.option("--host", default=None, metavar="HOSTNAME", help="Only this host's events.")
@click.option("--kind", default=None, metavar="KIND", help="Only events of this kind.")
@click.option(
    "--since",
    default=None,
    metavar="DURATION",
    help="Only events newer than this: seconds, or with a unit (30m, 12h, 7d).",
)
@click.option("--open", "open_only", is_flag=True, help="Hide events already accepted.")
@click.option("--json", "as_json", is_flag=True, help="Print the events as JSON.")
@click.pass_context
def fleet_drift(
    ctx: click.Context,
    host: Optional[str],
    kind: Optional[str],
    since: Optional[str],
    open_only: bool,
    as_json: bool,
) -> int:
    """What changed on the fleet's hosts, newest first (from a collector)."""
    import time

    from wire_preflight.delivery import send

    args = _collector_args(ctx)
    params = {"host": host, "kind": kind, "open": "true" if open_only else "false"}
    if since:
        params["since"] = str(time.time() - parse_duration(since, "--since"))
    doc = send.get_json(
        args["collector"],
        "/api/v1/drift",
        args["token"],
        args["ca_cert"],
        params={k: v for k, v in params.items() if v is not None},
    )
    events = doc.get("events", [])
    if as_json or (ctx.obj or {}).get("as_json"):
        print_json({"schema": "wire-preflight/drift/1", "events": events})
        return EXIT_OK
    from wire_preflight.render.tables import drift_lines

    echo_lines(drift_lines(events))
    return EXIT_OK


def _host_call(ctx: click.Context, hostname: str, method: str, action: str = "") -> Any:
    """An admin call on one host's collector route (accept, rekey, forget)."""
    from urllib.parse import quote

    from wire_preflight.delivery import send

    args = _collector_args(ctx)
    path = "/api/v1/hosts/" + quote(hostname, safe="") + (f"/{action}" if action else "")
    return send.get_json(args["collector"], path, args["token"], args["ca_cert"], method=method)


@fleet.command("accept")
@click.argument("hostname")
@click.pass_context
def fleet_accept(ctx: click.Context, hostname: str) -> int:
    """Accept HOSTNAME's current state as its baseline: its open drift events close."""
    from wire_preflight.render.text import printable

    doc = _host_call(ctx, hostname, "POST", "accept")
    click.echo(
        "accepted {}: {} open drift event(s) closed".format(
            printable(hostname), doc.get("closed_events")
        )
    )
    return EXIT_OK


@fleet.command("forget")
@click.argument("hostname")
@click.pass_context
def fleet_forget(ctx: click.Context, hostname: str) -> int:
    """Remove HOSTNAME from the collector: its reports, its summary and its key (admin token).
    Its machine may enrol again; its drift events stay as the record."""
    from wire_preflight.render.text import printable

    doc = _host_call(ctx, hostname, "DELETE")
    click.echo(
        "forgot {}: {} report(s) and {} key(s) removed".format(
            printable(hostname), doc.get("reports"), doc.get("keys")
        )
    )
    return EXIT_OK


@fleet.command("rekey")
@click.argument("hostname")
@click.pass_context
def fleet_rekey(ctx: click.Context, hostname: str) -> int:
    """Drop HOSTNAME's key, keeping its history and its name (admin token). The name goes back
    only to the recorded machine (same machine-id and product_uuid) or to the VM given the
    one-time code printed here: `wire-preflight report --enroll-code CODE` on it."""
    from wire_preflight.render.text import printable

    doc = _host_call(ctx, hostname, "POST", "rekey")
    name = printable(hostname)
    click.echo(f"re-keyed {name}: {doc.get('keys_dropped')} key(s) dropped")
    click.echo(
        "{} re-enrols by itself if it is still machine-id {} with product_uuid {}; to give the "
        "name to another VM (a reinstall, new hardware), run there once:".format(
            name, printable(str(doc.get("machine_id"))), printable(str(doc.get("product_uuid")))
        )
    )
    click.echo(
        "  wire-preflight report --config /etc/wire-preflight/agent.conf --enroll-code "
        + printable(str(doc.get("enroll_code")))
    )
    return EXIT_OK


@fleet.command("enrollments")
@click.pass_context
def fleet_enrollments(ctx: click.Context) -> int:
    """The enrolments that claim a name another machine holds, waiting for an admin."""
    from wire_preflight.delivery import send
    from wire_preflight.render.text import printable

    args = _collector_args(ctx)
    doc = send.get_json(args["collector"], "/api/v1/enrollments", args["token"], args["ca_cert"])
    rows = doc.get("enrollments") or []
    if (ctx.obj or {}).get("as_json"):
        print_json({"schema": "wire-preflight/enrollments/1", "enrollments": rows})
        return EXIT_OK
    if not rows:
        click.echo("no pending enrolments")
        return EXIT_OK
    for row in rows:
        click.echo(
            "{id}  {state:8}  {hostname}  claimed by machine-id {machine_id} (product_uuid "
            "{product_uuid}, from {address}); held by machine-id {holder}".format(
                **{k: printable(str(v)) for k, v in row.items()}
            )
        )
    click.echo("decide with: wire-preflight fleet ... approve ID | reject ID")
    return EXIT_OK


def _decide(ctx: click.Context, pending_id: int, decision: str) -> int:
    from wire_preflight.delivery import send
    from wire_preflight.render.text import printable

    args = _collector_args(ctx)
    doc = send.get_json(
        args["collector"],
        f"/api/v1/enrollments/{pending_id}/{decision}",
        args["token"],
        args["ca_cert"],
        method="POST",
    )
    click.echo(printable(str((doc.get("event") or {}).get("detail") or decision)))
    return EXIT_OK


@fleet.command("approve")
@click.argument("pending_id", type=click.IntRange(min=1))
@click.pass_context
def fleet_approve(ctx: click.Context, pending_id: int) -> int:
    """Give the claimed name to a pending enrolment's machine (the old holder's key goes)."""
    return _decide(ctx, pending_id, "approve")


@fleet.command("reject")
@click.argument("pending_id", type=click.IntRange(min=1))
@click.pass_context
def fleet_reject(ctx: click.Context, pending_id: int) -> int:
    """Refuse a pending enrolment: its machine is told so from then on."""
    return _decide(ctx, pending_id, "reject")


@fleet.command("roles")
@click.pass_context
def fleet_roles(ctx: click.Context) -> int:
    """Each inventory host's roles (by the profile's group mapping), as JSON: what the ansible
    rollout writes into every VM's agent.conf."""
    from wire_preflight import profiles
    from wire_preflight.fleet import inventory

    obj = ctx.obj or {}
    if not obj.get("inventory"):
        raise InputError("fleet roles needs --inventory FILE (before the subcommand)")
    profile = profiles.load(obj.get("profile"))
    planned = inventory.planned_for(inventory.load(obj["inventory"]), profile)
    print_json(
        {
            "schema": "wire-preflight/inventory-roles/1",
            "profile": profile.name,
            "hosts": {
                host["name"]: {
                    key: host[key]
                    for key in (
                        "roles",
                        "physical_host",
                        "ip",
                        "ansible_host",
                        "etcd",
                        # agent.conf's `interface` and `k8s_cidr` (docs/fleet.md).
                        "interface",
                        "k8s_cidrs",
                    )
                }
                for host in planned
            },
        }
    )
    return EXIT_OK
