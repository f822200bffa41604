"""`wire-preflight dns` against a real DNS server on loopback (dnslib) serving a test zone."""

import json
import socket
import threading

import pytest
from helpers import run_process

dnslib = pytest.importorskip("dnslib")
pytest.importorskip("dns", reason="the network extra (dnspython) is not installed")
from dnslib.server import BaseResolver, DNSServer  # noqa: E402

DOMAIN = "wire.test"
INGRESS = "203.0.113.10"

ZONE = """
nginz-https.wire.test. 60 IN A 203.0.113.10
nginz-ssl.wire.test.   60 IN A 203.0.113.10
webapp.wire.test.      60 IN CNAME ingress.wire.test.
ingress.wire.test.     60 IN A 203.0.113.10
account.wire.test.     60 IN A 198.51.100.7
teams.wire.test.       60 IN A 10.0.0.5
federator.wire.test.   60 IN A 203.0.113.10
_wire-server-federator._tcp.wire.test. 60 IN SRV 0 10 443 federator.wire.test.
"""  # assets is missing; account points elsewhere; teams is private; sftd is missing


class ZoneResolver(BaseResolver):
    def __init__(self, zone):
        self.records = dnslib.RR.fromZone(zone)

    def resolve(self, request, handler):
        reply = request.reply()
        qname, qtype = request.q.qname, dnslib.QTYPE[request.q.qtype]
        matched = False
        name = qname
        for _ in range(5):  # follow CNAMEs within the zone, as an authoritative server does
            step = [rr for rr in self.records if rr.rname == name]
            if step:
                matched = True
            cname = [rr for rr in step if dnslib.QTYPE[rr.rtype] == "CNAME" and qtype != "CNAME"]
            for rr in step:
                if dnslib.QTYPE[rr.rtype] == qtype or rr in cname:
                    reply.add_answer(rr)
            if not cname:
                break
            name = cname[0].rdata.label
        if not matched:
            reply.header.rcode = dnslib.RCODE.NXDOMAIN
        return reply


@pytest.fixture(scope="module")
def nameserver():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = DNSServer(
        ZoneResolver(ZONE),
        port=port,
        address="127.0.0.1",
        logger=dnslib.server.DNSLogger("-request,-reply,-truncated,-error"),
    )
    server.start_thread()
    yield f"127.0.0.1:{port}"
    server.stop()


def dns(nameserver, *extra):
    done = run_process("dns", "--domain", DOMAIN, "--nameserver", nameserver, "--json", *extra)
    doc = json.loads(done.stdout) if done.stdout.startswith("{") else None
    return done, doc


def by_name(doc):
    out = {}
    for check in doc["checks"]:
        out.setdefault(check["evidence"]["name"].split(".")[0], []).append(check)
    return out


def test_missing_wrong_and_private_records(nameserver):
    done, doc = dns(nameserver, "--expect", INGRESS)
    assert done.returncode == 3, done.stderr
    names = by_name(doc)
    assert names["nginz-https"][0]["status"] == "pass"
    assert (
        names["webapp"][0]["status"] == "pass"
        and "via CNAME ingress" in names["webapp"][0]["observed"]
    )
    assets = names["assets"][0]
    assert assets["status"] == "fail" and "NXDOMAIN" in assets["message"]
    assert assets["remedy"] == "create assets.wire.test. IN A 203.0.113.10"
    account = names["account"][0]
    assert (
        account["status"] == "fail"
        and "points to 198.51.100.7, not to 203.0.113.10" in account["message"]
    )
    teams = names["teams"][0]
    assert teams["id"] == "dns-optional" and teams["status"] == "warn"
    sftd = names["sftd"][0]
    assert sftd["status"] == "skip" and "conference calling" in sftd["message"]


def test_private_optional_name_and_documentation_ranges_do_not_warn(nameserver):
    # 203.0.113.x is a documentation range, not a private network; teams' 10.0.0.5 is
    # private but optional names are not held to public addresses.
    _, doc = dns(nameserver)
    assert [c["status"] for c in by_name(doc)["teams"]] == ["pass"]
    assert [c for c in doc["checks"] if c["id"] == "dns-private"] == []


def test_federation_needs_the_srv_record(nameserver):
    _, doc = dns(nameserver, "--federation")
    srv = [c for c in doc["checks"] if c["id"] == "dns-srv"][0]
    assert srv["status"] == "pass" and "federator.wire.test:443" in srv["observed"]
    federator = [
        c
        for c in doc["checks"]
        if c["id"] == "dns" and c["evidence"]["name"].startswith("federator.")
    ][0]
    assert federator["status"] == "pass"


def test_missing_srv_fails_with_the_record_to_create(nameserver):
    done = run_process(
        "dns", "--domain", "other.test", "--nameserver", nameserver, "--federation", "--json"
    )
    doc = json.loads(done.stdout)
    srv = [c for c in doc["checks"] if c["id"] == "dns-srv"][0]
    assert srv["status"] == "fail"
    assert srv["remedy"] == (
        "create _wire-server-federator._tcp.other.test. IN SRV 0 10 443 federator.other.test."
    )


def test_private_required_name_warns():
    zone = ZONE.replace(
        "account.wire.test.     60 IN A 198.51.100.7", "account.wire.test.     60 IN A 192.168.1.20"
    )
    resolver = ZoneResolver(zone)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = DNSServer(
        resolver,
        port=port,
        address="127.0.0.1",
        logger=dnslib.server.DNSLogger("-request,-reply,-truncated,-error"),
    )
    server.start_thread()
    try:
        _, doc = dns(f"127.0.0.1:{port}")
        private = [c for c in doc["checks"] if c["id"] == "dns-private"]
        assert len(private) == 1 and private[0]["evidence"]["name"] == "account.wire.test"
    finally:
        server.stop()


def test_silent_nameserver_is_an_error_within_bounded_time():
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))  # bound, never answers
    try:
        done = run_process(
            "dns",
            "--domain",
            DOMAIN,
            "--nameserver",
            f"127.0.0.1:{silent.getsockname()[1]}",
            "--json",
        )
    finally:
        silent.close()
    doc = json.loads(done.stdout)
    assert done.returncode == 3
    assert {c["status"] for c in doc["checks"] if c["id"] == "dns"} == {"error"}


@pytest.mark.parametrize(
    "args,words",
    [
        (["--domain", "nodots"], "give the domain"),
        (["--domain", DOMAIN, "--expect", "not-an-ip"], "--expect"),
        (["--domain", DOMAIN, "--nameserver", "dns.example.com"], "--nameserver"),
    ],
)
def test_bad_options(args, words):
    done = run_process("dns", *args)
    assert done.returncode == 2 and words in done.stderr


threading  # noqa: B018 - kept for readers: the server runs in dnslib's own thread
