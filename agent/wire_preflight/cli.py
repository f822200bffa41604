"""The `wire-preflight` command line: it parses options, calls the pipeline (pipeline.py) and
the other pure parts, and prints what they return (render/, fleet/render.py). The network
commands (dns, tls, ports, listen) are in cli_network.py; the options both share are in
cli_options.py.

click, not typer: typer 0.29 (the release pip picks on Python 3.10+) pulls in pydantic-core,
rich and shellingham, a compiled dependency per interpreter for a single-file agent that must
run on four Pythons, and importing it costs about 40 ms more than click (bench/README.md).
"""

import os
import sys
from typing import Any, Dict, List, Optional

import click

from wire_preflight import __version__, cli_network
from wire_preflight.cli_options import (
    check_options,
    collector_access_options,
    echo_lines,
    emit,
    error_line,
    file_option,
    full_summaries,
    parse_duration,
    print_json,
    profile_option,
    read_token,
    sft_option,
)
from wire_preflight.model import EXIT_FAIL, EXIT_INTERNAL, EXIT_OK, EXIT_USAGE, InputError
from wire_preflight.spool import DEFAULT_LIMIT as DEFAULT_SPOOL_LIMIT


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="wire-preflight")
def cli() -> None:
    """Check VMs against Wire's installation plan, one host or a whole fleet."""


for _command in (cli_network.dns, cli_network.tls, cli_network.ports, cli_network.listen):
    cli.add_command(_command)


def _add_bundle() -> None:
    from wire_preflight.bundle.command import bundle

    cli.add_command(bundle)


_add_bundle()


@cli.command()
@check_options
@click.option("--json", "as_json", is_flag=True, help="Print the schema-versioned report as JSON.")
@click.option(
    "--junit",
    "junit_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also write the results as JUnit XML to this file.",
)
@click.option(
    "--bundle",
    "bundle_file",
    type=click.Path(dir_okay=False),
    default=None,
    metavar="FILE",
    help="Judge a support bundle (`wire-preflight bundle`) instead of this host.",
)
def check(
    as_json: bool,
    junit_file: Optional[str],
    textfile: Optional[str],
    bundle_file: Optional[str],
    **options: Any,
) -> int:
    """Judge this VM (or a saved facts file, or a support bundle) against its role(s)."""
    from wire_preflight import pipeline
    from wire_preflight.bundle import command as bundle_command

    judged = bundle_command.judge(bundle_file, options)
    results, doc = judged or pipeline.evaluate(pipeline.Options(**options))
    if textfile:
        _write_textfile(textfile, doc)
    if junit_file:
        from wire_preflight.render import junit

        junit.write(results, str(doc.get("hostname")), junit_file)
    return emit(results, doc, as_json)


@cli.command()
@check_options
@click.option(
    "--collector",
    metavar="URL",
    help="The collector's base URL, e.g. https://admin.example.com:8443.",
)
@collector_access_options
@click.option(
    "--spool-dir",
    default=None,
    metavar="DIR",
    help="Where undelivered reports wait (default: <state dir>/spool).",
)
@click.option(
    "--spool-max",
    type=click.IntRange(min=1),
    default=DEFAULT_SPOOL_LIMIT,
    show_default=True,
    help="Most reports the spool keeps; the oldest are dropped beyond it.",
)
@click.option(
    "--random-delay",
    type=click.IntRange(min=0),
    default=0,
    metavar="SECONDS",
    help="Sleep a random time up to SECONDS first, so a fleet started by cron spreads out.",
)
@file_option(
    "--enroll-secret-file",
    help="The collector's enroll secret: used once, to get this machine's own key "
    "(kept in the state directory).",
)
@click.option(
    "--enroll-code",
    default=None,
    metavar="CODE",
    help="The one-time code `wire-preflight fleet rekey HOST` printed: this VM takes HOST's "
    "name back (a reinstall, new hardware). Used once, with --enroll-secret-file.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON too.")
def report(
    collector: Optional[str],
    token_file: Optional[str],
    ca_cert: Optional[str],
    enroll_secret_file: Optional[str],
    enroll_code: Optional[str],
    spool_dir: Optional[str],
    spool_max: int,
    random_delay: int,
    textfile: Optional[str],
    as_json: bool,
    **options: Any,
) -> int:
    """Run the checks and send the report to a collector (spooling it when it is down)."""
    from wire_preflight import delivery, pipeline
    from wire_preflight.model import verdict

    if not collector:
        raise InputError("give the collector with --collector URL (or collector = ... in --config)")
    if not token_file and not enroll_secret_file:
        raise InputError(
            "give --enroll-secret-file FILE (agents enrol and get their own key) or "
            "--token-file FILE (the admin token)"
        )
    token = read_token(token_file)
    enroll_secret = read_token(enroll_secret_file, "--enroll-secret-file")
    if random_delay:
        import random
        import time

        time.sleep(random.uniform(0, random_delay))
    evaluation = pipeline.evaluate(pipeline.Options(**options))
    results, doc, state_dir = evaluation.results, evaluation.report, evaluation.state_dir
    spool_dir = spool_dir or (os.path.join(state_dir, "spool") if state_dir else "")
    credential = delivery.Credential(
        collector, ca_cert, token, enroll_secret, state_dir, doc["facts"], enroll_code
    )
    outcome = delivery.deliver(doc, credential, spool_dir, spool_max)
    for message in outcome.messages:
        click.echo("wire-preflight: " + message, err=True)
    if textfile:
        _write_textfile(textfile, doc, outcome.state == "delivered", outcome.pending)
    if as_json:
        print_json(doc)
    else:
        said = outcome.state + (f": {outcome.detail}" if outcome.detail else "")
        click.echo("{} (report {} {})".format(verdict(results), doc["report_id"], said))
    if outcome.state == "refused":
        raise InputError(
            "the collector refused report {} for good: fix the cause above".format(doc["report_id"])
        )
    if credential.refusal:
        # Reports keep waiting in the spool, but nothing will take them until someone acts.
        click.echo(
            "wire-preflight: the collector refuses this VM's identity until someone acts; "
            f"{outcome.pending} report(s) wait in the spool: {credential.refusal}",
            err=True,
        )
        raise click.exceptions.Exit(delivery.EXIT_REFUSED)
    return doc["summary"]["exit_code"]


@cli.command("install-timer")
@click.option("--cron", is_flag=True, help="Install the cron entry instead of the systemd timer.")
@click.option(
    "--root",
    default="/",
    metavar="DIR",
    help="Install under DIR instead of / (for images and packaging); the timer is then "
    "written but not enabled.",
)
@click.option(
    "--agent-config",
    "config_path",
    default="/etc/wire-preflight/agent.conf",
    show_default=True,
    metavar="FILE",
    help="The config file the units read (an example is written if it is missing).",
)
@click.option("--no-enable", is_flag=True, help="Write the files, do not enable the timer.")
def install_timer(cron: bool, root: str, config_path: str, no_enable: bool) -> int:
    """Install the systemd timer (or cron entry) that runs `report` every five minutes."""
    import subprocess

    from wire_preflight import install

    try:
        for line in install.install(root, cron, config_path, not no_enable):
            click.echo(line)
    except OSError as exc:
        raise InputError(f"cannot install: {exc.strerror} ({exc.filename})") from None
    except subprocess.CalledProcessError as exc:
        raise InputError(f"systemctl failed: {exc}") from None
    return EXIT_OK


@cli.command()
@profile_option
@click.option(
    "--data-dir",
    "data_dirs",
    multiple=True,
    metavar="PATH",
    help="Also measure the filesystem of this directory (repeatable).",
)
@click.option(
    "--root",
    default="/",
    metavar="DIR",
    help="Read the files of a captured tree (a mounted image, a support bundle) instead of /.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the facts as JSON.")
def facts(profile_name: Optional[str], data_dirs: List[str], root: str, as_json: bool) -> int:
    """Print a snapshot of this host: the facts every check is judged on."""
    from wire_preflight import profiles
    from wire_preflight.facts import collect

    profile = profiles.load(profile_name)
    paths = ["/"] + [role.data_dir for role in profile.roles.values()] + list(data_dirs)
    snapshot = collect(
        paths, profiles.host_services(profile), profiles.host_tools(profile), root=root
    )
    if as_json:
        print_json(snapshot)
        return EXIT_OK
    from wire_preflight.render.tables import facts_lines

    echo_lines(facts_lines(snapshot))
    return EXIT_OK


@cli.command("profiles")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def list_profiles(as_json: bool) -> int:
    """List the built-in profiles and their roles."""
    from wire_preflight import profiles

    loaded = [profiles.load(name) for name in profiles.builtin_names()]
    if as_json:
        print_json(
            {
                "schema": "wire-preflight/profiles/1",
                "default": profiles.DEFAULT_PROFILE,
                "profiles": [
                    {
                        "name": p.name,
                        "description": p.description,
                        "os": {"id": p.os_id, "versions": p.os_versions},
                        "roles": list(p.roles),
                    }
                    for p in loaded
                ],
            }
        )
        return EXIT_OK
    from wire_preflight.render.tables import profiles_lines

    echo_lines(profiles_lines(loaded, profiles.DEFAULT_PROFILE))
    return EXIT_OK


@cli.command()
@profile_option
@sft_option
@click.option(
    "--server",
    "server_specs",
    multiple=True,
    metavar="NAME=CORES,MEMORY_GB,DISK_GB",
    help="A physical server (repeat for each) to place the plan's VMs on; memory and disk "
    "in the plan's GB (the profile's [units]: 10^9 bytes in the built-in ones).",
)
@file_option(
    "--write-inventory",
    "inventory_file",
    help="With --server: write the placement as an ansible inventory (wire-server-deploy's "
    "groups, physical_host on every VM).",
)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def plan(
    profile_name: Optional[str],
    sft_users: int,
    server_specs: List[str],
    inventory_file: Optional[str],
    as_json: bool,
) -> int:
    """Print the fleet the profile asks for, with totals derived from its rows; with
    --server, place it on those physical servers (exit 3 when it does not fit)."""
    from wire_preflight import profiles
    from wire_preflight.plan import fleet_plan

    profile = profiles.load(profile_name)
    doc = fleet_plan(profile, sft_users)
    if server_specs or inventory_file:
        return _plan_placement(profile, doc, server_specs, inventory_file, as_json)
    if as_json:
        doc["schema"] = "wire-preflight/plan/1"
        print_json(doc)
        return EXIT_OK
    from wire_preflight.render.tables import plan_lines

    echo_lines(plan_lines(doc, profile.name, sft_users))
    return EXIT_OK


def _plan_placement(
    profile: Any,
    doc: Dict[str, Any],
    server_specs: List[str],
    inventory_file: Optional[str],
    as_json: bool,
) -> int:
    from wire_preflight import server_plan

    if not server_specs:
        raise InputError(
            "--write-inventory needs the servers: --server " + server_plan.SERVER_SYNTAX
        )
    placement = server_plan.place_plan(profile, doc, server_plan.parse_servers(server_specs))
    if inventory_file and placement["fits"]:
        command = "wire-preflight plan --profile {}{} {}".format(
            profile.name,
            f" --sft-users {doc['sft_users']}" if doc["sft_users"] else "",
            " ".join("--server " + spec for spec in server_specs),
        )
        try:
            with open(inventory_file, "w", encoding="utf-8") as handle:
                handle.write(server_plan.inventory_text(profile, placement, command))
        except OSError as exc:
            raise InputError(f"cannot write {inventory_file}: {exc.strerror}") from None
    if as_json:
        print_json(dict(doc, schema="wire-preflight/plan/1", placement=placement))
    else:
        from wire_preflight.render.placement import placement_lines
        from wire_preflight.render.tables import plan_lines

        echo_lines([*plan_lines(doc, profile.name, doc["sft_users"]), ""])
        echo_lines(placement_lines(placement))
        if inventory_file:
            echo_lines(
                [f"inventory written to {inventory_file}"]
                if placement["fits"]
                else [f"inventory not written ({inventory_file}): the plan does not fit"]
            )
    return EXIT_OK if placement["fits"] else EXIT_FAIL


@cli.group(invoke_without_command=True)
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
        from wire_preflight import send

        if not token_file:
            raise InputError("fleet --collector needs --token-file FILE")
        doc = send.get_json(collector, "/api/v1/fleet", read_token(token_file), ca_cert)
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

    from wire_preflight import send

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

    from wire_preflight import send

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
    from wire_preflight import send
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
    from wire_preflight import send
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


def _write_textfile(
    path: str, doc: Dict[str, Any], delivered: Optional[bool] = None, spooled: Optional[int] = None
) -> None:
    from wire_preflight import textfile

    try:
        textfile.write(path, doc, delivered, spooled)
    except OSError as exc:
        raise InputError(f"cannot write --textfile {path}: {exc.strerror}") from None


full_summaries(cli)


def main(argv: Optional[List[str]] = None) -> None:
    """Entry point: every failure becomes one line and an exit code, never a traceback."""
    try:
        code = cli.main(args=argv, prog_name="wire-preflight", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("wire-preflight: interrupted", err=True)
        code = 130
    except click.ClickException as exc:
        click.echo(error_line(exc, "wire-preflight"), err=True)
        code = EXIT_USAGE if isinstance(exc, click.UsageError) else exc.exit_code
    except InputError as exc:
        click.echo(f"wire-preflight: error: {exc}", err=True)
        code = EXIT_USAGE
    except BrokenPipeError:
        # The reader went away (`| head`); nothing more to say.
        sys.stderr.close()
        code = EXIT_OK
    except Exception as exc:
        if os.environ.get("WIRE_PREFLIGHT_DEBUG"):
            raise
        click.echo(
            f"wire-preflight: internal error: {type(exc).__name__}: {exc} "
            "(set WIRE_PREFLIGHT_DEBUG=1 for the traceback)",
            err=True,
        )
        code = EXIT_INTERNAL
    sys.exit(code if isinstance(code, int) else EXIT_OK)
