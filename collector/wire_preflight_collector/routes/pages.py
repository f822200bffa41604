"""The HTML pages (a viewer's or an admin's, Basic credentials from a browser): the fleet page
and a host's page. Each carries its own Content-Security-Policy (only its reload script runs)."""

import time

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from wire_preflight_collector import auth
from wire_preflight_collector.fleetview import fleet_view
from wire_preflight_collector.headers import SECURITY_HEADERS
from wire_preflight_collector.routes.common import App, scope

PAGE_MAX_AGE = 30.0

pages = APIRouter(dependencies=[scope(auth.ADMIN, auth.VIEWER)])


@pages.get("/", response_class=HTMLResponse)
def page(request: Request, app: App) -> HTMLResponse:
    from wire_preflight_collector import hostlist
    from wire_preflight_collector.page import read_drift, render

    try:  # the GET form's fields: filtering and paging happen here, not in a script
        query = hostlist.parse_query(request.query_params)
    except hostlist.QueryError as exc:
        raise HTTPException(400, str(exc)) from None

    view = fleet_view(app)

    def make() -> str:
        return render(
            view.value,
            read_drift(app.store),
            time.time(),
            app.settings.planned,
            query,
            app.store.pending(),
            judged_at=view.made_at,
        )

    if query != hostlist.Query():
        return _page(make())  # a search: from the held judgement, rendered for it alone
    # Its "generated" time and "2 min ago"s move with the clock: once it is PAGE_MAX_AGE
    # old it is made anew in the background (readers meanwhile get the held one, whose
    # "generated" says when it was made); each new judgement of the fleet makes it anew.
    return _page(app.judged.get("page", make, max_age=PAGE_MAX_AGE, key=view.key))


@pages.get("/hosts/{hostname}", response_class=HTMLResponse)
def host_page(hostname: str, request: Request, app: App) -> HTMLResponse:
    from wire_preflight_collector import page

    hostname = hostname.lower()
    found = app.store.host(hostname)
    if found is None:
        # A browser gets a page (the API route stays JSON): a planned host that never
        # reported says how to enrol it.
        plan = next((p for p in app.settings.planned or [] if p["name"] == hostname), None)
        if plan is not None:
            url = str(request.base_url).rstrip("/")
            return _page(page.render_planned_host(plan, url))
        return _page(page.render_unknown_host(hostname), status_code=404)
    events = app.store.events(hostname=hostname, limit=100)
    summary = app.store.host_summary(hostname)
    reports = app.store.report_statuses(hostname, page.host_history.HISTORY_REPORTS)
    return _page(page.render_host(hostname, found, summary, events, time.time(), reports))


def _page(body: str, status_code: int = 200) -> HTMLResponse:
    from wire_preflight_collector.page import SCRIPT_HASH

    # The page's search form submits to the page itself (a GET): form-action 'self' allows
    # that and nothing else; no other script than the reload may run.
    policy = SECURITY_HEADERS["Content-Security-Policy"].replace(
        "form-action 'none'", "form-action 'self'"
    )
    policy += f"; script-src '{SCRIPT_HASH}'"
    return HTMLResponse(body, status_code=status_code, headers={"Content-Security-Policy": policy})
