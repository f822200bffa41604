"""/etc/wire-preflight/agent.conf: the options of `check` and `report` that differ per VM, so
the systemd units and the cron entry are the same file on every VM.

    [agent]
    roles = cassandra
    collector = https://admin.example.com:8443
    enroll_secret_file = /etc/wire-preflight/enroll-secret
    physical_host = server1

Keys are the long option names with '_' for '-'; lists are comma-separated. Options given on
the command line win over the file. Anything the agent would not read is an error naming the
file: another section (a misspelt [agnet]), keys under [DEFAULT] (configparser would quietly
add them to [agent]), an unknown key, `roles` and `role` both. The values are judged by the
options' own checks; commandline.error_line says when a bad one came from the file.
"""

import configparser
from typing import Any, Dict

DEFAULT_PATH = "/etc/wire-preflight/agent.conf"

# config key -> (click parameter name, kind)
KEYS = {
    "roles": ("roles", list),
    "role": ("roles", list),
    "profile": ("profile_name", str),
    "sft_users": ("sft_users", int),
    "data_dir": ("data_dirs", list),
    "physical_host": ("physical_host", str),
    "ignore": ("ignore", list),
    "ip": ("target_ip", str),
    "interface": ("target_interface", str),
    "k8s_cidr": ("k8s_cidrs", list),
    "state_dir": ("state_dir", str),
    "textfile": ("textfile", str),
    "collector": ("collector", str),
    "token_file": ("token_file", str),
    "enroll_secret_file": ("enroll_secret_file", str),
    "ca_cert": ("ca_cert", str),
    "spool_dir": ("spool_dir", str),
    "spool_max": ("spool_max", int),
    "random_delay": ("random_delay", int),
}


def load(path: str) -> Dict[str, Any]:
    """click default_map values from the file; InputError names the file and the key."""
    from wire_preflight.model import InputError

    parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=("#", ";"))
    from wire_preflight import safefile

    try:
        parser.read_string(safefile.read_bytes(path, safefile.CONFIG).decode("utf-8"), path)
    except OSError as exc:
        raise InputError(f"cannot read config {path}: {exc.strerror}") from None
    except (configparser.Error, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0]
        raise InputError(f"config {path} is not valid: {first}") from None
    others = ", ".join(f"[{name}]" for name in parser.sections() if name != "agent")
    if not parser.has_section("agent"):
        found = f" (found {others})" if others else ""
        raise InputError(f"config {path}: no [agent] section{found}")
    if others:
        raise InputError(f"config {path}: unknown section {others}; the agent reads only [agent]")
    if parser.defaults():
        raise InputError(
            "config {}: keys under [DEFAULT] ({}) are not read: put them under [agent]".format(
                path, ", ".join(parser.defaults())
            )
        )
    if parser.has_option("agent", "roles") and parser.has_option("agent", "role"):
        raise InputError(
            f"config {path}: both 'roles' and 'role' are given: keep one (a comma-separated list)"
        )
    out = {}  # type: Dict[str, Any]
    for key, raw in parser.items("agent"):
        if key not in KEYS:
            raise InputError(
                "config {}: unknown key '{}'; keys: {}".format(path, key, ", ".join(sorted(KEYS)))
            )
        name, kind = KEYS[key]
        value = raw.strip()
        if not value:
            continue
        if kind is list:
            out[name] = [item.strip() for item in value.split(",") if item.strip()]
        elif kind is int:
            try:
                out[name] = int(value)
            except ValueError:
                raise InputError(
                    f"config {path}: '{key}' must be a whole number, got {value!r}"
                ) from None
        else:
            out[name] = value
    return out


def key_for(param_name: str) -> str:
    """The config key that sets a click parameter (`target_ip` -> `ip`)."""
    return next((key for key, (name, _kind) in KEYS.items() if name == param_name), param_name)
