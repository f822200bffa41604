"""The collector's app: its lifespan (the stale-watcher, the webhook), its middleware, its error
answers, and the routers of routes/. Who may call what is auth.py's; every route sits in a
router of its scope, and reaches the settings through `app.state.collector` (context.py)."""

import contextlib
import logging
import sqlite3
import threading
from typing import Any, AsyncIterator, Dict

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from wire_preflight_collector import schema
from wire_preflight_collector.context import Collector, Settings
from wire_preflight_collector.headers import SecurityHeaders
from wire_preflight_collector.health import WriteOutcomes
from wire_preflight_collector.requestguard import RequestGuard
from wire_preflight_collector.routes import admin, ingest, pages, reads

__all__ = ["Settings", "create_app"]

log = logging.getLogger("wire_preflight_collector")

ROUTERS = (
    reads.public,
    reads.readers,
    pages.pages,
    ingest.reporters,
    ingest.enrollers,
    admin.admins,
)


def create_app(settings: Settings) -> FastAPI:
    collector = Collector(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        if settings.chores:  # one process of a collector marks hosts stale (workers.py)
            watcher = threading.Thread(
                target=_watch_stale, args=(collector, stop), name="stale-watch", daemon=True
            )
            watcher.start()
        if settings.webhook:
            settings.webhook.start()
        yield
        stop.set()
        if settings.webhook:
            settings.webhook.stop()

    app = FastAPI(
        title="wire-preflight collector",
        version="1",
        lifespan=lifespan,
        description="Fleet reports, drift and metrics of wire-preflight agents.",
        # Swagger UI loads scripts from a CDN: useless air-gapped, and script on this origin.
        docs_url=None,
        redoc_url=None,
    )
    app.state.collector = collector

    async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        # A full disk or a locked database is the world's doing: 503 tells an agent to spool
        # and retry, and the transaction was rolled back, so nothing half-written remains.
        log.error("database error on %s %s: %s", request.method, request.url.path, exc)
        collector.shared.count_store_error()
        if request.method not in ("GET", "HEAD"):
            collector.write_health.write_failed(exc)
        # The cause (paths, the database's host and user) goes to the log, not to the caller.
        return JSONResponse(
            {"detail": "the collector cannot use its database now (its log says why)"}, 503
        )

    # sqlite3.Error, or psycopg.Error for the PostgreSQL store.
    for error in getattr(settings.store, "errors", (sqlite3.Error,)):
        app.add_exception_handler(error, database_unavailable)

    app.add_middleware(WriteOutcomes, health=collector.write_health)
    app.add_middleware(RequestGuard)  # inside SecurityHeaders: its answers get them too
    app.add_middleware(SecurityHeaders)

    for router in ROUTERS:
        app.include_router(router)
    _publish_models(app)
    return app


def _watch_stale(collector: Collector, stop: threading.Event) -> None:
    """Hosts go stale without anyone asking: marked every quarter of --stale-after."""
    interval = max(0.5, min(60.0, collector.settings.stale_after / 4))
    failures = 0
    while not stop.wait(min(600.0, interval * 2**failures)):
        try:
            collector.scan_stale()
            failures = 0
        except Exception as exc:  # a full disk, a locked database: try again later
            collector.shared.count_store_error()
            failures = min(failures + 1, 6)
            log.warning("stale-watch: %s (retrying)", exc)


def _publish_models(app: FastAPI) -> None:
    """Put the body models into /openapi.json (the routes read their bodies themselves, to
    bound their size while they stream)."""
    from fastapi.openapi.utils import get_openapi

    def build() -> Dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            components = spec.setdefault("components", {}).setdefault("schemas", {})
            for model in (schema.Report, schema.Enrollment):
                definition = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(definition.pop("$defs", {}))
                components[model.__name__] = definition
            app.openapi_schema = spec
        return app.openapi_schema

    # FastAPI's documented way to extend the schema; mypy refuses assigning to a method.
    app.openapi = build  # type: ignore[method-assign]
