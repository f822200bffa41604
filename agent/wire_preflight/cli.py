"""The `wire-preflight` command line. Thin: it parses options, calls the pure parts, prints.

click, not typer: typer 0.29 (the release pip picks on Python 3.10+) pulls in pydantic-core,
rich and shellingham, a compiled dependency per interpreter for a single-file agent that must
run on four Pythons, and importing it costs about 40 ms more than click (bench/README.md).
"""

import json
import os
import sys
from typing import Any, Dict, List, Optional

import click

from wire_preflight import __version__
from wire_preflight.model import EXIT_INTERNAL, EXIT_OK, EXIT_USAGE, InputError

_PROFILE_HELP = "Profile name (built-in: classic, current) or path to a profile TOML file."


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="wire-preflight")
def cli() -> None:
    """Check VMs against Wire's installation plan, one host or a whole fleet."""


def _profile_option(func: Any) -> Any:
    return click.option(
        "--profile", "profile_name", default=None, metavar="NAME|PATH", help=_PROFILE_HELP
    )(func)


def _collector_access_options(func: Any) -> Any:
    """--token-file and --ca-cert: how `report` and `fleet` talk to a collector."""
    func = click.option(
        "--ca-cert",
        type=click.Path(dir_okay=False),
        default=None,
        metavar="FILE",
        help="CA certificate that signed the collector's TLS certificate.",
    )(func)
    return click.option(
        "--token-file",
        type=click.Path(dir_okay=False),
        default=None,
        metavar="FILE",
        help="File holding the collector's API token.",
    )(func)


def _sft_option(func: Any) -> Any:
    return click.option(
        "--sft-users",
        type=click.IntRange(min=0),
        default=0,
        show_default=True,
        help="Concurrent conference-call (SFT) users: one more core per 100 "
        "on each Kubernetes node.",
    )(func)


def _load_config(ctx: click.Context, _param: Any, path: Optional[str]) -> None:
    """--config FILE fills the options the command line does not give (click's default_map)."""
    if path:
        from wire_preflight import config

        ctx.default_map = dict(ctx.default_map or {}, **config.load(path))


_CHECK_OPTIONS = [
    click.option(
        "--config",
        type=click.Path(dir_okay=False),
        metavar="FILE",
        is_eager=True,
        expose_value=False,
        callback=_load_config,
        help="Read options from an agent.conf (e.g. /etc/wire-preflight/agent.conf).",
    ),
    click.option(
        "--role",
        "roles",
        multiple=True,
        metavar="ROLE",
        help="Role of this VM (repeat for a VM with several roles: it needs the sum).",
    ),
    _profile_option,
    _sft_option,
    click.option(
        "--data-dir",
        "data_dirs",
        multiple=True,
        metavar="[ROLE=]PATH",
        help="Where a role keeps its data (default from the profile). A path that "
        "does not exist yet is measured at its nearest existing parent.",
    ),
    click.option(
        "--facts",
        "facts_file",
        type=click.Path(dir_okay=False),
        default=None,
        help="Judge a saved facts file (or saved report) instead of the live host.",
    ),
    click.option(
        "--root",
        default="/",
        metavar="DIR",
        help="Read the files of a captured tree (a mounted image, a support bundle) instead "
        "of /; what only the live kernel can tell is reported missing.",
    ),
    click.option(
        "--physical-host",
        default=None,
        metavar="NAME",
        help="The physical server this VM runs on (for the fleet's spread rules).",
    ),
    click.option(
        "--ignore",
        "ignore",
        multiple=True,
        metavar="ID",
        help="Turn this check's failure into a warning (repeatable).",
    ),
    click.option(
        "--ip",
        "target_ip",
        default=None,
        metavar="ADDR",
        help="The address other nodes use for this VM (default: the primary one).",
    ),
    click.option(
        "--interface",
        "target_interface",
        default=None,
        metavar="IFACE",
        help="Judge the address on this interface instead of the primary one.",
    ),
    click.option(
        "--k8s-cidr",
        "k8s_cidrs",
        multiple=True,
        metavar="CIDR",
        help="Kubernetes' service/pod networks (repeatable; replaces the profile's).",
    ),
    click.option(
        "--state-dir",
        default=None,
        metavar="DIR",
        help="Where the agent remembers addresses between runs "
        "(default /var/lib/wire-preflight, or ~/.local/state/wire-preflight).",
    ),
    click.option(
        "--textfile",
        default=None,
        metavar="PATH",
        help="Also write the results for node_exporter's textfile collector (atomically).",
    ),
]


def _check_options(func: Any) -> Any:
    for option in reversed(_CHECK_OPTIONS):
        func = option(func)
    return func


def _evaluate(
    roles: List[str],
    profile_name: Optional[str],
    sft_users: int,
    data_dirs: List[str],
    facts_file: Optional[str],
    physical_host: Optional[str],
    ignore: List[str],
    target_ip: Optional[str],
    target_interface: Optional[str],
    k8s_cidrs: List[str],
    state_dir: Optional[str],
    root: str = "/",
) -> Dict[str, Any]:
    """Collect (or load) facts, judge them, remember the addresses; return the report."""
    from wire_preflight import checks, profiles, report, requirements, state

    if not roles:
        raise InputError("give the VM's role with --role ROLE (or roles = ... in --config)")
    profile = profiles.load(profile_name)
    roles = _unique(roles)
    for role in roles:
        profile.role(role)  # unknown role: exit 2 naming the roles that exist
    unknown = sorted(set(ignore) - set(checks.check_ids()))
    if unknown:
        raise InputError(
            "--ignore {}: no such check; check ids: {}".format(
                ", ".join(unknown), ", ".join(checks.check_ids())
            )
        )
    _validate_addresses(target_ip, k8s_cidrs)
    if target_ip and target_interface:
        raise InputError("--ip and --interface name the same thing: give one of them")
    dirs = requirements.parse_data_dirs(list(data_dirs), roles)
    needs = requirements.needs_for(profile, roles, sft_users, dirs)
    if facts_file and root != "/":
        raise InputError("--facts and --root both say what to judge: give one of them")
    if facts_file:
        from wire_preflight.facts.load import load_facts

        facts = load_facts(facts_file)
    else:
        from wire_preflight.facts import collect

        facts = collect(
            ["/"] + [need.path for need in needs.disks],
            profiles.host_services(profile),
            profiles.host_tools(profile),
            root=root,
        )
    # Reading every built-in profile costs time; only a release the profile does not name
    # needs them (to suggest the profile that fits).
    release = (facts.get("os") or {}).get("version_id")
    alternatives = profiles.os_alternatives() if release not in profile.os_versions else {}
    state_dir = state_dir or state.default_dir()
    previous = state.load(state_dir, facts)
    saved, where = state.save(state_dir, facts)
    context = checks.Context(
        facts,
        profile,
        needs,
        alternatives,
        target_ip=target_ip,
        target_interface=target_interface,
        k8s_cidrs=list(k8s_cidrs) or None,
        previous=previous,
        state_error=None if saved else where,
    )
    results = checks.run(context, ignore)
    options = {
        "sft_users": sft_users,
        "ignore": list(ignore),
        "data_dirs": dirs,
        "facts_file": facts_file,
        "ip": target_ip,
        "interface": target_interface,
        "k8s_cidrs": list(k8s_cidrs),
        "state_dir": state_dir,
    }
    doc = report.build(facts, profile, roles, results, physical_host, options)
    reachability = state.load_reachability(state_dir)
    if reachability:  # the last `ports` run, for the collector's reachability matrix
        doc["reachability"] = reachability
    doc["_results"] = results  # for rendering; removed before printing or sending
    return doc


@cli.command()
@_check_options
@click.option("--json", "as_json", is_flag=True, help="Print the schema-versioned report as JSON.")
@click.option(
    "--junit",
    "junit_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also write the results as JUnit XML to this file.",
)
def check(as_json: bool, junit_file: Optional[str], textfile: Optional[str], **options: Any) -> int:
    """Judge this VM (or a saved facts file) against its role(s)."""
    doc = _evaluate(**options)
    results = doc.pop("_results")
    if textfile:
        _write_textfile(textfile, doc)
    if junit_file:
        from wire_preflight.render import junit

        junit.write(results, str(doc.get("hostname")), junit_file)
    return _emit(results, doc, as_json)


def _emit(results: List[Any], doc: Dict[str, Any], as_json: bool) -> int:
    """Results for a person (table on a terminal, plain lines in a pipe) or as JSON."""
    from wire_preflight.model import exit_code, verdict

    if as_json:
        _print_json(doc)
    else:
        from wire_preflight.render import text

        colour = _is_terminal()
        for line in text.table(results, colour) if colour else text.plain(results):
            click.echo(line)
        click.echo(verdict(results))
    return exit_code(results)


@cli.command()
@_check_options
@click.option(
    "--collector",
    metavar="URL",
    help="The collector's base URL, e.g. https://admin.example.com:8443.",
)
@_collector_access_options
@click.option(
    "--spool-dir",
    default=None,
    metavar="DIR",
    help="Where undelivered reports wait (default: <state dir>/spool).",
)
@click.option(
    "--spool-max",
    type=click.IntRange(min=1),
    default=288,
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
@click.option(
    "--enroll-secret-file",
    type=click.Path(dir_okay=False),
    default=None,
    metavar="FILE",
    help="The collector's enroll secret: used once, to get this machine's own key "
    "(kept in the state directory).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON too.")
def report(
    collector: Optional[str],
    token_file: Optional[str],
    ca_cert: Optional[str],
    enroll_secret_file: Optional[str],
    spool_dir: Optional[str],
    spool_max: int,
    random_delay: int,
    textfile: Optional[str],
    as_json: bool,
    **options: Any,
) -> int:
    """Run the checks and send the report to a collector (spooling it when it is down)."""
    from wire_preflight import delivery, state
    from wire_preflight.model import verdict

    if not collector:
        raise InputError("give the collector with --collector URL (or collector = ... in --config)")
    if not token_file and not enroll_secret_file:
        raise InputError(
            "give --enroll-secret-file FILE (agents enrol and get their own key) or "
            "--token-file FILE (the admin token)"
        )
    token = _read_token(token_file) if token_file else None
    enroll_secret = _read_token(enroll_secret_file, "--enroll-secret-file")
    if random_delay:
        import random
        import time

        time.sleep(random.uniform(0, random_delay))
    doc = _evaluate(**options)
    results = doc.pop("_results")
    state_dir = options.get("state_dir") or state.default_dir()
    spool_dir = spool_dir or os.path.join(state_dir, "spool")
    credential = delivery.Credential(
        collector, ca_cert, token, enroll_secret, state_dir, doc["facts"]
    )
    outcome = delivery.deliver(doc, credential, spool_dir, spool_max)
    for message in outcome.messages:
        click.echo("wire-preflight: " + message, err=True)
    if textfile:
        _write_textfile(textfile, doc, outcome.state == "delivered", outcome.pending)
    if as_json:
        _print_json(doc)
    else:
        said = outcome.state + (f": {outcome.detail}" if outcome.detail else "")
        click.echo("{} (report {} {})".format(verdict(results), doc["report_id"], said))
    if outcome.state == "refused":
        raise InputError(
            "the collector refused report {} for good: fix the cause above".format(doc["report_id"])
        )
    return doc["summary"]["exit_code"]


@cli.command("install-timer")
@click.option("--cron", is_flag=True, help="Install the cron entry instead of the systemd timer.")
@click.option(
    "--root",
    default="/",
    show_default=True,
    metavar="DIR",
    help="Install under this directory (for images and packaging); nothing is enabled.",
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
@_profile_option
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
    help="Read the files of a captured tree instead of /.",
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
        _print_json(snapshot)
        return EXIT_OK
    for key in (
        "hostname",
        "machine_id",
        "product_uuid",
        "os",
        "kernel",
        "virtualization",
        "cpu",
        "memory",
    ):
        click.echo(f"{key:<15} {_flat(snapshot.get(key))}")
    primary = (snapshot.get("network") or {}).get("primary")
    click.echo("{:<15} {}".format("primary", _flat(primary)))
    for disk in snapshot.get("disks") or []:
        click.echo(
            "{:<15} {} -> {} {} {} total={} free={}".format(
                "disk",
                disk["path"],
                disk.get("mountpoint"),
                disk.get("fstype"),
                disk.get("device"),
                disk["total_bytes"],
                disk["free_bytes"],
            )
        )
    for key, reason in sorted((snapshot.get("errors") or {}).items()):
        click.echo("{:<15} {}: {}".format("unreadable", key, reason))
    return EXIT_OK


@cli.command("profiles")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def list_profiles(as_json: bool) -> int:
    """List the built-in profiles and their roles."""
    from wire_preflight import profiles

    loaded = [profiles.load(name) for name in profiles.builtin_names()]
    if as_json:
        _print_json(
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
    for p in loaded:
        default = " (default)" if p.name == profiles.DEFAULT_PROFILE else ""
        click.echo(f"{p.name}{default}: {p.description}")
        click.echo("  os: {} {}".format(p.os_id, ", ".join(p.os_versions)))
        click.echo("  roles: {}".format(", ".join(p.roles)))
    return EXIT_OK


@cli.command()
@_profile_option
@_sft_option
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def plan(profile_name: Optional[str], sft_users: int, as_json: bool) -> int:
    """Print the fleet the profile asks for, with totals derived from its rows."""
    from wire_preflight import profiles
    from wire_preflight.plan import fleet_plan

    profile = profiles.load(profile_name)
    doc = fleet_plan(profile, sft_users)
    if as_json:
        doc["schema"] = "wire-preflight/plan/1"
        _print_json(doc)
        return EXIT_OK
    head = "{:<14} {:<12} {:>4} {:>6} {:>10} {:>8}".format(
        "ROLE", "PLACEMENT", "VMS", "CORES", "MEMORY GB", "DISK GB"
    )
    click.echo(
        "profile {}{}".format(profile.name, f" with {sft_users} SFT users" if sft_users else "")
    )
    click.echo(head)
    for r in doc["roles"]:
        click.echo(
            "{:<14} {:<12} {:>4} {:>6g} {:>10g} {:>8g}".format(
                r["role"], r["placement"], r["vms"], r["cores"], r["memory_gb"], r["disk_gb"]
            )
        )
    total = doc["fleet_total"]
    click.echo(
        "fleet (without standalone roles): {} VMs, {:g} cores, {:g} GB memory, {:g} GB disk".format(
            total["vms"], total["cores"], total["memory_gb"], total["disk_gb"]
        )
    )
    for label, key in (
        ("per physical server", "per_server"),
        ("per physical server with any-server roles", "per_server_with_any_server_roles"),
    ):
        block = doc[key]
        click.echo(
            "{} ({}): {:g} cores, {:g} GB memory, {:g} GB disk".format(
                label,
                ", ".join(block["roles"]),
                block["cores"],
                block["memory_gb"],
                block["disk_gb"],
            )
        )
    if doc["min_physical_servers"]:
        click.echo("physical servers: at least {}".format(doc["min_physical_servers"]))
    for note in doc["notes"]:
        click.echo("note: " + note)
    return EXIT_OK


@cli.group(invoke_without_command=True)
@click.option(
    "--from",
    "from_dir",
    type=click.Path(file_okay=False),
    default=None,
    metavar="DIR",
    help="Judge the saved reports in DIR (as `check --json` wrote them).",
)
@click.option(
    "--inventory",
    "inventory_file",
    type=click.Path(dir_okay=False),
    default=None,
    metavar="FILE",
    help="A wire-server-deploy ansible inventory (INI or YAML).",
)
@click.option(
    "--collector", default=None, metavar="URL", help="Ask a collector for its fleet report instead."
)
@_collector_access_options
@_profile_option
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

        doc = send.get_json(collector, "/api/v1/fleet", _read_token(token_file), ca_cert)
    else:
        from wire_preflight import profiles
        from wire_preflight.fleet import document, inventory, load

        profile = profiles.load(profile_name)
        hosts, problems = load.from_directory(from_dir or "")
        for problem in problems:
            click.echo(f"wire-preflight: skipped {problem}", err=True)
        planned = None
        if inventory_file:
            planned = inventory.planned_hosts(
                inventory.load(inventory_file), profile.inventory_groups, profile.etcd_group
            )
        doc = document.build(hosts, profile, planned, problems)
    if as_json:
        _print_json(doc)
    else:
        from wire_preflight.fleet.render import lines

        for line in lines(doc):
            click.echo(line)
    # Raised, not returned: click 8.0 (Python 3.6) drops a nested group's return value.
    raise click.exceptions.Exit(EXIT_CODES.get(doc.get("verdict"), EXIT_INTERNAL))


def _collector_args(ctx: click.Context) -> Dict[str, Any]:
    obj = ctx.obj or {}
    if not obj.get("collector"):
        raise InputError(
            f"fleet {ctx.info_name} needs --collector URL and --token-file FILE (before the "
            "subcommand)"
        )
    return {
        "collector": obj["collector"],
        "token": _read_token(obj.get("token_file")),
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
    from wire_preflight.render.text import printable

    args = _collector_args(ctx)
    params = {"host": host, "kind": kind, "open": "true" if open_only else "false"}
    if since:
        params["since"] = str(time.time() - _duration(since))
    doc = send.get_json(
        args["collector"],
        "/api/v1/drift",
        args["token"],
        args["ca_cert"],
        params={k: v for k, v in params.items() if v is not None},
    )
    events = doc.get("events", [])
    if as_json or (ctx.obj or {}).get("as_json"):
        _print_json({"schema": "wire-preflight/drift/1", "events": events})
        return EXIT_OK
    click.echo(
        "{:<20} {:<24} {:<16} {:<8} {}".format("TIME (UTC)", "HOST", "KIND", "STATE", "DETAIL")
    )
    for event in events:
        click.echo(
            "{:<20} {:<24} {:<16} {:<8} {}".format(
                time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(event["time"])),
                printable(event["hostname"]),
                event["kind"],
                "open" if event["open"] else "accepted",
                printable(event["detail"]),
            )
        )
    click.echo(f"{len(events)} event(s)")
    return EXIT_OK


@fleet.command("accept")
@click.argument("hostname")
@click.pass_context
def fleet_accept(ctx: click.Context, hostname: str) -> int:
    """Accept HOSTNAME's current state as its baseline: its open drift events close."""
    from urllib.parse import quote

    from wire_preflight import send
    from wire_preflight.render.text import printable

    args = _collector_args(ctx)
    doc = send.get_json(
        args["collector"],
        f"/api/v1/hosts/{quote(hostname)}/accept",
        args["token"],
        args["ca_cert"],
        method="POST",
    )
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
    from urllib.parse import quote

    from wire_preflight import send
    from wire_preflight.render.text import printable

    args = _collector_args(ctx)
    doc = send.get_json(
        args["collector"],
        f"/api/v1/hosts/{quote(hostname, safe='')}",
        args["token"],
        args["ca_cert"],
        method="DELETE",
    )
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
    """Drop HOSTNAME's key, keeping its history: its machine (or its reinstall) may enrol
    again (admin token)."""
    from urllib.parse import quote

    from wire_preflight import send
    from wire_preflight.render.text import printable

    args = _collector_args(ctx)
    doc = send.get_json(
        args["collector"],
        f"/api/v1/hosts/{quote(hostname, safe='')}/rekey",
        args["token"],
        args["ca_cert"],
        method="POST",
    )
    click.echo(f"re-keyed {printable(hostname)}: {doc.get('keys_dropped')} key(s) dropped")
    return EXIT_OK


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
    planned = inventory.planned_hosts(
        inventory.load(obj["inventory"]), profile.inventory_groups, profile.etcd_group
    )
    _print_json(
        {
            "schema": "wire-preflight/inventory-roles/1",
            "profile": profile.name,
            "hosts": {
                host["name"]: {
                    key: host[key]
                    for key in ("roles", "physical_host", "ip", "ansible_host", "etcd")
                }
                for host in planned
            },
        }
    )
    return EXIT_OK


def _duration(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        if text[-1:] in units:
            return float(text[:-1]) * units[text[-1]]
        return float(text)
    except ValueError:
        raise InputError(f"--since {text!r}: give seconds or a number with s, m, h or d") from None


def _read_token(token_file: Optional[str], option: str = "--token-file") -> Optional[str]:
    """The one line of a token file. A file with more lines, or a line with spaces, is a
    mistake to name now (exit 2), not a header the collector would refuse on every run."""
    if not token_file:
        if option == "--token-file":
            raise InputError("--token-file is required to talk to a collector")
        return None
    try:
        with open(token_file, encoding="utf-8") as handle:
            lines = [line.strip() for line in handle.read().splitlines() if line.strip()]
    except OSError as exc:
        raise InputError(f"cannot read {option} {token_file}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InputError(f"{option} {token_file} is not UTF-8 text") from None
    if not lines:
        raise InputError(f"{option} {token_file} is empty")
    if len(lines) > 1 or any(c.isspace() or not c.isprintable() for c in lines[0]):
        raise InputError(
            f"{option} {token_file} must hold the token alone on one line "
            f"(found {len(lines)} line(s))"
        )
    return lines[0]


def _write_textfile(
    path: str, doc: Dict[str, Any], delivered: Optional[bool] = None, spooled: Optional[int] = None
) -> None:
    from wire_preflight import textfile

    try:
        textfile.write(path, doc, delivered, spooled)
    except OSError as exc:
        raise InputError(f"cannot write --textfile {path}: {exc.strerror}") from None


def _validate_addresses(target_ip: Optional[str], cidrs: List[str]) -> None:
    import ipaddress

    try:
        if target_ip:
            ipaddress.ip_address(target_ip)
        for cidr in cidrs:
            ipaddress.ip_network(cidr, strict=False)
    except ValueError as exc:
        raise InputError(str(exc)) from None


def _unique(values: List[str]) -> List[str]:
    seen = []  # type: List[str]
    for value in values:
        if value not in seen:
            seen.append(value)
    return seen


def _is_terminal() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def _print_json(doc: Dict[str, Any]) -> None:
    click.echo(json.dumps(doc, indent=2, sort_keys=False, default=str))


def _flat(value: Any) -> str:
    if isinstance(value, dict):
        return " ".join(f"{k}={v}" for k, v in value.items())
    return str(value)


def main(argv: Optional[List[str]] = None) -> None:
    """Entry point: every failure becomes one line and an exit code, never a traceback."""
    try:
        code = cli.main(args=argv, prog_name="wire-preflight", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("wire-preflight: interrupted", err=True)
        code = 130
    except click.ClickException as exc:
        exc.show()
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


# The network-readiness commands (dns, tls, ports, listen) live in their own module.
from wire_preflight import cli_network  # noqa: E402, F401
