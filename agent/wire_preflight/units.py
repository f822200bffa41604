"""Byte counts for people: decimal GB (the plan's unit) with GiB beside it."""

GIB = 1024**3


def gb(value: float) -> str:
    """'80 GB' for whole numbers, '2.5 GB' otherwise."""
    return f"{value:g} GB"


def decimal(num_bytes: float) -> str:
    return f"{num_bytes / 1e9:.2f} GB"


def size(num_bytes: float) -> str:
    return f"{num_bytes / 1e9:.2f} GB ({num_bytes / GIB:.2f} GiB)"
