"""The filesystems that hold the roles' data directories, and the block devices under them."""

import os
from typing import Any, Dict, List, Optional

from wire_preflight import safefile


def for_paths(paths: List[str]) -> List[Dict[str, Any]]:
    import psutil

    mounts = psutil.disk_partitions(all=True)
    return [describe(path, mounts) for path in paths]


def nearest_existing(path: str) -> str:
    """A data directory that is not created yet will live on its nearest existing parent."""
    path = os.path.abspath(path)
    while not os.path.exists(path):
        path = os.path.dirname(path)
    return path


def describe(path: str, mounts: List[Any]) -> Dict[str, Any]:
    measured = os.path.realpath(nearest_existing(path))
    usage = os.statvfs(measured)
    mount = mount_of(measured, mounts)
    entry = {
        "path": path,
        "measured_path": measured,
        "exists": measured == os.path.realpath(path),
        "mountpoint": mount.mountpoint if mount else None,
        "fstype": mount.fstype if mount else None,
        "total_bytes": usage.f_blocks * usage.f_frsize,
        # f_bavail, not f_bfree: what an unprivileged service (cassandra, minio) can write.
        "free_bytes": usage.f_bavail * usage.f_frsize,
    }  # type: Dict[str, Any]
    entry.update(block_device(os.stat(measured).st_dev))
    return entry


def mount_of(path: str, mounts: List[Any]) -> Optional[Any]:
    """The mount whose mountpoint is the longest prefix of path (the last one wins a tie)."""
    best = None
    for mount in mounts:
        point = mount.mountpoint
        inside = path == point or path.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) >= len(best.mountpoint)):
            best = mount
    return best


def block_device(st_dev: int, sys_root: str = "/sys") -> Dict[str, Any]:
    """Name, size and whole disk of the device behind a filesystem, found by its major:minor.

    Going by st_dev rather than the mount table's device string handles LVM, device-mapper
    and by-uuid names alike; filesystems with no block device (overlay, tmpfs, btrfs
    subvolumes) get device None.
    """
    node = os.path.join(sys_root, f"dev/block/{os.major(st_dev)}:{os.minor(st_dev)}")
    if not os.path.exists(node):
        return {"device": None, "device_size_bytes": None, "disk": None}
    real = os.path.realpath(node)
    # always 512-byte units, whatever the hardware
    sectors = int(safefile.read_text(os.path.join(real, "size"), safefile.VALUE).strip())
    is_partition = os.path.exists(os.path.join(real, "partition"))
    disk = os.path.basename(os.path.dirname(real)) if is_partition else os.path.basename(real)
    return {
        "device": "/dev/" + os.path.basename(real),
        "device_size_bytes": sectors * 512,
        "disk": "/dev/" + disk,
    }
