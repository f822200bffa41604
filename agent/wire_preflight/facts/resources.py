"""CPU and memory, as the kernel reports them."""

from typing import TYPE_CHECKING, Dict, List, Optional

from wire_preflight import safefile
from wire_preflight.facts import files

if TYPE_CHECKING:
    from wire_preflight.shapes import CpuFacts, MemoryFacts


MEMORY_SYSFS = "/sys/devices/system/memory"
# 64 TiB in the kernel's smallest memory blocks (128 MiB): past any VM Wire runs on.
MAX_MEMORY_BLOCKS = 64 * 1024 * 8


def cpu() -> "CpuFacts":
    import psutil

    return {
        "logical_count": psutil.cpu_count(logical=True),
        "physical_count": psutil.cpu_count(logical=False),
    }


def memory(root: str = "/") -> "MemoryFacts":
    total = parse_meminfo(files.read_text(root, "/proc/meminfo", safefile.CONFIG))
    out: MemoryFacts = {
        "total_bytes": total["MemTotal"],
        "swap_total_bytes": total.get("SwapTotal", 0),
    }
    installed = installed_memory(root)
    if installed is not None:
        out["installed_bytes"] = installed
        out["installed_source"] = MEMORY_SYSFS
    return out


def parse_meminfo(text: str) -> Dict[str, int]:
    """/proc/meminfo lines look like 'MemTotal:  4028880 kB'; values become bytes."""
    values = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        fields = rest.split()
        if not fields:
            continue
        number = int(fields[0])
        values[key] = number * 1024 if fields[1:] == ["kB"] else number
    if "MemTotal" not in values:
        raise ValueError("/proc/meminfo has no MemTotal line")
    return values


def installed_memory(root: str = "/") -> Optional[int]:
    """RAM the VM was given: memory blocks times the block size, where the kernel shows them.

    Blocks cover only ranges that hold RAM (the PCI hole has none), so a 4 GiB VM shows
    exactly 4 GiB here while MemTotal is short by what the kernel reserved. Both are read
    inside root: a captured tree's sysfs is the tree's, never the running machine's.
    """
    try:
        text = files.read_text(root, MEMORY_SYSFS + "/block_size_bytes", safefile.VALUE)
        block_size = int(text.strip(), 16)
        entries = files.entries(root, MEMORY_SYSFS, MAX_MEMORY_BLOCKS)
    except (OSError, ValueError):
        return None
    blocks = count_memory_blocks(entries)
    return blocks * block_size if blocks else None


def count_memory_blocks(entries: List[str]) -> int:
    return sum(1 for name in entries if name.startswith("memory") and name[6:].isdigit())
