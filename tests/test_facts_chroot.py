"""The disk check on a minimal chroot: no mount table, so no mount point or filesystem type."""

from helpers import judge, one, with_changes
from wire_preflight.model import PASS


def test_disk_without_a_mount_table_says_what_is_unknown(base_facts):
    disk = dict(base_facts["disks"][0], mountpoint=None, fstype=None)
    facts = with_changes(base_facts, disks=[disk])
    result = one(judge(facts, ["cassandra"]), "disk")
    assert result.status == PASS
    assert "None" not in result.message and "None" not in result.observed
    assert "unknown mount point (no mount table" in result.message
    assert "filesystem type unknown" in result.observed
