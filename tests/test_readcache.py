"""The collector judges the fleet once per change of its store, not once per read: the
store's generation token, and reads that still follow every write, whichever collector
process made it, on both stores (a real PostgreSQL server, as in test_store.py)."""

import time

import pytest
from helpers import make_report
from test_store import open_db, wait_for

pytest.importorskip("fastapi", reason="the collector needs Python >= 3.10 and its extras")
from collectorlib import Collector


def report(base, hostname, number=0):
    body = make_report(base, hostname, ["minio"], physical_host="server1")
    body["report_id"] = f"{hostname}-{number}"
    return body


def test_generation_changes_with_each_change_and_only_then(db, base_facts):
    store, other = open_db(db), open_db(db)  # `other`: a second collector on the database
    before = store.generation()
    assert store.ingest(report(base_facts, "minio1"))[0]
    after_report = store.generation()
    assert after_report != before
    assert not store.ingest(report(base_facts, "minio1"))[0]  # a retry stores nothing
    assert store.mark_stale(time.time(), 3600) == []  # nothing stale: nothing written
    assert store.generation() == after_report
    assert other.ingest(report(base_facts, "minio2"))[0]
    assert store.generation() not in (before, after_report)
    seen = store.generation()
    assert store.forget("minio2")
    assert other.generation() != seen
    seen = other.generation()
    assert store.mark_stale(time.time() + 7200, 3600)  # minio1 goes stale: a write
    assert other.generation() != seen


def fleet_hosts(collector):
    return {h["hostname"]: h["stale"] for h in collector.get("/api/v1/fleet").json()["hosts"]}


def test_reads_follow_writes_of_another_collector_and_the_clock(db, tmp_path, base_facts):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = Collector(tmp_path / "a", db=db).start()
    b = Collector(tmp_path / "b", "--stale-after", "2", db=db).start()
    try:
        assert a.post(report(base_facts, "minio1")).status_code == 201
        assert fleet_hosts(b) == {"minio1": False}
        assert fleet_hosts(b) == {"minio1": False}  # asked again, nothing changed
        metrics = b.get("/metrics").text
        assert 'wire_preflight_host_stale{hostname="minio1"} 0.0' in metrics
        page = b.get("/").text
        assert "minio1" in page and "minio2" not in page
        # The other collector's write reaches every one of b's reads.
        assert a.post(report(base_facts, "minio2")).status_code == 201
        assert fleet_hosts(b) == {"minio1": False, "minio2": False}
        assert 'hostname="minio2"' in b.get("/metrics").text
        assert "minio2" in b.get("/").text
        # No report for 2 s: b's stale-watcher marks both, and its cached reads follow.
        wait_for(lambda: fleet_hosts(b) == {"minio1": True, "minio2": True})
        assert 'wire_preflight_host_stale{hostname="minio2"} 1.0' in b.get("/metrics").text
        # A report brings a host back, through a.
        assert a.post(report(base_facts, "minio1", 1)).status_code == 201
        assert fleet_hosts(b)["minio1"] is False
    finally:
        a.stop()
        b.stop()


def test_held_value_is_made_anew_in_the_background_once_too_old():
    from wire_preflight_collector.readcache import PerGeneration

    made = []

    def compute():
        made.append(len(made))
        return len(made)

    token = ["g1"]
    held = PerGeneration(lambda: token[0])
    assert held.get("page", compute, max_age=3600) == 1
    assert held.get("page", compute, max_age=3600) == 1 and made == [0]
    assert held.get("page", compute, max_age=0) == 1  # too old: answered at once, refreshed
    wait_for(lambda: held.get("page", compute, max_age=3600) == 2)
    token[0] = "g2"  # a write: made anew before answering
    assert held.get("page", compute, max_age=3600) == 3
