"""The fleet page and a host page as a person sees them: real headless Chromium at phone and
desktop widths, on a fleet that is partly reporting and partly broken, with real check
results from the agent (observed, expected, fix)."""

import copy
import json
import os
import re

import pytest
from helpers import fixture_path, run_process

pytest.importorskip("fastapi", reason="the collector needs Python >= 3.10 and its extras")
from collectorlib import CHROMIUM, NO_CHROMIUM, Collector, chromium

INVENTORY = fixture_path("inventory", "hosts.ini")
FACTS = fixture_path("facts-ubuntu1804-kvm-4g.json")
SCREENSHOTS = os.environ.get("WIRE_PREFLIGHT_SCREENSHOTS")  # keep them here to look at

# (hostname, role, physical server it reports, the facts' memory in GiB)
REPORTING = [
    ("kubenode1", "kubernetes", "server1", 8),
    ("kubenode2", "kubernetes", "server2", 8),
    ("kubenode3", "kubernetes", "server3", 8),
    ("cassandra1", "cassandra", "server1", 4),
    ("cassandra2", "cassandra", "server2", 2),  # short of memory: fails its own check
    ("cassandra3", "cassandra", "server1", 4),  # on server1 too: losing it breaks quorum
    ("elasticsearch1", "elasticsearch", "server1", 4),
    ("elasticsearch2", "elasticsearch", "server2", 4),
    ("minio1", "minio", "server1", 4),
]
NEVER_REPORTED = ["assethost", "elasticsearch3", "minio2", "minio3", "restund1", "restund2"]
# A 63-character host name (the longest a DNS label may be), on a 45-character server name.
LONG = "elasticsearch-data-0001-rack-b17-eu-west-3-production-example-x"
LONG_SERVER = "physical-server-rack-b17-eu-west-3-prod-0001"
assert len(LONG) == 63
# cassandra1's reports in order (memory GiB): it fails its memory check, then passes.
CASSANDRA1_HISTORY = [2, 4, 4]


def _real_report(tmp_path, role, memory_gib):
    with open(FACTS) as handle:
        facts = json.load(handle)
    facts["memory"]["installed_bytes"] = memory_gib * 1024**3
    facts["memory"]["total_bytes"] = int(memory_gib * 1024**3 * 0.96)
    path = tmp_path / f"facts-{role}-{memory_gib}.json"
    path.write_text(json.dumps(facts))
    done = run_process(
        "check",
        "--json",
        "--role",
        role,
        "--facts",
        str(path),
        "--state-dir",
        str(tmp_path / f"state-{role}-{memory_gib}"),
    )
    assert done.returncode in (0, 3, 4), done.stderr
    return json.loads(done.stdout)


def _as_host(template, hostname, server, number, run=0):
    report = copy.deepcopy(template)
    report["report_id"] = f"page-{number}-{run}"
    report["hostname"] = report["facts"]["hostname"] = hostname
    report["physical_host"] = server
    report["facts"]["machine_id"] = f"{number:032x}"
    report["facts"]["product_uuid"] = f"00000000-0000-0000-0000-{number:012x}"
    address = f"192.168.10.{100 + number}"
    report["facts"]["network"]["primary"]["address"] = address
    iface = report["facts"]["network"]["interfaces"][1]
    iface["addresses"][0]["address"] = address
    iface["mac"] = f"52:54:00:00:00:{number:02x}"
    return report


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("page")
    templates = {}
    server = Collector(tmp_path, "--inventory", INVENTORY).start()
    try:

        def post(hostname, role, where, memory, number, run=0):
            key = (role, memory)
            if key not in templates:
                templates[key] = _real_report(tmp_path, role, memory)
            response = server.post(_as_host(templates[key], hostname, where, number, run))
            assert response.status_code == 201, response.text

        for number, (hostname, role, where, memory) in enumerate(REPORTING, 1):
            if hostname == "cassandra1":
                for run, history_memory in enumerate(CASSANDRA1_HISTORY):
                    post(hostname, role, where, history_memory, number, run)
            else:
                post(hostname, role, where, memory, number)
        post(LONG, "elasticsearch", LONG_SERVER, 4, len(REPORTING) + 1)
        yield server
    finally:
        server.stop()


# Measures the framed page: its width against the viewport's, and every name element (host,
# role, server, check): rendered on one line (its height one line's, so no word of it went to
# a second line), and where it is cut, cut with an ellipsis and its whole text in its title.
PROBE = """
document.getElementById('f').addEventListener('load', function () {
  var w = this.contentWindow, d = this.contentDocument, root = d.documentElement;
  var out = {W: root.scrollWidth, V: w.innerWidth, names: 0, bad: [], cut: [], whole: []};
  d.querySelectorAll('.name').forEach(function (n) {
    var box = n.getBoundingClientRect();
    if (!box.width) { return; }  /* not rendered: a closed <details>, a hidden header */
    out.names += 1;
    var style = w.getComputedStyle(n), line = parseFloat(style.lineHeight);
    if (box.height > line * 1.5) { out.bad.push('two lines: ' + n.textContent); }
    if (n.scrollWidth > n.clientWidth + 1) {
      out.cut.push(n.textContent);
      if (n.title !== n.textContent) { out.bad.push('cut, no title: ' + n.textContent); }
      if (style.textOverflow !== 'ellipsis') { out.bad.push('cut, no ellipsis: ' + n.textContent); }
    } else { out.whole.push(n.textContent); }
  });
  document.getElementById('out').textContent = JSON.stringify(out);
});
"""


def _frame(html, tmp_path, width, name):
    """The page's own HTML and CSS in an iframe `width` pixels wide (headless Chromium keeps
    its windows at least 500 wide; an iframe is a viewport of any width, media queries
    included), and a script in the outer page that measures the framed document."""
    import html as markup

    path = tmp_path / f"{name}-{width}.html"
    path.write_text(
        "<!doctype html><html><head><title>probe</title></head>"
        "<body style='margin:0'>"
        f"<iframe id='f' style='width:{width}px;height:2600px;border:0' "
        f'srcdoc="{markup.escape(html, quote=True)}"></iframe>'
        f"<pre id='out'></pre><script>{PROBE}</script></body></html>"
    )
    return "file://" + str(path)


def _measure(html, tmp_path, width, name):
    """What PROBE found, in Chromium at a viewport width."""
    done = chromium(
        "--hide-scrollbars",
        "--window-size=1500,900",
        "--dump-dom",
        _frame(html, tmp_path, width, name),
    )
    found = re.search(r'<pre id="out">(\{.*?\})</pre>', done.stdout)
    assert found, done.stderr[-2000:]
    import html as markup

    return json.loads(markup.unescape(found.group(1)))


def _shoot(html, tmp_path, width, name):
    out = os.path.join(SCREENSHOTS or str(tmp_path), f"{name}-{width}.png")
    frame = _frame(html, tmp_path, width, name + "-shot")
    done = chromium(
        "--hide-scrollbars", f"--window-size={max(width, 500)},2600", f"--screenshot={out}", frame
    )
    assert os.path.exists(out), done.stderr[-2000:]
    return out


def _host_rows(html):
    """(hostname, state) of the hosts list's rows, in order."""
    return re.findall(r'<tr class="host[^"]*" data-host="([^"]+)" data-state="([a-z]+)">', html)


def _finding_rules(html):
    return re.findall(r'<tr class="finding" data-rule="([a-z-]+)">', html)


def test_the_summary_band_comes_first_and_counts_what_matters(fleet):
    html = fleet.get("/").text
    assert html.index('id="summary"') < html.index('id="findings"')
    counts = dict(re.findall(r'id="count-([a-z-]+)"><a [^>]*><b>(\d+)</b>', html))
    assert counts["never-reported"] == str(len(NEVER_REPORTED))
    assert int(counts["failing"]) >= 1  # cassandra2
    short = re.search(r'id="short-roles"><b>(\d+)</b>', html).group(1)
    assert int(short) >= 3  # elasticsearch, minio, restund (and asset) short of the plan
    breaking = re.search(r'id="breaking-servers"><b>(\d+)</b>.*?</div>', html).group(0)
    assert 'title="server1"' in breaking
    # each count is a link to the hosts it counts
    link = re.search(r'id="count-never-reported"><a href="([^"]+)"', html).group(1)
    assert link.startswith("?status=missing")


def test_findings_are_ranked_by_consequence_and_grouped(fleet):
    html = fleet.get("/").text
    rules = _finding_rules(html)
    assert rules[0] in ("physical-spread", "role-count", "etcd-odd")
    assert rules.index("host-checks") > rules.index("physical-spread")
    assert rules.count("inventory-missing") == 1  # six hosts, one row naming them
    row = html[html.index('data-rule="inventory-missing"') :].split("</tr>")[0]
    for name in NEVER_REPORTED:
        assert f'href="hosts/{name}"' in row
    passed = re.search(r'id="passed">Passed: ([^<]*)', html)
    assert passed, "the scenario has rules that pass (clock-skew, duplicate-identity)"
    assert not set(passed.group(1).rstrip(".").split(", ")) & set(rules)


def test_hosts_are_listed_per_physical_server_with_the_planned_ones(fleet):
    html = fleet.get("/?status=all").text
    groups = re.findall(r'<tbody>\s*<tr class="group"><th colspan="5">(.*?)</tbody>', html, re.S)
    where = {}
    for group in groups:
        server = re.search(r'title="([^"]+)"', group).group(1)
        for hostname, state in _host_rows(group):
            where[hostname] = (server, state)
    assert where["cassandra3"][0] == "server1"  # where it reports, not where it is planned
    assert where[LONG][0] == LONG_SERVER
    for name in NEVER_REPORTED:  # planned, never reported: in the inventory's server
        assert where[name][1] == "missing", name
    assert where["minio3"][0] == "server3" and where["restund1"][0] == "server1"
    assert len(where) == len(REPORTING) + 1 + len(NEVER_REPORTED)


def test_the_host_page_says_what_failed_and_how_to_fix_it(fleet):
    assert 'href="hosts/cassandra2"' in fleet.get("/").text
    page = fleet.get("/hosts/cassandra2")
    assert page.status_code == 200
    row = page.text[page.text.index('data-check="memory"') :].split("</tr>")[0]
    assert 'class="status fail"' in row
    assert "2.15 GB" in row or "2.00 GiB" in row  # observed
    assert "4 GB" in row  # expected
    assert "at least 4 GB" in row  # the fix
    assert "server2" in page.text and "cassandra" in page.text
    assert 'href="../api/v1/hosts/cassandra2"' in page.text
    assert "script-src 'sha256-" in page.headers["Content-Security-Policy"]


def test_search_filters_hosts_and_findings(fleet):
    everything = fleet.get("/?status=all").text
    all_hosts = dict(_host_rows(everything))
    # q matches host names (and roles, servers, failing checks): every cassandra, nothing else
    page = fleet.get("/", params={"q": "cassandra", "status": "all"}).text
    assert {h for h, _ in _host_rows(page)} == {h for h in all_hosts if "cassandra" in h}
    # ... and findings: only those that mention it, and the count of the others
    rules = _finding_rules(page)
    assert rules and len(rules) < len(_finding_rules(everything))
    for row in re.findall(r'<tr class="finding".*?</tr>', page, re.S):
        assert "cassandra" in row.lower()
    # a check's id finds the hosts failing it
    page = fleet.get("/", params={"q": "memory"}).text
    assert [h for h, _ in _host_rows(page)] == ["cassandra2"]
    # words narrow: all of them must match
    page = fleet.get("/", params={"q": "server2 cassandra", "status": "all"}).text
    assert [h for h, _ in _host_rows(page)] == ["cassandra2"]
    # status
    for status in ("fail", "missing", "pass"):
        page = fleet.get("/", params={"status": status}).text
        listed = _host_rows(page)
        assert listed and all(state == status for _, state in listed), (status, listed)
        assert len(listed) == sum(1 for s in all_hosts.values() if s == status)
    assert {h for h, _ in _host_rows(fleet.get("/?status=missing").text)} == set(NEVER_REPORTED)
    # exact filters the page's own links add
    page = fleet.get("/", params={"role": "kubernetes", "status": "all"}).text
    assert {h for h, _ in _host_rows(page)} == {"kubenode1", "kubenode2", "kubenode3"}
    page = fleet.get("/", params={"finding": "inventory-missing", "status": "all"}).text
    assert {h for h, _ in _host_rows(page)} == set(NEVER_REPORTED)
    assert set(_finding_rules(page)) == {"inventory-missing"}
    # a search that matches nothing says so
    page = fleet.get("/", params={"q": "no-such-thing-anywhere"}).text
    assert not _host_rows(page) and "No host matches" in page


def test_sort_orders(fleet):
    by_name = [h for h, _ in _host_rows(fleet.get("/?status=all&sort=name").text)]
    assert by_name == sorted(by_name) and len(by_name) > 10
    by_status = _host_rows(fleet.get("/?status=all&sort=status").text)
    order = {"fail": 0, "missing": 1, "stale": 2, "warn": 3, "pass": 4}
    ranks = [order[state] for _, state in by_status]
    assert ranks == sorted(ranks) and ranks[0] == 0 and ranks[-1] > ranks[0]
    seen = _host_rows(fleet.get("/?status=all&sort=seen").text)
    assert {h for h, _ in seen[: len(NEVER_REPORTED)]} == set(NEVER_REPORTED)  # never first
    for bad in ("status=bogus", "sort=bogus", "page=0", "page=x", "page=%C2%B2", "page=%D9%A3"):
        response = fleet.get("/?" + bad)
        assert response.status_code == 400, bad
        assert bad.split("=")[0] in response.json()["detail"]


def test_the_form_works_under_the_pages_policy(fleet):
    response = fleet.get("/")
    policy = response.headers["Content-Security-Policy"]
    assert "form-action 'self'" in policy and "form-action 'none'" not in policy
    form = re.search(r'<form class="filter" id="filter" method="get"[^>]*>', response.text)
    assert form
    # the API keeps the strict policy
    assert "form-action 'none'" in fleet.get("/api/v1/fleet").headers["Content-Security-Policy"]


def test_a_host_in_the_inventory_that_never_reported_has_a_page(fleet):
    fleet_page = fleet.get("/").text
    assert 'href="hosts/minio3"' in fleet_page
    page = fleet.get("/hosts/minio3")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    text = page.text
    assert "never reported" in text and "planned in the inventory" in text
    assert 'title="server3"' in text and 'title="minio"' in text
    assert "--limit minio3" in text  # the playbook, for this host only
    assert f"wire_preflight_collector={fleet.url}" in text
    assert "enroll_secret_file = /etc/wire-preflight/enroll-secret" in text
    assert "roles = minio" in text and "physical_host = server3" in text
    assert f"collector = {fleet.url}" in text
    # the API stays JSON, and a name nobody plans is a 404 page
    assert fleet.get("/api/v1/hosts/minio3").status_code == 404
    assert fleet.get("/api/v1/hosts/minio3").json()["detail"]
    unknown = fleet.get("/hosts/nobody")
    assert unknown.status_code == 404 and "has reported" in unknown.text
    assert unknown.headers["content-type"].startswith("text/html")


def test_new_hosts_are_one_line_and_drift_comes_after_the_fleets_state(fleet):
    html = fleet.get("/").text
    summary = re.search(r'<details id="new-hosts"><summary>(.*?)</summary>', html, re.S).group(1)
    reporting = len(REPORTING) + 1
    assert summary.startswith(f"{reporting} host(s) reported for the first time: ")
    assert "(show all)" in summary
    folded = html[html.index('id="new-hosts"') :].split("</details>")[0]
    assert all(f'title="{h}"' in folded for h, *_ in REPORTING)
    # no table row per new host; the other drift (cassandra1's memory) keeps its row
    drift = html[html.index("<h2>Recent drift</h2>") :]
    assert '<td data-label="what">new-host</td>' not in drift
    assert re.search(r'<td data-label="host">[^\n]*cassandra1[^\n]*memory-changed', drift)
    for section in ('id="summary"', 'id="findings"', 'id="roles"', 'id="hosts"'):
        assert html.index(section) < html.index("<h2>Recent drift</h2>"), section


def test_the_host_page_shows_its_history(fleet):
    page = fleet.get("/hosts/cassandra1").text
    ticks = re.findall(r'<span class="tick ([a-z]+)" title="([^"]+)"', page)
    assert [status for status, _ in ticks] == ["fail", "pass", "pass"]  # oldest first
    assert all("UTC" in title for _, title in ticks)
    runs = re.findall(
        r'<tr class="run"><td class="status ([a-z]+)">[a-z]+</td>'
        r'.*?<td data-label="reports">(\d+)</td>',
        page,
    )
    assert runs == [("pass", "2"), ("fail", "1")]  # newest first
    memory = page[page.index('data-check="memory"') :].split("</tr>")[0]
    assert "fail &rarr; pass" in memory
    os_row = page[page.index('data-check="os"') :].split("</tr>")[0]
    assert "unchanged in the last 3 report(s)" in os_row
    # a host with one report: one mark, no change
    assert len(re.findall(r'<span class="tick ', fleet.get("/hosts/cassandra3").text)) == 1


def test_a_check_new_within_the_history_read_says_since_when():
    """A check the older reports read did not have (an agent upgrade added it): "first seen",
    not "unchanged"."""
    from wire_preflight_collector.page import render_host

    reports = [  # newest first, as Store.report_statuses returns them
        {"received_at": 3000.0, "status": "pass", "checks": {"os|": "pass", "swap|": "pass"}},
        {"received_at": 2000.0, "status": "pass", "checks": {"os|": "pass", "swap|": "pass"}},
        {"received_at": 1000.0, "status": "pass", "checks": {"os|": "pass"}},
    ]
    latest = {"checks": [{"id": "os", "status": "pass"}, {"id": "swap", "status": "pass"}]}
    host = {"latest": latest, "history": [{"received_at": 3000.0}]}
    page = render_host("h1", host, {}, [], 3000.0, reports)
    swap = page[page.index('data-check="swap"') :].split("</tr>")[0]
    assert "first seen 1970-01-01 00:33:20 UTC" in swap
    os_row = page[page.index('data-check="os"') :].split("</tr>")[0]
    assert "unchanged in the last 3 report(s)" in os_row


def test_the_host_page_reads_a_bounded_history(tmp_path, base_facts):
    from helpers import make_report
    from wire_preflight_collector.history import HISTORY_REPORTS

    server = Collector(tmp_path).start()
    try:
        for run in range(HISTORY_REPORTS + 5):
            failing = ("swap",) if run == HISTORY_REPORTS else ()
            report = make_report(base_facts, "cassandra1", ["cassandra"], "s1", failing=failing)
            assert server.post(report).status_code == 201
        page = server.get("/hosts/cassandra1").text
    finally:
        server.stop()
    statuses = re.findall(r'<span class="tick ([a-z]+)"', page)
    assert len(statuses) == HISTORY_REPORTS
    assert statuses[-5:] == ["fail", "pass", "pass", "pass", "pass"]
    os_row = page[page.index('data-check="os"') :].split("</tr>")[0]
    assert f"unchanged in the last {HISTORY_REPORTS} report(s)" in os_row


def _fill(db, base_facts, hosts, failing=0):
    """A database with `hosts` hosts, filled in-process (as the collector's ingest does)."""
    from helpers import make_report
    from wire_preflight_collector.store import open_store

    store = open_store(db)
    try:
        roles = ["cassandra", "minio", "elasticsearch", "kubernetes", "restund"]
        for i in range(hosts):
            store.ingest(
                make_report(
                    base_facts,
                    f"node{i:04d}",
                    [roles[i % 5]],
                    f"server{i % 50:02d}",
                    address=f"192.168.{i // 250}.{i % 250 + 2}",
                    mac=f"52:54:00:00:{i // 256:02x}:{i % 256:02x}",
                    failing=("swap",) if i < failing else (),
                )
            )
    finally:
        store.close()


def test_passing_hosts_are_counted_and_listed_page_by_page(tmp_path, base_facts):
    from wire_preflight_collector.hostlist import PAGE_SIZE

    db = str(tmp_path / "fleet.db")
    _fill(db, base_facts, 250, failing=3)
    server = Collector(tmp_path, db=db).start()
    try:
        page = server.get("/").text
        assert [s for _, s in _host_rows(page)] == ["fail"] * 3
        assert re.search(
            r'id="passing-collapsed">247 passing host\(s\) not listed: '
            r'<a href="\?status=pass#hosts">list them</a>',
            page,
        )
        seen = []
        for number in (1, 2, 3):
            page = server.get(f"/?status=pass&page={number}").text
            rows = _host_rows(page)
            assert len(rows) == (PAGE_SIZE if number < 3 else 247 - 2 * PAGE_SIZE)
            assert all(state == "pass" for _, state in rows)
            seen += [h for h, _ in rows]
            assert f"page {number} of 3" in page
        assert len(seen) == len(set(seen)) == 247
        assert 'rel="next"' in server.get("/?status=pass&page=2").text
        assert 'rel="next"' not in server.get("/?status=pass&page=3").text
        # past the last page: the last page
        assert [h for h, _ in _host_rows(server.get("/?status=pass&page=99").text)] == seen[200:]
        # a role with 50 hosts names a few and links to the rest
        roles = page[page.index('id="roles"') :].split("</table>")[0]
        assert re.search(r'<a href="\?status=all&amp;role=cassandra#hosts">and \d+ more</a>', roles)
    finally:
        server.stop()


def test_the_page_of_5000_passing_hosts_is_small(tmp_path, base_facts):
    """The issue's 4.2 MB: every host a row, every new host a drift row. Now the page is the
    fleet's state and a count (bench/page_size.py measures the same)."""
    db = str(tmp_path / "fleet.db")
    _fill(db, base_facts, 5000)
    server = Collector(tmp_path, db=db).start()
    try:
        page = server.get("/")
        listed = server.get("/?status=pass")
    finally:
        server.stop()
    assert page.status_code == 200
    assert "5000 passing host(s) not listed" in page.text
    assert "5000 host(s) reported for the first time" in page.text
    assert "new-host</td>" not in page.text
    assert len(page.content) < 48 * 1024, len(page.content)  # under 10 bytes a host
    assert len(_host_rows(listed.text)) == 100
    assert len(listed.content) < 128 * 1024, len(listed.content)


@pytest.mark.skipif(not CHROMIUM, reason=NO_CHROMIUM)
@pytest.mark.parametrize("width", [360, 768, 1400])
def test_names_stay_whole_and_nothing_scrolls_the_page_at_any_width(fleet, tmp_path, width):
    pages = {
        "fleet": "/",
        "fleet-all": "/?status=all&sort=name",
        "host": "/hosts/cassandra2",
        "host-long": f"/hosts/{LONG}",
        "planned": "/hosts/elasticsearch3",
    }
    for name, path in pages.items():
        html = fleet.get(path).text
        found = _measure(html, tmp_path, width, name)
        assert found["V"] == width
        assert found["W"] <= width, (name, width, found["W"])
        assert found["names"] > 0, name
        assert not found["bad"], (name, width, found["bad"])
        for short in ("elasticsearch3", "kubenode2", "cassandra1"):  # never cut
            assert short not in found["cut"], (name, width, short)
        # The h1 holds the long name: cut on a phone, whole on a desktop (768: either is right).
        if name == "host-long" and width != 768:
            assert (LONG in found["cut"]) == (width == 360), (width, found["cut"])
        assert os.path.getsize(_shoot(html, tmp_path, width, name)) > 10000


def test_a_fleet_of_cloned_vms_shows_a_bounded_findings_table(tmp_path, base_facts):
    """Clones share identities: one finding per shared value, each naming every clone. The
    table shows the first rows and says how to find the rest; long messages are cut."""
    from helpers import make_report
    from wire_preflight_collector.page import FINDINGS_SHOWN, MESSAGE_SHOWN
    from wire_preflight_collector.store import open_store

    db = str(tmp_path / "clones.db")
    store = open_store(db)
    try:
        pairs = FINDINGS_SHOWN + 5
        for i in range(2 * pairs):  # two VMs per address: one duplicate-identity row a pair
            address = f"192.168.{i // 2 // 250}.{i // 2 % 250 + 2}"
            store.ingest(make_report(base_facts, f"clone{i:03d}", ["cassandra"], address=address))
        for i in range(300):  # and 300 VMs sharing one product_uuid: one row naming them all
            store.ingest(
                make_report(
                    base_facts,
                    f"twin{i:03d}",
                    ["minio"],
                    address=f"192.168.100.{i % 250 + 2}" if i < 250 else f"192.168.101.{i}",
                    product_uuid="8d3f1a52-6c1e-4b7e-9a0f-2c4d6e8f0a1b",
                )
            )
    finally:
        store.close()
    server = Collector(tmp_path, db=db).start()
    try:
        page = server.get("/").text
        searched = server.get("/", params={"q": f"192.168.0.{pairs - 1 + 2}"}).text
        twins = server.get("/", params={"q": "product_uuid"}).text
    finally:
        server.stop()
    assert len(_finding_rules(page)) == FINDINGS_SHOWN
    more = re.search(r'id="findings-more">(\d+) more finding row', page)
    assert more and int(more.group(1)) > 0
    # the product_uuid row names 300 hosts in its message: cut; its hosts column: 12 and a link
    assert _finding_rules(twins) == ["duplicate-identity"]
    message = re.search(r"</strong>: ([^<]*)", twins).group(1).strip()
    assert message.endswith(" …") and len(message) <= MESSAGE_SHOWN + 2, message
    assert re.search(
        r'<a href="\?status=all&amp;finding=duplicate-identity#hosts">and 288 more', twins
    )
    # a row past the first ones is found by searching for what it is about
    assert _finding_rules(searched) == ["duplicate-identity"]
