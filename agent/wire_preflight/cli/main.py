"""The `wire-preflight` command line: it parses options, calls the pipeline (pipeline.py) and
the other pure parts, and prints what they return (render/, fleet/render.py). The network
commands (dns, tls, ports, listen) are in network.py, `fleet` and its subcommands in
fleet.py, `bundle` in bundle/command.py; the options they share are in options.py. Those
are imported only when they run or `--help` lists them (LazyGroup): cron runs `check` and
`report` on every VM, which need none of them.

click, not typer: typer 0.29 (the release pip picks on Python 3.10+) pulls in pydantic-core,
rich and shellingham, a compiled dependency per interpreter for a single-file agent that must
run on four Pythons, and importing it costs about 40 ms more than click (bench/README.md).
"""

import importlib
import os
import sys
from typing import Any, Dict, List, Optional

import click

from wire_preflight import __version__
from wire_preflight.cli.options import (
    check_options,
    collector_access_options,
    echo_lines,
    emit,
    print_json,
    sft_option,
)
from wire_preflight.commandline import (
    error_line,
    file_option,
    full_summaries,
    full_summary,
    profile_option,
    read_token,
)
from wire_preflight.delivery import SPOOL_LIMIT
from wire_preflight.model import EXIT_FAIL, EXIT_INTERNAL, EXIT_OK, EXIT_USAGE, InputError


class LazyGroup(click.Group):
    """A group whose commands named in `lazy` ("name" -> "module:attribute") are imported
    the first time click asks for them: to run one, or to list its summary in `--help`
    (click's documented pattern for lazily loaded subcommands)."""

    def __init__(self, *args: Any, lazy: Optional[Dict[str, str]] = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> List[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy))

    def get_command(self, ctx: click.Context, cmd_name: str) -> Optional[click.Command]:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            module, _, attribute = self.lazy[cmd_name].partition(":")
            command = getattr(importlib.import_module(module), attribute)
            full_summary(command)
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(
    cls=LazyGroup,
    lazy={
        "dns": "wire_preflight.cli.network:dns",
        "tls": "wire_preflight.cli.network:tls",
        "ports": "wire_preflight.cli.network:ports",
        "listen": "wire_preflight.cli.network:listen",
        "fleet": "wire_preflight.cli.fleet:fleet",
        "bundle": "wire_preflight.bundle.command:bundle",
    },
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="wire-preflight")
def cli() -> None:
    """Check VMs against Wire's installation plan, one host or a whole fleet."""


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

    judged = None
    if bundle_file or (options.get("root") or "/") != "/":
        # Only then can it be a bundle: the usual check of this host imports nothing of bundle/.
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
    default=SPOOL_LIMIT,
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
    from wire_preflight import pipeline
    from wire_preflight.delivery import flow
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
    credential = flow.Credential(
        collector, ca_cert, token, enroll_secret, state_dir, doc["facts"], enroll_code
    )
    outcome = flow.deliver(doc, credential, spool_dir, spool_max)
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
        raise click.exceptions.Exit(flow.EXIT_REFUSED)
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
    from wire_preflight import pipeline, profiles

    profile = profiles.load(profile_name)
    paths = ["/"] + [role.data_dir for role in profile.roles.values()] + list(data_dirs)
    snapshot = pipeline.collect_for(profile, paths, root)
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
    from wire_preflight.plan.vms import fleet_plan

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
    from wire_preflight.plan import servers as server_plan

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


def _write_textfile(
    path: str, doc: Dict[str, Any], delivered: Optional[bool] = None, spooled: Optional[int] = None
) -> None:
    from wire_preflight.render import textfile

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
