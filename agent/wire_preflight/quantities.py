"""Quantities written for people: counts with their unit, byte counts in decimal GB (the
plan's unit) with GiB beside it. (The `units/` directory beside it is systemd's units.)"""

GIB = 1024**3


def number(value: float) -> str:
    """At most two decimals, no trailing zeros: 4, 4.5, 9.66 (9 GiB in GB)."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def count(value: float, unit: str) -> str:
    """'1 core', '2 cores', '0.5 cores', '1 VM', '7 VMs'."""
    return "{} {}{}".format(number(value), unit, "" if value == 1 else "s")


def gb(value: float) -> str:
    """'80 GB' for whole numbers, '2.5 GB' otherwise."""
    return f"{number(value)} GB"


def decimal(num_bytes: float) -> str:
    return f"{num_bytes / 1e9:.2f} GB"


def size(num_bytes: float) -> str:
    return f"{num_bytes / 1e9:.2f} GB ({num_bytes / GIB:.2f} GiB)"
