"""What the `wire-preflight` commands share: their common options, the token file, and how a
list of results is printed. cli.py and cli_network.py both import it; neither imports the other.
"""

import json
import os
import sys
from typing import Any, Callable, Dict, List, Optional

import click

from wire_preflight.model import InputError


def _profile_help() -> str:
    # Listed from the files themselves, so a new built-in profile is never left out.
    from wire_preflight.profiles import builtin_names

    return "Profile name (built-in: {}) or path to a profile TOML file.".format(
        ", ".join(builtin_names())
    )


_PROFILE_HELP = _profile_help()


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


def file_option(*names: str, help: str, required: bool = False) -> Any:
    """An option naming one file (never a directory), shown as FILE."""
    return click.option(
        *names,
        type=click.Path(dir_okay=False),
        default=None,
        required=required,
        metavar="FILE",
        help=help,
    )


def profile_option(func: Any) -> Any:
    return click.option(
        "--profile", "profile_name", default=None, metavar="NAME|PATH", help=_PROFILE_HELP
    )(func)


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


# ctx.meta key: the --config file this command read, so an error in a value it set names it.
CONFIG_FILE = "wire_preflight.config_file"


def _load_config(ctx: click.Context, _param: Any, path: Optional[str]) -> None:
    """--config FILE fills the options the command line does not give (click's default_map).
    Its values go through the options' own types and callbacks, as typed ones do."""
    if path:
        from wire_preflight import config

        ctx.default_map = dict(ctx.default_map or {}, **config.load(path))
        ctx.meta[CONFIG_FILE] = path


def _from_config(exc: "click.ClickException") -> Optional[str]:
    """The config file a bad value came from, when it came from one (not the command line)."""
    ctx, param = getattr(exc, "ctx", None), getattr(exc, "param", None)
    if not isinstance(exc, click.BadParameter) or ctx is None or param is None:
        return None
    from click.core import ParameterSource

    path = ctx.meta.get(CONFIG_FILE)
    if path and ctx.get_parameter_source(param.name) == ParameterSource.DEFAULT_MAP:
        return path
    return None


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


def read_token(token_file: Optional[str], option: str = "--token-file") -> Optional[str]:
    """The one line of a token file, or None when no file is given (a caller that needs one
    says so). A file with more lines, or a line with spaces, is a mistake to name now (exit 2),
    not a header the collector would refuse on every run."""
    if not token_file:
        return None
    from wire_preflight import safefile, secretfile

    try:
        # Judged by name, then read as a bounded regular file: swapping the file in between
        # needs write access to its directory, which already owns the secret.
        warning = secretfile.check(token_file, option)
        text = safefile.read_bytes(token_file, safefile.VALUE).decode("utf-8")
        lines = [line.strip() for line in text.splitlines() if line.strip()]
    except OSError as exc:
        raise InputError(f"cannot read {option} {token_file}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InputError(f"{option} {token_file} is not UTF-8 text") from None
    if not lines:
        raise InputError(f"{option} {token_file} is empty")
    if len(lines) > 1:
        raise InputError(
            f"{option} {token_file} must hold the token alone on one line "
            f"(found {len(lines)} line(s))"
        )
    for index, char in enumerate(lines[0]):
        if char.isspace() or not char.isprintable():
            what = "a space" if char == " " else "a whitespace or unprintable character"
            # The position, never the token: it is a secret.
            raise InputError(
                f"{option} {token_file}: the token has {what} at character {index + 1}; "
                "a token is one word of printable characters"
            )
    if warning:
        click.echo("warning: " + warning, err=True)
    return lines[0]


DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str, option: str) -> float:
    """Seconds from 90, 90s, 15m, 12h or 30d (`fleet drift --since`, the collector's
    `--keep-reports`); a negative, infinite or unreadable one is one line naming the option."""
    import math

    try:
        unit = DURATION_UNITS.get(text[-1:])
        seconds = float(text[:-1]) * unit if unit else float(text)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        raise InputError(f"{option} {text!r}: give seconds or a number with s, m, h or d")
    return seconds


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


def error_line(exc: "click.ClickException", prog: str) -> str:
    """A click error as the one line every other error is: `PROG: error: COMMAND: what`,
    naming the option, with the hint that a group's option goes before its subcommand."""
    ctx = getattr(exc, "ctx", None)
    message = " ".join(exc.format_message().split()).rstrip(".")
    name = getattr(exc, "option_name", None)
    if isinstance(exc, click.NoSuchOption) and name:
        # click 8.0 and 8.1 word this differently; one wording on every Python.
        message = "No such option: " + name
        if exc.possibilities:
            message += "; did you mean {}?".format(" or ".join(sorted(exc.possibilities)))
    where = ""
    if ctx is not None:
        where = " ".join(ctx.command_path.split()[1:])
    config_file = _from_config(exc)
    if config_file and isinstance(exc, click.BadParameter) and exc.param is not None:
        from wire_preflight.config import key_for

        message = "config {}: invalid value for '{}': {}".format(
            config_file, key_for(exc.param.name), " ".join(exc.message.split()).rstrip(".")
        )
        return "{}: error: {}{}".format(prog, where + ": " if where else "", message)
    hint = ""
    if isinstance(exc, click.NoSuchOption) and ctx is not None and name:
        parent = ctx.parent
        while parent is not None:
            if any(name in p.opts for p in parent.command.params if isinstance(p, click.Option)):
                hint = (
                    f"; {name} is an option of `{parent.command_path}`: "
                    f"give it before `{ctx.info_name}`"
                )
                break
            parent = parent.parent
    if isinstance(exc, click.UsageError) and ctx is not None and not hint:
        hint = f" (see `{ctx.command_path} --help`)"
    return "{}: error: {}{}{}".format(prog, where + ": " if where else "", message, hint)


def full_summaries(group: "click.Group") -> None:
    """Each subcommand's summary in `--help` is its docstring's first paragraph, whole: click
    would cut it at about 45 characters with "..."."""
    for command in group.commands.values():
        if not command.short_help and command.help:
            first = command.help.strip().split("\n\n")[0]
            command.short_help = " ".join(first.split())
        if isinstance(command, click.Group):
            full_summaries(command)
