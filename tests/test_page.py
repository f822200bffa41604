"""The fleet page and a host page as a person sees them: real headless Chromium at phone and
desktop widths, on a fleet that is partly reporting and partly broken, with real check
results from the agent (observed, expected, fix)."""

import copy
import json
import os
import re

import pytest
from conftest import fixture_path, run_process

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


def _as_host(template, hostname, server, number):
    report = copy.deepcopy(template)
    report["report_id"] = f"page-{hostname}"
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
        for number, (hostname, role, where, memory) in enumerate(REPORTING, 1):
            key = (role, memory)
            if key not in templates:
                templates[key] = _real_report(tmp_path, role, memory)
            response = server.post(_as_host(templates[key], hostname, where, number))
            assert response.status_code == 201, response.text
        yield server
    finally:
        server.stop()


def _frame(html, tmp_path, width, name):
    """The page's own HTML and CSS in an iframe `width` pixels wide (headless Chromium keeps
    its windows at least 500 wide; an iframe is a viewport of any width, media queries
    included), and a script in the outer page that measures the framed document."""
    import html as markup

    probe = (
        "<script>document.getElementById('f').addEventListener('load',function(){"
        "var d=this.contentDocument.documentElement;document.title="
        "'W='+d.scrollWidth+' V='+this.contentWindow.innerWidth;});</script>"
    )
    path = tmp_path / f"{name}-{width}.html"
    path.write_text(
        "<!doctype html><html><head><title>loading</title></head>"
        "<body style='margin:0'>"
        f"<iframe id='f' style='width:{width}px;height:2600px;border:0' "
        f'srcdoc="{markup.escape(html, quote=True)}"></iframe>{probe}</body></html>'
    )
    return "file://" + str(path)


def _widths(html, tmp_path, width, name):
    """(document width, viewport width) of the page in Chromium at a viewport width."""
    done = chromium(
        "--hide-scrollbars",
        "--window-size=1500,900",
        "--dump-dom",
        _frame(html, tmp_path, width, name),
    )
    found = re.search(r"<title>W=(\d+) V=(\d+)</title>", done.stdout)
    assert found, done.stderr[-2000:]
    return int(found.group(1)), int(found.group(2))


def _shoot(html, tmp_path, width, name):
    out = os.path.join(SCREENSHOTS or str(tmp_path), f"{name}-{width}.png")
    frame = _frame(html, tmp_path, width, name + "-shot")
    done = chromium(
        "--hide-scrollbars", f"--window-size={max(width, 500)},2600", f"--screenshot={out}", frame
    )
    assert os.path.exists(out), done.stderr[-2000:]
    return out


def test_the_summary_band_comes_first_and_counts_what_matters(fleet):
    html = fleet.get("/").text
    assert html.index('id="summary"') < html.index('id="findings"')
    counts = dict(re.findall(r'id="count-([a-z-]+)"><b>(\d+)</b>', html))
    assert counts["never-reported"] == str(len(NEVER_REPORTED))
    assert int(counts["failing"]) >= 1  # cassandra2
    short = re.search(r'id="short-roles"><b>(\d+)</b>', html).group(1)
    assert int(short) >= 3  # elasticsearch, minio, restund (and asset) short of the plan
    breaking = re.search(r'id="breaking-servers"><b>(\d+)</b>[^<]*', html).group(0)
    assert "server1" in breaking


def test_findings_are_ranked_by_consequence_and_grouped(fleet):
    html = fleet.get("/").text
    rules = re.findall(r'<tr class="finding" data-rule="([a-z-]+)">', html)
    assert rules[0] in ("physical-spread", "role-count", "etcd-odd")
    assert rules.index("host-checks") > rules.index("physical-spread")
    assert rules.count("inventory-missing") == 1  # six hosts, one row naming them
    row = html[html.index('data-rule="inventory-missing"') :].split("</tr>")[0]
    for name in NEVER_REPORTED:
        assert f'href="hosts/{name}"' in row
    passed = re.search(r'id="passed">Passed: ([^<]*)', html)
    assert passed, "the scenario has rules that pass (clock-skew, duplicate-identity)"
    assert not set(passed.group(1).rstrip(".").split(", ")) & set(rules)


def test_planned_hosts_that_never_reported_sit_in_their_servers_box(fleet):
    html = fleet.get("/").text
    servers = html[html.index('id="servers"') :]
    for name in NEVER_REPORTED:
        assert re.search(
            rf'<tr class="host not-reporting">.*?<td class="hostname">{name}</td>', servers
        ), name


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
    assert fleet.get("/hosts/nobody").status_code == 404
    assert "script-src 'sha256-" in page.headers["Content-Security-Policy"]


@pytest.mark.skipif(not CHROMIUM, reason=NO_CHROMIUM)
@pytest.mark.parametrize("width", [360, 400, 1400])
def test_no_horizontal_scroll_at_any_width(fleet, tmp_path, width):
    for name, path in (("fleet", "/"), ("host", "/hosts/cassandra2")):
        html = fleet.get(path).text
        document, viewport = _widths(html, tmp_path, width, name)
        assert viewport == width
        assert document <= viewport, (name, width, document)
        assert os.path.getsize(_shoot(html, tmp_path, width, name)) > 10000
