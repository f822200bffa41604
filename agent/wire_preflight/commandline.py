"""What the two programs' command lines share, `wire-preflight` (cli/) and
`wire-preflight-collector`: the file and profile options, token files, durations, the one-line
error and whole summaries in --help.

Neutral ground: the collector imports this module, never the agent's command line (cli/).
"""

from typing import Any, Optional

import click

from wire_preflight.model import InputError


def _profile_help() -> str:
    # Listed from the files themselves, so a new built-in profile is never left out.
    from wire_preflight.profiles import builtin_names

    return "Profile name (built-in: {}) or path to a profile TOML file.".format(
        ", ".join(builtin_names())
    )


_PROFILE_HELP = _profile_help()


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


# ctx.meta key: the --config file this command read, so an error in a value it set names it.
CONFIG_FILE = "wire_preflight.config_file"


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
        full_summary(command)


def full_summary(command: "click.Command") -> None:
    """full_summaries() for one command (and its subcommands): for a command a group loads
    only when it is asked for."""
    if not command.short_help and command.help:
        first = command.help.strip().split("\n\n")[0]
        command.short_help = " ".join(first.split())
    if isinstance(command, click.Group):
        full_summaries(command)
