"""`wire-preflight install-timer`: put the systemd timer (or the cron entry) and an example
config in place, pointing at however this agent was installed (a .deb's /usr/bin, a venv, a
single .pyz file)."""

import os
import shlex
import subprocess
import sys
from typing import Callable, List, Optional

from wire_preflight.atomicfile import write_atomically

UNITS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "units")
SHIPPED_COMMAND = "/usr/bin/wire-preflight"


def self_command() -> str:
    """The command that runs this agent again, for ExecStart and the cron line."""
    argv0 = os.path.realpath(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    if argv0.endswith(".pyz"):
        return f"{shlex.quote(sys.executable)} {shlex.quote(argv0)}"
    if os.path.basename(argv0) == "wire-preflight" and os.access(argv0, os.X_OK):
        return shlex.quote(argv0)
    return f"{shlex.quote(sys.executable)} -m wire_preflight"


def _render(name: str, command: str, config: str) -> str:
    with open(os.path.join(UNITS, name), encoding="utf-8") as handle:
        text = handle.read()
    text = text.replace(SHIPPED_COMMAND, command).replace("/etc/wire-preflight/agent.conf", config)
    if ".pyz" in command and name.endswith(".service"):
        # The single-file agent unpacks itself once; the unit may write only its state dir.
        text = text.replace(
            "[Service]\n",
            "[Service]\nEnvironment=WIRE_PREFLIGHT_PYZ_ROOT=/var/lib/wire-preflight/pyz\n",
        )
    return text


def _write(path: str, text: str, mode: int = 0o644) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_atomically(path, text, mode)


def names_collector(path: str) -> bool:
    """Whether the config at path sets `collector` (a missing file sets nothing)."""
    from wire_preflight import config

    if not os.path.exists(path):
        return False
    return bool(config.load(path).get("collector"))


CRON_ENTRY = "/etc/cron.d/wire-preflight"
UNIT_DIR = "/etc/systemd/system"
TIMER_WANTS = f"{UNIT_DIR}/timers.target.wants/wire-preflight.timer"


def _remove_timer(target: Callable[[str], str], live: bool) -> List[str]:
    """Take out the systemd timer install-timer put in (the cron entry replaces it). A timer
    enabled from elsewhere (the .deb's, in /lib/systemd/system) is the operator's to switch
    off: refused with the command that does it."""
    ours = [
        target(f"{UNIT_DIR}/{name}")
        for name in ("wire-preflight.timer", "wire-preflight.service")
        if os.path.exists(target(f"{UNIT_DIR}/{name}"))
    ]
    if not ours:
        if os.path.lexists(target(TIMER_WANTS)):
            from wire_preflight.model import InputError

            raise InputError(
                "wire-preflight.timer (from the package) is enabled and would run beside the "
                "cron entry: `systemctl disable --now wire-preflight.timer` first"
            )
        return []
    done = []
    if live:
        subprocess.run(["systemctl", "disable", "--now", "wire-preflight.timer"], check=False)
        done.append("systemctl disable --now wire-preflight.timer")
    elif os.path.lexists(target(TIMER_WANTS)):
        os.remove(target(TIMER_WANTS))
    for path in ours:
        os.remove(path)
        done.append(f"removed {path} (the cron entry replaces the systemd timer)")
    if live:
        subprocess.run(["systemctl", "daemon-reload"], check=True)
        done.append("systemctl daemon-reload")
    return done


def install(
    root: str = "/",
    cron: bool = False,
    config: str = "/etc/wire-preflight/agent.conf",
    enable: bool = True,
    command: Optional[str] = None,
) -> List[str]:
    """Returns what was done, one line each."""
    command = command or self_command()
    done = []
    target = lambda path: os.path.join(root, path.lstrip("/"))  # noqa: E731
    # systemd is told about units only on this machine's own root, where it runs.
    live = root == "/" and os.path.isdir("/run/systemd/system")
    # One schedule at a time: both would report twice as often, and nothing would say so.
    if cron:
        done.extend(_remove_timer(target, live))
        path = target(CRON_ENTRY)
        _write(path, _render("wire-preflight.cron", command, config))
        done.append("wrote " + path)
    else:
        for name in ("wire-preflight.service", "wire-preflight.timer"):
            path = target(f"{UNIT_DIR}/{name}")
            _write(path, _render(name, command, config))
            done.append("wrote " + path)
        if os.path.exists(target(CRON_ENTRY)):
            os.remove(target(CRON_ENTRY))
            done.append(f"removed {target(CRON_ENTRY)} (the systemd timer replaces the cron entry)")
    config_path = target(config)
    if os.path.exists(config_path):
        done.append("kept the existing " + config_path)
    else:
        with open(os.path.join(UNITS, "agent.conf"), encoding="utf-8") as handle:
            _write(config_path, handle.read())
        done.append(
            f"wrote an example {config_path} (all commented out): set roles, physical_host, "
            "collector and its credential"
        )
    if not names_collector(config_path):
        # The example sets nothing: a timer with nowhere to report would fail every 5 minutes.
        then = (
            "each cron run fails until then"
            if cron
            else "then `systemctl enable --now wire-preflight.timer`"
        )
        done.append(
            f"not enabled: {config_path} names no collector yet; set `collector` and "
            f"`token_file` or `enroll_secret_file` there, {then}"
        )
    elif not cron and enable and live:
        for args in (["daemon-reload"], ["enable", "--now", "wire-preflight.timer"]):
            subprocess.run(["systemctl", *args], check=True)
            done.append("systemctl " + " ".join(args))
    elif not cron and enable:
        done.append(
            "not enabled (no running systemd here, or --root given): run "
            "`systemctl enable --now wire-preflight.timer` on the VM"
        )
    return done
