"""What a VM with given roles needs: the profile's rows, summed, with the SFT rule applied.

Pure: profile + roles + options in, numbers out. `check` and `plan` both use it, so the
per-VM sums and the fleet totals cannot drift apart.
"""

import math
import os
from typing import Dict, List, NamedTuple, Optional

from wire_preflight.model import InputError
from wire_preflight.profiles import Profile, Role


class DiskNeed(NamedTuple):
    path: str
    gb: float
    roles: List[str]


class Needs(NamedTuple):
    roles: List[str]
    cores: float
    memory_gb: float
    disks: List[DiskNeed]
    sft_cores: int
    # The memory in GiB when every role states GiB (the plan's own unit), else None.
    memory_gib: Optional[float] = None
    # Whether this machine carries other roles' VMs (a hypervisor, not a VM).
    carries: bool = False


def _total_gib(stated: List[Optional[float]]) -> Optional[float]:
    """The roles' memory in GiB when every one states it, else None."""
    known = [gib for gib in stated if gib is not None]
    return sum(known) if stated and len(known) == len(stated) else None


def sft_extra_cores(profile: Profile, role: Role, sft_users: int) -> int:
    """One more core per started 100 concurrent SFT users, on the roles that run SFT."""
    if sft_users <= 0 or role.name not in profile.sft_roles:
        return 0
    return math.ceil(sft_users / profile.sft_users_per_core)


def role_cores(profile: Profile, role: Role, sft_users: int) -> float:
    return role.cores + sft_extra_cores(profile, role, sft_users)


def parse_data_dirs(values: List[str], roles: List[str]) -> Dict[str, str]:
    """`--data-dir PATH` applies to every role given; `--data-dir ROLE=PATH` to one."""
    out = {}  # type: Dict[str, str]
    for value in values:
        role, sep, path = value.partition("=")
        if not sep:
            role, path = "", value
        if not path.startswith("/"):
            raise InputError(f"--data-dir {value!r}: the path must be absolute")
        if role and role not in roles:
            raise InputError(
                "--data-dir {!r}: {!r} is not one of the roles given ({})".format(
                    value, role, ", ".join(roles)
                )
            )
        for name in [role] if role else roles:
            out[name] = os.path.normpath(path)
    return out


def needs_for(
    profile: Profile,
    roles: List[str],
    sft_users: int = 0,
    data_dirs: Optional[Dict[str, str]] = None,
) -> Needs:
    """Sum the roles' rows. Disk is summed per data directory (two roles sharing one
    filesystem need both sizes there); `check` merges paths that share a filesystem."""
    data_dirs = data_dirs or {}
    cores = 0.0
    memory = 0.0
    extra = 0
    per_path = {}  # type: Dict[str, DiskNeed]
    for name in roles:
        role = profile.role(name)
        extra += sft_extra_cores(profile, role, sft_users)
        cores += role_cores(profile, role, sft_users)
        memory += role.memory_gb
        path = data_dirs.get(name, role.data_dir)
        prior = per_path.get(path)
        per_path[path] = DiskNeed(
            path, (prior.gb if prior else 0) + role.disk_gb, (prior.roles if prior else []) + [name]
        )
    stated = [profile.role(name).memory_gib for name in roles]
    return Needs(
        list(roles),
        cores,
        memory,
        list(per_path.values()),
        extra,
        memory_gib=_total_gib(stated),
        carries=any(profile.role(name).carries for name in roles),
    )
