"""What the `wire-preflight` commands share: their common options and how a list of results is
printed. main.py and network.py both import it; neither imports the other. What the
collector's command line shares with them is in commandline.py.
"""

import json
import os
import sys
from typing import Any, Callable, Dict, List, Optional

import click

from wire_preflight.commandline import CONFIG_FILE, file_option, profile_option


def _address(_ctx: Any, param: Any, value: Any) -> Any:
    """--ip and --k8s-cidr are judged as addresses when given, so a typo names its option."""
    import ipaddress

    try:
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if item is None:
                continue
            if param.name == "k8s_cidrs":
                ipaddress.ip_network(item, strict=False)
            else:
                ipaddress.ip_address(item)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    return value


def collector_access_options(func: Any) -> Any:
    """--token-file and --ca-cert: how `report` and `fleet` talk to a collector."""
    func = file_option(
        "--ca-cert", help="CA certificate that signed the collector's TLS certificate."
    )(func)
    return file_option("--token-file", help="File holding the collector's API token.")(func)


def sft_option(func: Any) -> Any:
    return click.option(
        "--sft-users",
        type=click.IntRange(min=0),
        default=0,
        show_default=True,
        help="Concurrent conference-call (SFT) users: one more core per 100 "
        "on each Kubernetes node.",
    )(func)


def _load_config(ctx: click.Context, _param: Any, path: Optional[str]) -> None:
    """--config FILE fills the options the command line does not give (click's default_map).
    Its values go through the options' own types and callbacks, as typed ones do."""
    if path:
        from wire_preflight import config

        ctx.default_map = dict(ctx.default_map or {}, **config.load(path))
        ctx.meta[CONFIG_FILE] = path


_CHECK_OPTIONS: List[Callable[[Any], Any]] = [
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
    profile_option,
    sft_option,
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
        callback=_address,
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
        callback=_address,
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


def check_options(func: Any) -> Any:
    """The options of `check` and `report`: what to judge and how (pipeline.Options)."""
    for option in reversed(_CHECK_OPTIONS):
        func = option(func)
    return func


def emit(results: List[Any], doc: Dict[str, Any], as_json: bool) -> int:
    """Results for a person (table on a terminal, plain lines in a pipe) or as JSON."""
    from wire_preflight.model import exit_code, verdict

    if as_json:
        print_json(doc)
    else:
        from wire_preflight.render import text

        colour = is_terminal()
        for line in text.table(results, colour) if colour else text.plain(results):
            click.echo(line)
        click.echo(verdict(results))
    return exit_code(results)


def echo_lines(lines: List[str]) -> None:
    for line in lines:
        click.echo(line)


def is_terminal() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def print_json(doc: Dict[str, Any]) -> None:
    click.echo(json.dumps(doc, indent=2, sort_keys=False, default=str))
