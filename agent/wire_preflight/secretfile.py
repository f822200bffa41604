"""Whether a file holding a secret is kept private, as OpenSSH judges a private key.

A token or key that other users can read is a leaked credential; one that others can write
is a credential they can replace. Either is refused, with the one command that fixes it. A
file its group may read is allowed with a warning: that is how an operator lets a service
user read a file root owns (0640 root:GROUP), and how some systemd versions hand a unit its
LoadCredential= files.
"""

import os
import shlex
import stat
from typing import Optional

from wire_preflight.model import InputError


def judge(path: str, option: str, mode: int) -> Optional[str]:
    """None when `mode` keeps the file private, a warning line when only its group may read
    it; InputError when others may read it, or anyone but the owner may write it."""
    mode = stat.S_IMODE(mode)
    fix = "chmod 600 " + shlex.quote(path)
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        who = "other users" if mode & stat.S_IWOTH else "its group"
        raise InputError(
            f"{option} {path} is writable by {who} (mode {mode:04o}): anyone there could "
            f"replace the secret; run: {fix}"
        )
    if mode & stat.S_IROTH:
        raise InputError(
            f"{option} {path} is readable by other users (mode {mode:04o}): the secret is exposed; "
            f"run: {fix} (and replace the secret if others may have read it)"
        )
    if mode & stat.S_IRGRP:
        return (
            f"{option} {path} is readable by its group (mode {mode:04o}); "
            f"if no service needs that: {fix}"
        )
    return None


def check(path: str, option: str) -> Optional[str]:
    """judge() on the file as named."""
    return judge(path, option, os.stat(path).st_mode)
