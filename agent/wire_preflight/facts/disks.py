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
        "backing": backing_disks(real, resolved=True),
    }


# Names and strings by which a disk says it is emulated by a hypervisor: virtio-blk (vd*),
# Xen (xvd*), and the vendor/model strings QEMU, VMware, Hyper-V and VirtualBox give their
# emulated SCSI, SATA and NVMe disks.
_VIRTUAL_NAME_PREFIXES = (("vd", "virtio-blk"), ("xvd", "Xen virtual block device"))
_VIRTUAL_STRINGS = ("QEMU", "VMWARE", "VIRTUAL", "VBOX", "MSFT", "RED HAT", "XEN")
_MAX_STACK_DEPTH = 16  # dm on md on partitions is 3 deep; a cycle in /sys is not possible


def backing_disks(device_dir: str, depth: int = 0, resolved: bool = False) -> List[Dict[str, Any]]:
    """The whole disks under a block device's /sys directory, through partitions, LVM and
    other device-mapper targets (dm-crypt, multipath) and md RAID: the kernel lists a stacked
    device's members in its slaves/ directory. Each with its queue/rotational flag and what
    says whether a hypervisor emulates it."""
    # realpath walks every component of a deep /sys path: skip it when the caller resolved it.
    real = device_dir if resolved else os.path.realpath(device_dir)
    if os.path.exists(os.path.join(real, "partition")):
        real = os.path.dirname(real)
    slaves_dir = os.path.join(real, "slaves")
    try:
        slaves = sorted(os.listdir(slaves_dir))
    except OSError:
        slaves = []
    if slaves and depth < _MAX_STACK_DEPTH:
        out = []  # type: List[Dict[str, Any]]
        for slave in slaves:
            for disk in backing_disks(os.path.join(slaves_dir, slave), depth + 1):
                if disk not in out:
                    out.append(disk)
        return out
    return [describe_disk(real)]


def _read_stripped(path: str) -> Optional[str]:
    try:
        return safefile.read_text(path, safefile.VALUE).strip() or None
    except OSError:
        return None


def describe_disk(disk_dir: str) -> Dict[str, Any]:
    name = os.path.basename(disk_dir)
    rotational = _read_stripped(os.path.join(disk_dir, "queue/rotational"))
    vendor = _read_stripped(os.path.join(disk_dir, "device/vendor"))
    model = _read_stripped(os.path.join(disk_dir, "device/model"))
    try:  # the link's last component names the driver: no need to resolve the whole path
        driver_name = os.path.basename(os.readlink(os.path.join(disk_dir, "device/driver")))
    except OSError:
        driver_name = None
    return {
        "name": name,
        "rotational": None if rotational not in ("0", "1") else rotational == "1",
        "vendor": vendor,
        "model": model,
        "driver": driver_name,
        "virtual": virtual_evidence(name, vendor, model, driver_name),
    }


def virtual_evidence(
    name: str, vendor: Optional[str], model: Optional[str], driver: Optional[str]
) -> Optional[str]:
    """Why this disk is taken for one a hypervisor emulates, or None."""
    for prefix, what in _VIRTUAL_NAME_PREFIXES:
        if name.startswith(prefix):
            return f"{what} ({name})"
    if driver and driver.startswith(("virtio", "vmw_pvscsi", "xen", "hv_storvsc")):
        return f"driver {driver}"
    label = " ".join(part for part in (vendor, model) if part)
    if any(word in label.upper() for word in _VIRTUAL_STRINGS):
        return f"vendor/model {label!r}"
    return None
