"""The collector judges the fleet once per change of its store, not once per read: the
store's generation token, and reads that still follow every write, whichever collector
process made it, on both stores (a real PostgreSQL server, as in test_store.py)."""

import json
import threading
import time
from email.utils import parsedate_to_datetime

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


# -- under steady ingest: a costly judgement at most once per lag, a bounded lag -------------


class Maker:
    """compute() for PerGeneration: counts its makings; `gate`, when set, holds one making
    until the test opens it (a judgement under way)."""

    def __init__(self):
        self.made = 0
        self.gate = None
        self.started = threading.Event()

    def __call__(self):
        self.started.set()
        if self.gate is not None:
            self.gate.wait()
        self.made += 1
        return self.made


def costly(token, lag, bound=3600.0):
    """A PerGeneration on which every value counts as costly to make (cheap=0)."""
    from wire_preflight_collector.readcache import PerGeneration

    return PerGeneration(lambda: token[0], lag=lag, bound=bound, cheap=0.0)


def test_within_the_lag_a_change_answers_the_held_value_and_judges_nothing():
    token, make = ["g1"], Maker()
    held = costly(token, lag=3600)
    assert held.get("fleet", make) == 1
    for number in range(2, 6):  # reports keep arriving, readers keep reading
        token[0] = f"g{number}"
        assert held.get("fleet", make) == 1
    assert make.made == 1


def test_a_change_is_judged_in_the_background_once_the_lag_passes():
    token, make = ["g1"], Maker()
    held = costly(token, lag=0.3)
    assert held.get("fleet", make) == 1
    token[0] = "g2"  # a report, then reads: the report shows once the judgement is done
    wait_for(lambda: held.get("fleet", make) == 2)
    made = make.made
    assert held.get("fleet", make) == 2 and make.made == made  # nothing changed since
    # Without any reader: one read within the lag schedules the judgement, which runs alone.
    token[0] = "g3"
    assert held.get("fleet", make) in (2, 3)
    wait_for(lambda: make.made == 3)
    assert held.get("fleet", make) == 3


def test_a_read_after_a_quiet_spell_shows_the_latest_state():
    token, make = ["g1"], Maker()
    held = costly(token, lag=0.2)
    first = held.held("fleet", make)
    token[0] = "g2"  # a report, then nothing read until the lag has passed
    wait_for(lambda: time.monotonic() - first.made > 0.2)
    assert held.get("fleet", make) == 2  # this reader judged it, and waited for it


def read_into(answers, held, make):
    answers.append(held.get("fleet", make))


def test_no_reader_gets_a_view_older_than_the_bound_while_one_is_judged():
    for bound, expected in ((3600.0, 1), (0.0, 2)):
        token, make = ["g1"], Maker()
        held = costly(token, lag=0.0, bound=bound)
        assert held.get("fleet", make) == 1
        token[0] = "g2"
        make.gate = threading.Event()
        make.started.clear()  # set by the first making: wait for the judgement's own start
        judging = threading.Thread(target=held.get, args=("fleet", make), daemon=True)
        judging.start()
        answers = []
        reader = threading.Thread(target=read_into, args=(answers, held, make), daemon=True)
        try:
            assert make.started.wait(60)
            reader.start()
            if bound:  # within the bound: the held view, at once, while the judgement runs
                reader.join(60)
                assert answers == [expected]
        finally:
            make.gate.set()
        judging.join(60)
        reader.join(60)
        assert answers == [expected]  # past the bound: the reader waited for the new view


def test_after_show_changes_now_the_next_read_is_of_the_store_as_it_is():
    token, make = ["g1"], Maker()
    held = costly(token, lag=3600)
    assert held.get("fleet", make) == 1
    token[0] = "g2"
    assert held.get("fleet", make) == 1  # a report: behind, within the lag
    token[0] = "g3"
    held.show_changes_now()  # an admin's change
    assert held.get("fleet", make) == 2 and make.made == 2
    token[0] = "g4"  # reports after it lag again
    assert held.get("fleet", make) == 2


def test_a_judgement_begun_before_an_admin_change_is_not_served_behind_it():
    token, make = ["g1"], Maker()
    held = costly(token, lag=3600)
    assert held.get("fleet", make) == 1
    token[0] = "g2"
    make.gate = threading.Event()
    make.started.clear()  # set by the first making: wait for the refresh's own start below
    judging = threading.Thread(target=held.get, args=("fleet", make, 0.0), daemon=True)
    # A refresh of g1's value (max_age 0) is under way when the admin's change lands.
    token[0] = "g1"
    judging.start()
    assert make.started.wait(60)
    token[0] = "g3"
    held.show_changes_now()
    make.gate.set()
    judging.join(60)
    assert held.get("fleet", make) == 3  # not the value begun before the change


def test_a_derived_value_is_made_once_per_value_it_derives_from():
    token, make, render = ["g1"], Maker(), Maker()
    held = costly(token, lag=3600)
    view = held.held("fleet", make)
    assert held.get("page", render, key=view.key) == 1
    assert held.get("page", render, key=view.key) == 1
    token[0] = "g2"  # the fleet is held (within the lag), so is its page
    view = held.held("fleet", make)
    assert held.get("page", render, key=view.key) == 1 and render.made == 1
    assert held.get("page", render, key="another judgement") == 2


# -- the routes on a real store, the fleet held behind ingest ---------------------------------


def request_for(path, query=b""):
    from starlette.requests import Request

    scope = {
        "type": "http",
        "method": "GET",
        "scheme": "http",
        "server": ("127.0.0.1", 8080),
        "root_path": "",
        "path": path,
        "query_string": query,
        "headers": [],
    }
    return Request(scope)


def test_fleet_reads_lag_behind_ingest_but_a_host_page_shows_its_latest_report(
    tmp_path, base_facts
):
    from wire_preflight import profiles
    from wire_preflight_collector.context import Collector as App
    from wire_preflight_collector.context import Settings
    from wire_preflight_collector.readcache import PerGeneration
    from wire_preflight_collector.routes import pages, reads
    from wire_preflight_collector.store import open_store

    store = open_store(str(tmp_path / "c.db"))
    app = App(Settings(store, "t" * 20, profiles.load("classic")))
    # Every judgement counts as costly, and the lag is long: as at 5,000 hosts under ingest.
    app.judged = PerGeneration(store.generation, lag=3600, cheap=0.0)

    def fleet_names():
        return {h["hostname"] for h in json.loads(reads.get_fleet(app).body)["hosts"]}

    assert store.ingest(report(base_facts, "minio1"))[0]
    assert fleet_names() == {"minio1"}
    assert "minio1" in pages.page(request_for("/"), app).body.decode()
    assert 'hostname="minio1"' in reads.get_metrics(app).body.decode()
    assert store.ingest(report(base_facts, "minio2"))[0]
    assert fleet_names() == {"minio1"}  # the held judgement: behind, within the lag
    assert "minio2" not in pages.page(request_for("/"), app).body.decode()
    assert "minio2" not in reads.get_metrics(app).body.decode()
    # Both say when their judgement read the store, as HTTP says a representation's age.
    judged = parsedate_to_datetime(reads.get_fleet(app).headers["last-modified"]).timestamp()
    assert judged == int(app.judged.held("fleet", lambda: None).made_at)
    assert (
        reads.get_metrics(app).headers["last-modified"]
        == reads.get_fleet(app).headers["last-modified"]
    )
    # A host's own page and the API's host read the store: the newest report, at once.
    host = pages.host_page("minio2", request_for("/hosts/minio2"), app)
    assert host.status_code == 200 and "minio2" in host.body.decode()
    later = report(base_facts, "minio1", 1)
    assert store.ingest(later)[0]
    found = json.loads(reads.get_host("minio1", app).body)
    assert found["latest"]["report_id"] == later["report_id"]
    # Once the lag has passed, the fleet's reads catch up by themselves.
    app.judged.lag = 0.2
    wait_for(lambda: fleet_names() == {"minio1", "minio2"})
    assert "minio2" in pages.page(request_for("/"), app).body.decode()
    assert 'hostname="minio2"' in reads.get_metrics(app).body.decode()


def test_an_admin_change_shows_in_the_next_fleet_read_despite_the_lag(tmp_path, base_facts):
    from wire_preflight import profiles
    from wire_preflight_collector.context import Collector as App
    from wire_preflight_collector.context import Settings
    from wire_preflight_collector.readcache import PerGeneration
    from wire_preflight_collector.routes import admin, reads
    from wire_preflight_collector.store import open_store

    store = open_store(str(tmp_path / "c.db"))
    app = App(Settings(store, "t" * 20, profiles.load("classic")))
    app.judged = PerGeneration(store.generation, lag=3600, cheap=0.0)

    def fleet_names():
        return {h["hostname"] for h in json.loads(reads.get_fleet(app).body)["hosts"]}

    for name in ("minio1", "minio2"):
        assert store.ingest(report(base_facts, name))[0]
    assert fleet_names() == {"minio1", "minio2"}
    assert store.ingest(report(base_facts, "minio3"))[0]
    assert fleet_names() == {"minio1", "minio2"}  # a report: behind, within the lag
    assert admin.forget("minio1", app)["hostname"] == "minio1"
    assert fleet_names() == {"minio2", "minio3"}  # the admin's change, and all before it


def test_the_page_says_how_far_its_judgement_is_behind(tmp_path, base_facts):
    from wire_preflight import fleet, profiles
    from wire_preflight_collector import page

    doc = fleet.document.build([], profiles.load("classic"), None, [])
    drift = {"new_hosts": [], "new_host_count": 0, "events": [], "open_count": 0}
    now = time.time()
    behind = page.render(doc, drift, now, judged_at=now - 4)
    assert 'id="judged-at"' in behind
    assert time.strftime("%H:%M:%S UTC", time.gmtime(now - 4)) in behind
    assert 'id="judged-at"' not in page.render(doc, drift, now, judged_at=now)
