"""Checks of the VM's size against the profile's table: cores, memory, disk."""

from typing import Any, Dict, List, Tuple

from wire_preflight.checks import Context, roles_label
from wire_preflight.model import ERROR, FAIL, PASS, WARN, CheckResult
from wire_preflight.quantities import count, decimal, gb, number, size


def _source(context: Context) -> str:
    return context.profile.source


def check_cpu(context: Context) -> List[CheckResult]:
    needs = context.needs
    cpu = context.facts.get("cpu")
    if not cpu or not cpu.get("logical_count"):
        return [context.missing("cpu")]
    have = cpu["logical_count"]
    want = needs.cores
    expected = ">= " + count(want, "core")
    if needs.sft_cores:
        expected += f" (includes {needs.sft_cores} for SFT)"
    evidence = {"logical_count": have, "required": want, "sft_cores": needs.sft_cores}
    if have >= want:
        return [
            context.result(
                PASS,
                observed=count(have, "core"),
                expected=expected,
                message="enough cores",
                source=_source(context),
                evidence=evidence,
            )
        ]
    return [
        context.result(
            FAIL,
            observed=count(have, "core"),
            expected=expected,
            message="{}, {} needed".format(count(have, "core"), count(want, "core")),
            remedy=f"run the VMs on a machine with at least {want:g} CPUs"
            if needs.carries
            else f"give the VM at least {want:g} vCPUs",
            source=_source(context),
            evidence=evidence,
        )
    ]


def memory_threshold(context: Context, memory: Dict[str, Any]) -> Tuple[str, int, int]:
    """(basis, observed bytes, threshold bytes): installed RAM where visible, else MemTotal."""
    units = context.profile.units
    need = context.needs.memory_gb * units["bytes_per_gb"]
    installed = memory.get("installed_bytes")
    if installed:
        return "installed RAM", installed, int(need)
    return "MemTotal", memory["total_bytes"], int(need * (1 - units["memtotal_allowance"]))


def check_memory(context: Context) -> List[CheckResult]:
    memory = context.facts.get("memory")
    if not memory or not memory.get("total_bytes"):
        return [context.missing("memory")]
    basis, have, threshold = memory_threshold(context, memory)
    want = context.needs.memory_gb
    gib = context.needs.memory_gib
    # In the plan's own unit: "8 GiB (8.59 GB)" where it states GiB.
    asked = f"{number(gib)} GiB ({gb(want)})" if gib else gb(want)
    observed = f"{size(have)} {basis}"
    expected = f"{asked}: {basis} >= {decimal(threshold)}"
    evidence = {
        "basis": basis,
        "observed_bytes": have,
        "threshold_bytes": threshold,
        "memtotal_bytes": memory["total_bytes"],
        "installed_bytes": memory.get("installed_bytes"),
    }
    if have >= threshold:
        return [
            context.result(
                PASS,
                observed=observed,
                expected=expected,
                message="enough memory",
                source=_source(context),
                evidence=evidence,
            )
        ]
    return [
        context.result(
            FAIL,
            observed=observed,
            expected=expected,
            message=f"{size(have)} of {basis}, the plan asks {asked}",
            remedy="give the {} at least {} of RAM".format(
                "machine" if context.needs.carries else "VM", asked
            ),
            source=_source(context),
            evidence=evidence,
        )
    ]


def check_disk(context: Context) -> List[CheckResult]:
    disks = context.facts.get("disks")
    if disks is None:
        return [context.missing("disks")]
    by_path = {entry["path"]: entry for entry in disks}
    # Data directories on one filesystem share it: their sizes add up.
    groups = {}  # type: Dict[Any, Dict[str, Any]]
    results = []
    for need in context.needs.disks:
        entry = by_path.get(need.path)
        if entry is None:
            results.append(
                context.result(
                    ERROR,
                    observed=None,
                    expected=gb(need.gb),
                    message=f"the facts hold no filesystem for {need.path}",
                    remedy="collect facts on the host with this --data-dir",
                    role=roles_label(need.roles),
                    source="",
                )
            )
            continue
        key = (entry.get("device"), entry.get("mountpoint"))
        group = groups.setdefault(key, {"entry": entry, "gb": 0.0, "roles": [], "paths": []})
        group["gb"] += need.gb
        group["roles"] += need.roles
        group["paths"].append(need.path)
    for group in groups.values():
        results.append(_judge_filesystem(context, group))
    return results


def _judge_filesystem(context: Context, group: Dict[str, Any]) -> CheckResult:
    units = context.profile.units
    entry = group["entry"]
    role = roles_label(group["roles"])
    want = group["gb"]
    threshold = int(want * units["bytes_per_gb"] * (1 - units["filesystem_allowance"]))
    total, free = entry["total_bytes"], entry["free_bytes"]
    where = "{} on {} ({}, {})".format(
        ", ".join(group["paths"]),
        _mountpoint(entry),
        entry.get("device") or "no block device",
        _fstype(entry),
    )
    observed = "{} at {} ({}, {}), {} free".format(
        decimal(total),
        _mountpoint(entry),
        _fstype(entry),
        entry.get("device") or "no block device",
        decimal(free),
    )
    expected = f"{gb(want)}: filesystem >= {decimal(threshold)}"
    evidence = dict(entry, threshold_bytes=threshold)
    if total < threshold:
        return context.result(
            FAIL,
            observed=observed,
            expected=expected,
            message=f"{where}: filesystem smaller than the {gb(want)} the plan asks",
            remedy="grow the disk under {} to at least {}".format(
                entry.get("mountpoint") or entry.get("measured_path") or "it", gb(want)
            ),
            role=role,
            source=_source(context),
            evidence=evidence,
        )
    warn_fraction = units["disk_free_warn_fraction"]
    if total and free / total < warn_fraction:
        return context.result(
            WARN,
            observed=observed,
            expected=expected,
            message=f"{where}: less than {warn_fraction:.0%} free",
            remedy="free space or grow the filesystem at {}".format(
                entry.get("mountpoint") or entry.get("measured_path") or "it"
            ),
            role=role,
            source=_source(context),
            evidence=evidence,
        )
    return context.result(
        PASS,
        observed=observed,
        expected=expected,
        message=where,
        role=role,
        source=_source(context),
        evidence=evidence,
    )


# A minimal chroot or container has no mount table (/proc not mounted): say what is unknown
# rather than print "None".
def _mountpoint(entry: Dict[str, Any]) -> str:
    return entry.get("mountpoint") or "an unknown mount point (no mount table: is /proc mounted?)"


def _fstype(entry: Dict[str, Any]) -> str:
    return entry.get("fstype") or "filesystem type unknown"


def check_minio_drive(context: Context) -> List[CheckResult]:
    """MinIO refuses a drive on the root disk in multi-drive setups; NFS corrupts it."""
    rule_table = context.table()
    recommended = rule_table.get("recommended_fstypes", ["xfs"])
    refused = rule_table.get("refused_fstypes", [])
    disks = context.facts.get("disks")
    results = []
    for role, _component, severity in context.rules():
        if disks is None:
            results.append(context.missing("disks", role))
            continue
        by_path = {entry["path"]: entry for entry in disks}
        path = next((n.path for n in context.needs.disks if role in n.roles), None)
        data, root = by_path.get(path), by_path.get("/")
        if data is None or root is None:
            results.append(
                context.result(
                    ERROR,
                    observed=None,
                    expected="a separate drive",
                    message="the facts hold no filesystem for {}".format(
                        path if data is None else "/"
                    ),
                    remedy="collect facts on the host with this --data-dir",
                    role=role,
                )
            )
            continue
        observed = "{} on {} ({}, {})".format(
            path,
            _mountpoint(data),
            _fstype(data),
            data.get("disk") or data.get("device") or "no block device",
        )
        evidence = {"data": data, "root": root}
        same_disk = (data.get("disk") or data.get("mountpoint")) == (
            root.get("disk") or root.get("mountpoint")
        )
        fstype = data.get("fstype") or ""
        if same_disk:
            results.append(
                context.result(
                    severity,
                    observed=observed,
                    expected="a drive other than the root disk",
                    message="MinIO's data is on the root disk ({})".format(root.get("disk") or "/"),
                    remedy=f"attach a separate disk, format it XFS (mkfs.xfs), mount it at "
                    f"{path} via /etc/fstab",
                    role=role,
                    evidence=evidence,
                )
            )
        elif fstype in refused:
            results.append(
                context.result(
                    FAIL,
                    observed=observed,
                    expected="a local " + " or ".join(recommended),
                    message=f"MinIO on {fstype} loses data: it needs a local drive",
                    remedy="use a local disk formatted XFS",
                    role=role,
                    evidence=evidence,
                )
            )
        elif fstype not in recommended:
            results.append(
                context.result(
                    WARN,
                    observed=observed,
                    expected=" or ".join(recommended),
                    message="{} works, MinIO recommends {}".format(
                        fstype, " or ".join(recommended)
                    ),
                    remedy="reformat the data disk with mkfs.xfs before MinIO stores anything",
                    role=role,
                    evidence=evidence,
                )
            )
        else:
            results.append(
                context.result(
                    PASS,
                    observed=observed,
                    expected=" or ".join(recommended),
                    message=f"separate {fstype} drive",
                    role=role,
                    evidence=evidence,
                )
            )
    return results
