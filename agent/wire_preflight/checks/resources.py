"""Checks of the VM's size against the profile's table: cores, memory, disk."""

from typing import Any, Dict, List, Tuple

from wire_preflight.checks import Context, missing_fact, roles_label
from wire_preflight.model import ERROR, FAIL, PASS, WARN, CheckResult
from wire_preflight.units import decimal, gb, size


def _source(context: Context) -> str:
    return context.profile.source


def check_cpu(context: Context) -> List[CheckResult]:
    needs = context.needs
    role = roles_label(needs.roles)
    cpu = context.facts.get("cpu")
    if not cpu or not cpu.get("logical_count"):
        return [missing_fact(context, "cpu", "cpu", role)]
    have = cpu["logical_count"]
    want = needs.cores
    expected = f">= {want:g} cores"
    if needs.sft_cores:
        expected += f" (includes {needs.sft_cores} for SFT)"
    evidence = {"logical_count": have, "required": want, "sft_cores": needs.sft_cores}
    if have >= want:
        return [
            CheckResult(
                "cpu",
                role,
                PASS,
                f"{have} cores",
                expected,
                "enough cores",
                "",
                _source(context),
                evidence,
            )
        ]
    return [
        CheckResult(
            "cpu",
            role,
            FAIL,
            f"{have} cores",
            expected,
            f"{have} cores, {want:g} needed",
            f"give the VM at least {want:g} vCPUs",
            _source(context),
            evidence,
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
    role = roles_label(context.needs.roles)
    memory = context.facts.get("memory")
    if not memory or not memory.get("total_bytes"):
        return [missing_fact(context, "memory", "memory", role)]
    basis, have, threshold = memory_threshold(context, memory)
    want = context.needs.memory_gb
    observed = f"{size(have)} {basis}"
    expected = f"{gb(want)}: {basis} >= {decimal(threshold)}"
    evidence = {
        "basis": basis,
        "observed_bytes": have,
        "threshold_bytes": threshold,
        "memtotal_bytes": memory["total_bytes"],
        "installed_bytes": memory.get("installed_bytes"),
    }
    if have >= threshold:
        return [
            CheckResult(
                "memory",
                role,
                PASS,
                observed,
                expected,
                "enough memory",
                "",
                _source(context),
                evidence,
            )
        ]
    return [
        CheckResult(
            "memory",
            role,
            FAIL,
            observed,
            expected,
            f"{size(have)} of {basis}, the plan asks {gb(want)}",
            f"give the VM at least {gb(want)} of RAM",
            _source(context),
            evidence,
        )
    ]


def check_disk(context: Context) -> List[CheckResult]:
    role_all = roles_label(context.needs.roles)
    disks = context.facts.get("disks")
    if disks is None:
        return [missing_fact(context, "disk", "disks", role_all)]
    by_path = {entry["path"]: entry for entry in disks}
    # Data directories on one filesystem share it: their sizes add up.
    groups = {}  # type: Dict[Any, Dict[str, Any]]
    results = []
    for need in context.needs.disks:
        entry = by_path.get(need.path)
        if entry is None:
            results.append(
                CheckResult(
                    "disk",
                    roles_label(need.roles),
                    ERROR,
                    None,
                    gb(need.gb),
                    f"the facts hold no filesystem for {need.path}",
                    "collect facts on the host with this --data-dir",
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
        return CheckResult(
            "disk",
            role,
            FAIL,
            observed,
            expected,
            f"{where}: filesystem smaller than the {gb(want)} the plan asks",
            "grow the disk under {} to at least {}".format(
                entry.get("mountpoint") or entry.get("measured_path") or "it", gb(want)
            ),
            _source(context),
            evidence,
        )
    warn_fraction = units["disk_free_warn_fraction"]
    if total and free / total < warn_fraction:
        return CheckResult(
            "disk",
            role,
            WARN,
            observed,
            expected,
            f"{where}: less than {warn_fraction:.0%} free",
            "free space or grow the filesystem at {}".format(
                entry.get("mountpoint") or entry.get("measured_path") or "it"
            ),
            _source(context),
            evidence,
        )
    return CheckResult(
        "disk", role, PASS, observed, expected, where, "", _source(context), evidence
    )


# A minimal chroot or container has no mount table (/proc not mounted): say what is unknown
# rather than print "None".
def _mountpoint(entry: Dict[str, Any]) -> str:
    return entry.get("mountpoint") or "an unknown mount point (no mount table: is /proc mounted?)"


def _fstype(entry: Dict[str, Any]) -> str:
    return entry.get("fstype") or "filesystem type unknown"


def check_minio_drive(context: Context) -> List[CheckResult]:
    """MinIO refuses a drive on the root disk in multi-drive setups; NFS corrupts it."""
    rule_table = context.profile.host.get("minio-drive", {})
    source = context.source("minio-drive")
    recommended = rule_table.get("recommended_fstypes", ["xfs"])
    refused = rule_table.get("refused_fstypes", [])
    disks = context.facts.get("disks")
    results = []
    for role, _component, severity in context.rules("minio-drive"):
        if disks is None:
            results.append(missing_fact(context, "minio-drive", "disks", role))
            continue
        by_path = {entry["path"]: entry for entry in disks}
        path = next((n.path for n in context.needs.disks if role in n.roles), None)
        data, root = by_path.get(path), by_path.get("/")
        if data is None or root is None:
            results.append(
                CheckResult(
                    "minio-drive",
                    role,
                    ERROR,
                    None,
                    "a separate drive",
                    "the facts hold no filesystem for {}".format(path if data is None else "/"),
                    "collect facts on the host with this --data-dir",
                    source,
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
                CheckResult(
                    "minio-drive",
                    role,
                    severity,
                    observed,
                    "a drive other than the root disk",
                    "MinIO's data is on the root disk ({})".format(root.get("disk") or "/"),
                    f"attach a separate disk, format it XFS (mkfs.xfs), mount it at {path} "
                    "via /etc/fstab",
                    source,
                    evidence,
                )
            )
        elif fstype in refused:
            results.append(
                CheckResult(
                    "minio-drive",
                    role,
                    FAIL,
                    observed,
                    "a local " + " or ".join(recommended),
                    f"MinIO on {fstype} loses data: it needs a local drive",
                    "use a local disk formatted XFS",
                    source,
                    evidence,
                )
            )
        elif fstype not in recommended:
            results.append(
                CheckResult(
                    "minio-drive",
                    role,
                    WARN,
                    observed,
                    " or ".join(recommended),
                    "{} works, MinIO recommends {}".format(fstype, " or ".join(recommended)),
                    "reformat the data disk with mkfs.xfs before MinIO stores anything",
                    source,
                    evidence,
                )
            )
        else:
            results.append(
                CheckResult(
                    "minio-drive",
                    role,
                    PASS,
                    observed,
                    " or ".join(recommended),
                    f"separate {fstype} drive",
                    "",
                    source,
                    evidence,
                )
            )
    return results
