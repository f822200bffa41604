"""Host identity from first boot to re-image, attacked against a running collector on both
stores (SQLite and a real PostgreSQL the tests start): a name squatted with the enroll secret,
two machines racing for one free name, a re-imaged VM, a re-key handed to a clone, a cloned
key, case-folded names, report ids of another host, sub-second ordering, wrong credentials.
docs/collector.md, "Security model", has the lifecycle these hold it to."""

import json
import shutil
import subprocess
import sys
import threading
import time
import uuid

import pytest
from helpers import fixture_path, make_report, require_root, run_process

pytest.importorskip("fastapi", reason="the collector needs Python >= 3.10 and its extras")
requests = pytest.importorskip("requests")
from collectorlib import ENROLL, TOKEN, Collector, free_port  # noqa: E402

REFUSAL = "X-Wire-Preflight-Refusal"


def _collector(tmp_path, db, pending_expiry):
    server = Collector(
        tmp_path, "--stale-after", "2", "--pending-expiry", pending_expiry, db=db
    ).start()
    return server


@pytest.fixture
def collector(tmp_path, db):
    # Claims last the test's whole run: on a loaded machine a few agent processes took longer
    # than a 3 s expiry, and the claim a test was about to reject had gone.
    server = _collector(tmp_path, db, "600")
    yield server
    server.stop()


@pytest.fixture
def expiring_collector(tmp_path, db):
    server = _collector(tmp_path, db, "3")
    yield server
    server.stop()


def wait_for(condition, seconds=60):
    deadline = time.time() + seconds
    while not condition():
        assert time.time() < deadline, "timed out"
        time.sleep(0.1)


def _report(base, hostname="cassandra1", **changes):
    return make_report(base, hostname, ["cassandra"], "s1", **changes)


def _enroll(collector, report, **extra):
    return collector.post(
        {
            **{k: report["facts"].get(k) for k in ("machine_id", "hostname", "product_uuid")},
            **extra,
        },
        token=ENROLL,
        path="/api/v1/enroll",
    )


def _fresh(report):
    return dict(report, report_id=str(uuid.uuid4()))


def _findings(collector, rule):
    return [f for f in collector.get("/api/v1/fleet").json()["findings"] if f["id"] == rule]


def _made_up(hostname):
    return {
        "machine_id": uuid.uuid4().hex,
        "hostname": hostname,
        "product_uuid": str(uuid.uuid4()),
    }


# -- squatting -------------------------------------------------------------------------------


def test_a_squatter_never_disturbs_the_holder_and_waits_for_an_admin(collector, base_facts):
    mine = _report(base_facts)
    key = _enroll(collector, mine).json()["host_key"]
    assert collector.post(mine, token=key).status_code == 201
    fake = _made_up("CASSANDRA1")  # another spelling of the same DNS name
    claimed = collector.post(fake, token=ENROLL, path="/api/v1/enroll")
    assert claimed.status_code == 202, claimed.text
    assert claimed.json()["state"] == "pending"
    squatter_key = claimed.json()["host_key"]
    # The holder goes on reporting; the squatter's key speaks for nothing.
    assert collector.post(_fresh(mine), token=key).status_code == 201
    posing = _report(base_facts, machine_id=fake["machine_id"], product_uuid=fake["product_uuid"])
    refused = collector.post(posing, token=squatter_key)
    assert refused.status_code == 403 and refused.headers[REFUSAL] == "pending"
    assert (
        collector.get("/api/v1/hosts/cassandra1").json()["latest"]["report_id"]
        != posing["report_id"]
    )
    # One finding, naming the claimant and the holder, blaming no host.
    conflicts = _findings(collector, "identity-conflict")
    assert len(conflicts) == 1 and conflicts[0]["hosts"] == []
    assert fake["machine_id"] in conflicts[0]["message"]
    assert mine["facts"]["machine_id"] in conflicts[0]["message"]
    assert not _findings(collector, "foreign-report")
    # The admin sees the claim (API, CLI, page) and rejects it.
    pending = collector.get("/api/v1/enrollments").json()["enrollments"]
    assert [(p["hostname"], p["machine_id"], p["state"]) for p in pending] == [
        ("cassandra1", fake["machine_id"], "pending")
    ]
    cli = ["fleet", "--collector", collector.url, "--token-file", collector.token_file]
    listed = run_process(*cli, "enrollments")
    assert listed.returncode == 0 and fake["machine_id"] in listed.stdout, listed.stderr
    page = collector.get("/").text
    section = page.split('id="pending"', 1)[1].split("</table>", 1)[0]
    assert fake["machine_id"] in section and mine["facts"]["machine_id"] in section
    rejected = run_process(*cli, "reject", str(pending[0]["id"]))
    assert rejected.returncode == 0, rejected.stderr
    assert collector.post(posing, token=squatter_key).headers[REFUSAL] == "rejected"
    again = collector.post(fake, token=ENROLL, path="/api/v1/enroll")
    assert again.status_code == 409 and again.headers[REFUSAL] == "rejected"
    assert not _findings(collector, "identity-conflict")
    assert collector.post(_fresh(mine), token=key).status_code == 201
    # The enroll secret enrols and nothing else, said in words a person reads.
    scoped = collector.post(_fresh(mine), token=ENROLL)
    assert scoped.status_code == 403 and scoped.json()["detail"] == (
        "the enroll secret may not change this"
    )


def test_made_up_enrolments_are_shown_and_expire_unless_their_vm_keeps_asking(
    expiring_collector, base_facts
):
    collector = expiring_collector
    mine = _report(base_facts)
    assert _enroll(collector, mine).status_code == 201
    keys = [
        collector.post(_made_up("cassandra1"), token=ENROLL, path="/api/v1/enroll").json()
        for _ in range(60)
    ]
    assert {k["state"] for k in keys} == {"pending"}
    assert len(collector.get("/api/v1/enrollments").json()["enrollments"]) == 60
    findings = _findings(collector, "identity-conflict")
    assert len(findings) == 51 and any("10 more" in f["message"] for f in findings)
    assert collector.get("/api/v1/fleet").json()["verdict"] == "FAIL"
    # One claimant keeps presenting its key (a real VM waiting for approval); the rest never
    # report and expire (--pending-expiry 3).
    alive = keys[0]["host_key"]
    posing = _report(base_facts)

    def only_the_live_one_left():
        collector.post(posing, token=alive)
        return len(collector.get("/api/v1/enrollments").json()["enrollments"]) == 1

    wait_for(only_the_live_one_left)
    expired = collector.get("/api/v1/drift?kind=enroll-expired").json()["events"]
    assert len(expired) == 59 and not any(e["open"] for e in expired)
    assert len(_findings(collector, "identity-conflict")) == 1


def test_approving_a_claim_gives_the_name_to_the_reinstalled_vm(collector, base_facts):
    old = _report(base_facts)
    old_key = _enroll(collector, old).json()["host_key"]
    assert collector.post(old, token=old_key).status_code == 201
    new = _report(base_facts, machine_id="b" * 32, product_uuid=str(uuid.uuid4()))
    claim = _enroll(collector, new)
    assert claim.status_code == 202
    approved = collector.call(
        "POST", "/api/v1/enrollments/{}/approve".format(claim.json()["pending_id"]), json={}
    )
    assert approved.status_code == 200, approved.text
    assert collector.post(new, token=claim.json()["host_key"]).status_code == 201
    gone = collector.post(_fresh(old), token=old_key)
    assert gone.status_code == 403 and gone.headers[REFUSAL] == "unknown-credential"
    hosts = collector.get("/api/v1/fleet").json()["hosts"]
    assert [(h["hostname"], h["machine_id"]) for h in hosts] == [("cassandra1", "b" * 32)]
    assert not _findings(collector, "identity-conflict")


def _approve_while_reporting(collector, pending_id, report, key, senders=8):
    """`senders` threads post the report (4 times each) while the admin approves a claim."""
    barrier = threading.Barrier(senders + 1)
    answers = []

    def send():
        barrier.wait()
        for _ in range(4):
            answers.append(collector.post(_fresh(report), token=key).status_code)

    def approve():
        barrier.wait()
        path = f"/api/v1/enrollments/{pending_id}/approve"
        answers.append(collector.call("POST", path, json={}).status_code)

    threads = [threading.Thread(target=send) for _ in range(senders)]
    threads.append(threading.Thread(target=approve))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_a_report_racing_the_approval_that_drops_its_key_leaves_one_host(collector, base_facts):
    """A report is checked against its key and stored in one transaction: one checked before
    an approval and stored after it would bring back the old machine's host row, so the name
    would show twice (a ghost going stale)."""
    for trial in range(15):
        name = f"race{trial}"
        old = _report(base_facts, name, machine_id=uuid.uuid4().hex)
        old_key = _enroll(collector, old).json()["host_key"]
        assert collector.post(old, token=old_key).status_code == 201
        new = _report(base_facts, name, machine_id=uuid.uuid4().hex, product_uuid="u" + name)
        claim = _enroll(collector, new).json()
        answers = _approve_while_reporting(collector, claim["pending_id"], old, old_key)
        assert set(answers) <= {200, 201, 403, 429}, answers  # 403, then 429: a dropped key
        # One host under the name (its summary is the old machine's last report until the
        # new one reports), not a second row of the machine whose key went.
        hosts = collector.get("/api/v1/fleet").json()["hosts"]
        mine = [h["machine_id"] for h in hosts if h["hostname"] == name]
        assert len(mine) == 1, (trial, mine, answers)


# -- atomic claims -------------------------------------------------------------------------


def _race(urls, name, racers):
    """`racers` machines claim `name` at once (a barrier), spread over the collectors."""
    barrier = threading.Barrier(racers)
    answers = [None] * racers

    def claim(i):
        body = json.dumps(_made_up(name))
        session = requests.Session()
        headers = {"Authorization": "Bearer " + ENROLL, "Content-Type": "application/json"}
        barrier.wait()
        answers[i] = session.post(
            urls[i % len(urls)] + "/api/v1/enroll", data=body, headers=headers, timeout=30
        ).status_code

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_of_machines_racing_for_one_free_name_exactly_one_wins(collector):
    for trial in range(40):
        answers = _race([collector.url], f"race{trial}", 4)
        assert sorted(answers) == [201, 202, 202, 202], (trial, answers)


def test_two_collectors_on_one_postgresql_give_a_name_once(tmp_path, postgres):
    db = postgres.new_database()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = Collector(tmp_path / "a", db=db).start()
    second = Collector(tmp_path / "b", db=db).start()
    try:
        for trial in range(40):
            answers = _race([first.url, second.url], f"race{trial}", 4)
            assert sorted(answers) == [201, 202, 202, 202], (trial, answers)
    finally:
        first.stop()
        second.stop()


# -- machine-id drift -------------------------------------------------------------------------


def test_a_reimaged_vm_goes_on_reporting_and_the_change_is_drift(collector, base_facts):
    before = _report(base_facts)
    key = _enroll(collector, before).json()["host_key"]
    assert collector.post(before, token=key).status_code == 201
    after = _report(base_facts, machine_id="c" * 32)  # same hardware, new /etc/machine-id
    answer = collector.post(after, token=key)
    assert answer.status_code == 201 and answer.json()["events"] == ["machine-id-changed"]
    hosts = collector.get("/api/v1/fleet").json()["hosts"]
    assert [(h["hostname"], h["machine_id"]) for h in hosts] == [("cassandra1", "c" * 32)]
    assert collector.post(_fresh(after), token=key).status_code == 201
    events = collector.get("/api/v1/drift?kind=machine-id-changed&open=true").json()["events"]
    assert len(events) == 1 and events[0]["after"] == {"machine_id": "c" * 32}
    closed = collector.call("POST", "/api/v1/hosts/cassandra1/accept", json={})
    assert closed.status_code == 200 and closed.json()["closed_events"] >= 1
    # The old machine-id is nobody's now: a clone still holding it is a claimant.
    assert _enroll(collector, before).status_code == 202


def _agent(collector, tmp_path, name, facts, *extra):
    facts_file = tmp_path / f"{name}-facts.json"
    facts_file.write_text(json.dumps(facts))
    secret = tmp_path / "enroll"
    secret.write_text(ENROLL + "\n")
    secret.chmod(0o600)  # the agent refuses a secret others can read
    return run_process(
        "report",
        "--facts",
        str(facts_file),
        "--role",
        "cassandra",
        "--collector",
        collector,
        "--enroll-secret-file",
        str(secret),
        "--state-dir",
        str(tmp_path / f"{name}-state"),
        *extra,
    )


def _vm_facts(machine_id, product_uuid, hostname="cassandra1"):
    with open(fixture_path("facts-ubuntu1804-kvm-4g.json")) as handle:
        facts = json.load(handle)
    facts.update(machine_id=machine_id, product_uuid=product_uuid, hostname=hostname)
    return facts


def test_a_vm_reimaged_with_reports_spooled_keeps_its_new_key(collector, tmp_path):
    """First boot: reports spooled under the machine-id /etc/machine-id had then; the VM's
    machine-id changes before the collector is reached. The new key is kept, the spool goes."""
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    early = _agent(dead, tmp_path, "vm", _vm_facts("1" * 32, "u-vm"))
    assert "spooled" in early.stdout, early.stdout + early.stderr
    later = _agent(collector.url, tmp_path, "vm", _vm_facts("2" * 32, "u-vm"))
    assert later.returncode in (0, 3, 4), later.stderr
    assert "delivered 1 spooled report(s)" in later.stderr, later.stderr
    assert "delivered" in later.stdout and "409" not in later.stderr
    keys = list((tmp_path / "vm-state" / "keys").glob("*.key"))
    assert len(keys) == 1
    key = keys[0].read_text().strip()
    third = _agent(collector.url, tmp_path, "vm", _vm_facts("2" * 32, "u-vm"))
    assert "delivered" in third.stdout and "enrol" not in third.stderr, third.stderr
    assert keys[0].read_text().strip() == key
    history = collector.get("/api/v1/hosts/cassandra1").json()["history"]
    assert len(history) == 3
    hosts = collector.get("/api/v1/fleet").json()["hosts"]
    assert [h["machine_id"] for h in hosts] == ["2" * 32]


# -- re-key ----------------------------------------------------------------------------------


def test_rekey_gives_the_name_back_to_its_machine_not_to_a_clone(collector, tmp_path):
    real = _vm_facts("4" * 32, "u-real")
    clone = _vm_facts("4" * 32, "u-clone")  # a copy of the VM: same machine-id, other SMBIOS
    assert "delivered" in _agent(collector.url, tmp_path, "real", real).stdout
    cli = ["fleet", "--collector", collector.url, "--token-file", collector.token_file]
    rekeyed = run_process(*cli, "rekey", "cassandra1")
    assert rekeyed.returncode == 0 and "--enroll-code" in rekeyed.stdout, rekeyed.stderr
    # Its key is gone everywhere: the real VM's own copy and the clone's.
    (tmp_path / "real-state" / "keys").rename(tmp_path / "old-keys")
    refused = _agent(collector.url, tmp_path, "clone", clone)
    assert refused.returncode == 5, (refused.returncode, refused.stderr)
    assert "clone" in refused.stderr and "systemd-machine-id-setup" in refused.stderr
    assert "Traceback" not in refused.stderr
    back = _agent(collector.url, tmp_path, "real", real)
    assert back.returncode in (0, 3, 4) and "delivered" in back.stdout, back.stderr
    conflicts = _findings(collector, "identity-conflict")
    assert len(conflicts) == 1 and "u-clone" in conflicts[0]["message"]
    assert conflicts[0]["hosts"] == []


def test_a_rekey_code_gives_the_name_to_the_vm_the_admin_means(collector, tmp_path):
    assert "delivered" in _agent(collector.url, tmp_path, "old", _vm_facts("5" * 32, "u-5")).stdout
    cli = ["fleet", "--collector", collector.url, "--token-file", collector.token_file]
    out = run_process(*cli, "rekey", "cassandra1").stdout
    code = out.split("--enroll-code ")[1].split()[0]
    new = _vm_facts("6" * 32, "u-6")  # reinstalled on new hardware
    wrong = _agent(collector.url, tmp_path, "new", new, "--enroll-code", "x" + code)
    assert wrong.returncode == 5 and "re-enrol code is not valid" in wrong.stderr, wrong.stderr
    right = _agent(collector.url, tmp_path, "new2", new, "--enroll-code", code)
    assert "delivered" in right.stdout, right.stderr
    used = _agent(
        collector.url, tmp_path, "third", _vm_facts("7" * 32, "u-7"), "--enroll-code", code
    )
    assert used.returncode == 5, used.stderr  # one time only
    hosts = collector.get("/api/v1/fleet").json()["hosts"]
    assert [h["machine_id"] for h in hosts] == ["6" * 32]


def test_a_clone_with_a_copied_key_is_refused_and_the_host_goes_on(collector, tmp_path):
    real = _vm_facts("8" * 32, "u-real")
    assert "delivered" in _agent(collector.url, tmp_path, "real", real).stdout
    (tmp_path / "clone-state").mkdir()
    import shutil

    shutil.copytree(tmp_path / "real-state" / "keys", tmp_path / "clone-state" / "keys")
    for clone in (_vm_facts("8" * 32, "u-clone"), _vm_facts("9" * 32, "u-clone")):
        done = _agent(collector.url, tmp_path, "clone", clone)
        assert done.returncode == 5 and "clone" in done.stderr, done.stderr
    assert list((tmp_path / "clone-state" / "keys").glob("*.key"))  # never deleted by the agent
    again = _agent(collector.url, tmp_path, "real", real)
    assert "delivered" in again.stdout and "enrol" not in again.stderr, again.stderr
    found = _findings(collector, "cloned-key")
    assert len(found) == 1 and found[0]["hosts"] == [] and "u-clone" in found[0]["message"]


# -- names, report ids, order ----------------------------------------------------------------


def test_names_compare_case_insensitively(collector, base_facts):
    upper = _report(base_facts, "CASSANDRA1")
    assert collector.post(upper).status_code == 201
    lower = _report(base_facts, "cassandra1", machine_id=upper["facts"]["machine_id"])
    assert collector.post(lower).status_code == 201
    assert [h["hostname"] for h in collector.get("/api/v1/fleet").json()["hosts"]] == ["cassandra1"]
    assert len(collector.get("/api/v1/hosts/CASSANDRA1").json()["history"]) == 2
    # A key for another machine under either spelling is a claim, not a second host.
    assert (
        _enroll(collector, _report(base_facts, "Cassandra1", machine_id="d" * 32)).status_code
        == 202
    )


def test_another_hosts_report_id_is_refused_with_a_reason(collector, base_facts):
    first = _report(base_facts)
    assert collector.post(first).status_code == 201
    other = dict(_report(base_facts, "cassandra2"), report_id=first["report_id"])
    taken = collector.post(other)
    assert taken.status_code == 409 and taken.headers[REFUSAL] == "report-id-taken"
    assert "another host" in taken.json()["detail"]
    retry = collector.post(first)
    assert retry.status_code == 200 and retry.json()["stored"] is False


def test_reports_under_a_second_apart_keep_their_order(collector, base_facts):
    """Two reports made 0.5 s apart within one whole second, the older delivered last (from a
    spool): the newer stays the host's newest."""
    for n in range(8):
        name = f"order{n}"
        now = time.time()
        second = float(int(now) - 5)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second))
        older = dict(_report(base_facts, name), generated_at=stamp, generated_at_epoch=second + 0.2)
        newer = dict(_report(base_facts, name), generated_at=stamp, generated_at_epoch=second + 0.7)
        newer["report_id"], older["report_id"] = f"{name}-new", f"{name}-old"
        for report in (newer, older):
            report["sent_at"] = time.time()
            assert collector.post(report).status_code == 201
        latest = collector.get(f"/api/v1/hosts/{name}").json()["latest"]
        assert latest["report_id"] == f"{name}-new", n


# -- wrong credentials -----------------------------------------------------------------------


def test_wrong_credentials_are_slowed_and_logged_but_a_valid_key_never(collector, base_facts):
    mine = _report(base_facts)
    key = _enroll(collector, mine).json()["host_key"]
    answers = [collector.post(mine, token=f"guess-{i}-" + ENROLL).status_code for i in range(60)]
    assert answers[0] == 403 and answers[-1] == 429
    limited = collector.post(mine, token="guess-again")
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    # From the same address, at the same moment: the valid key and the admin token go through.
    assert collector.post(mine, token=key).status_code == 201
    assert collector.get("/api/v1/fleet", token=TOKEN).status_code == 200
    log = collector.read_log()
    assert "wrong credential from 127.0.0.1" in log
    assert log.count("wrong credential from") < 10  # logged per address, not per request


def test_a_forwarded_for_header_changes_no_clients_address(collector, base_facts):
    # uvicorn believes X-Forwarded-For from 127.0.0.1 unless told not to: a local client
    # would then guess with a fresh address each time and write any address into the page.
    answers = [
        collector.post({}, token=f"guess-{i}", headers={"X-Forwarded-For": f"203.0.113.{i}"})
        for i in range(40)
    ]
    assert answers[-1].status_code == 429, [a.status_code for a in answers]
    mine = _report(base_facts)
    assert _enroll(collector, mine).status_code == 201
    squatter = _made_up(mine["hostname"])
    claim = collector.post(
        squatter,
        token=ENROLL,
        path="/api/v1/enroll",
        headers={"X-Forwarded-For": "203.0.113.99"},
    )
    assert claim.status_code == 202
    (pending,) = collector.get("/api/v1/enrollments").json()["enrollments"]
    assert pending["address"] == "127.0.0.1"
    assert "203.0.113" not in collector.read_log()


# From many source addresses of one IPv6 /64 (in a network namespace made here): a client that
# holds a whole /64 is one client, as for the per-address connection bound.
GUESS_FROM = """
import http.client, json, sys
port, sources = int(sys.argv[1]), json.loads(sys.argv[2])
for source in sources:
    conn = http.client.HTTPConnection("fd00:77::1", port, source_address=(source, 0), timeout=10)
    conn.request("POST", "/api/v1/reports", body="{}", headers={
        "Authorization": "Bearer guess-" + source, "Content-Type": "application/json"})
    print(conn.getresponse().status, flush=True)
    conn.close()
"""


@pytest.fixture
def namespace():
    require_root("wrong credentials from many addresses of one /64 (ip netns add)")
    if not shutil.which("ip"):
        pytest.skip("`ip` (iproute2) is needed for a network namespace")
    name = "wpc-" + uuid.uuid4().hex[:6]
    made = subprocess.run(["ip", "netns", "add", name], stderr=subprocess.PIPE, check=False)
    if made.returncode != 0:
        pytest.skip("cannot make a network namespace: " + made.stderr.decode().strip())
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        for address in ["fd00:77::1"] + [f"fd00:77::{n:x}" for n in range(0x100, 0x128)]:
            subprocess.run(
                ["ip", "-n", name, "-6", "addr", "add", address + "/64", "dev", "lo", "nodad"],
                check=True,
            )
        subprocess.run(
            ["ip", "-n", name, "-6", "addr", "add", "fd00:78::1/64", "dev", "lo", "nodad"],
            check=True,
        )
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=False)


def test_wrong_credentials_from_one_ipv6_64_count_as_one_client(tmp_path, namespace):
    inside = ["ip", "netns", "exec", namespace]
    server = Collector(tmp_path, "--insecure-http", host="fd00:77::1", command=inside).start()
    try:

        def guess(sources):
            done = subprocess.run(
                [*inside, sys.executable, "-c", GUESS_FROM, str(server.port), json.dumps(sources)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                universal_newlines=True,
                timeout=60,
                check=False,
            )
            assert done.returncode == 0, done.stderr
            return [int(line) for line in done.stdout.split()]

        # 40 addresses, one wrong credential each: one client, past the limit of 30.
        answers = guess([f"fd00:77::{n:x}" for n in range(0x100, 0x128)])
        assert answers[0] == 403 and answers[-1] == 429, answers
        # Another /64 is another client.
        assert guess(["fd00:78::1"]) == [403]
        assert "wrong credential from fd00:77::/64" in server.read_log()
    finally:
        server.stop()


# -- fleet --collector -------------------------------------------------------------------------


def test_fleet_from_the_collector_shows_stale_hosts_and_names_summed_up_hosts(
    collector, base_facts
):
    for name in ("minio1", "minio2", "minio3"):
        report = make_report(base_facts, name, ["minio"], "s1")
        report["checks"].append(dict(report["checks"][0], id="swap", status="warn"))
        assert collector.post(report).status_code == 201
    cli = ["fleet", "--collector", collector.url, "--token-file", collector.token_file]
    # --stale-after 2: wait until the collector has marked them.
    wait_for(lambda: all(h["stale"] for h in collector.get("/api/v1/fleet").json()["hosts"]))
    done = run_process(*cli)
    assert done.returncode == 3, done.stderr
    rows = [line.split() for line in done.stdout.splitlines() if line.startswith("minio")]
    assert [(r[0], r[3]) for r in rows] == [(f"minio{i}", "stale") for i in (1, 2, 3)]
    assert "3 host(s) with warnings only: minio1, minio2, minio3" in done.stdout
    stale = [line for line in done.stdout.splitlines() if line.split()[1:2] == ["stale"]]
    assert stale and "minio1, minio2, minio3" in stale[0], done.stdout
    page = collector.get("/").text
    assert "sent no report within --stale-after" in page
