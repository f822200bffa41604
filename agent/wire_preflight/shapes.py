"""The shapes of the agent's main JSON documents, for the type checker only.

TypedDict is in `typing` from Python 3.8 and the agent also runs on 3.6 (Ubuntu 18.04), which
has no typing_extensions to lean on: the classes exist only while mypy reads the code, and the
modules that use them import them under TYPE_CHECKING and name them in string annotations.

The collector validates the same documents with its pydantic models
(wire_preflight_collector/schema.py: HostSummary, DriftSnapshot, Facts); tests/test_shapes.py
holds real summaries and snapshots against those models.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any, Dict, List, Literal, Optional, TypedDict

    from typing_extensions import NotRequired

    # --- facts (facts/*.py): the areas the checks and the fleet read most --------------------

    class OsFacts(TypedDict):
        id: str
        version_id: str
        codename: str
        pretty_name: str

    class CpuFacts(TypedDict):
        logical_count: Optional[int]
        physical_count: Optional[int]

    class MemoryFacts(TypedDict):
        total_bytes: int
        swap_total_bytes: int
        installed_bytes: NotRequired[int]  # when /sys/devices/system/memory says it
        installed_source: NotRequired[str]

    # From iproute2's JSON (facts/network.py), where any key may be missing.
    class AddressFacts(TypedDict):
        family: Optional[str]
        address: Optional[str]
        prefixlen: Optional[int]
        scope: Optional[str]
        dynamic: bool
        valid_lifetime: Optional[int]  # seconds; None: permanent
        preferred_lifetime: Optional[int]

    class InterfaceFacts(TypedDict):
        name: Optional[str]
        index: Optional[int]
        mac: Optional[str]
        link_type: Optional[str]
        state: Optional[str]
        flags: List[str]
        mtu: Optional[int]
        addresses: List[AddressFacts]

    class PrimaryFacts(TypedDict):
        interface: Optional[str]
        address: Optional[str]
        prefixlen: Optional[int]
        family: str
        mtu: Optional[int]

    class NetworkFacts(TypedDict):
        interfaces: List[InterfaceFacts]
        default_routes: List[Dict[str, Any]]
        primary: Optional[PrimaryFacts]

    class TimeFacts(TypedDict, total=False):
        source: Optional[str]  # adjtimex, timedatectl, chronyc, or None: nothing answered
        synchronized: Optional[bool]
        state: int
        status: int
        offset: int
        maxerror_us: int
        esterror_us: int
        detail: str
        daemons: List[str]

    # --- what the fleet rules read about one host (fleet/summary.py) -------------------------

    HostStatus = Literal["pass", "warn", "fail"]

    class Clock(TypedDict):
        offset_s: Optional[float]
        uncertainty_s: Optional[float]
        source: Optional[str]  # "collector", "ntp", or None: unknown
        synchronized: Optional[bool]

    class StoredProbe(TypedDict):
        from_role: Optional[str]
        to_role: Optional[str]
        peer: Optional[str]
        proto: Optional[str]
        port: Optional[int]
        state: Optional[str]

    class HostSummary(TypedDict):
        hostname: str
        machine_id: Optional[str]
        product_uuid: Optional[str]
        roles: List[str]
        physical_host: Optional[str]
        profile: Optional[str]
        report_id: Optional[str]
        generated_at: Optional[str]
        received_at: Optional[float]
        status: HostStatus
        failing: List[str]
        warnings: List[str]
        primary_address: Optional[str]
        primary_interface: Optional[str]
        primary_mtu: Optional[int]
        addresses: List[str]
        interfaces: Dict[str, List[str]]
        macs: List[str]
        os: str
        cpu: Optional[int]
        memory_bytes: Optional[int]
        clock: Clock
        reachability: List[StoredProbe]

    # --- a fleet rule's verdict (fleet/rules.py) ---------------------------------------------

    class Finding(TypedDict):
        id: str  # the rule that made it
        status: str  # model.FAIL, WARN, SKIP or PASS
        scope: str  # "reported" (by the agents) or "planned" (in the inventory)
        roles: List[str]
        hosts: List[str]
        message: str
        remedy: str
        server: NotRequired[str]  # physical-spread: the server whose loss breaks a quorum

    # --- what drift compares between two reports of a host (fleet/drift.py) ------------------

    class SnapshotDisk(TypedDict):
        total: Optional[int]
        free: Optional[int]
        mountpoint: Optional[str]

    class DriftSnapshot(TypedDict):
        roles: List[str]
        primary: Optional[str]
        addresses: List[str]
        os: str
        cpu: Optional[int]
        memory_installed: Optional[int]
        memory_total: Optional[int]
        disks: Dict[str, SnapshotDisk]
        checks: Dict[str, Optional[str]]  # "id|role" -> status
