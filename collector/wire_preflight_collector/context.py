"""What the routes share: the operator's settings and what one app derives from them once.

`create_app` puts a `Collector` in `app.state.collector`; routes take it with the `collector`
dependency (routes/common.py), so no route is a closure and each router is a module."""

import time
from typing import Any, Dict, List, Optional

from wire_preflight.profiles import Profile

from wire_preflight_collector import auth
from wire_preflight_collector.defaults import MAX_BODY, PENDING_EXPIRY, STALE_AFTER
from wire_preflight_collector.health import WriteHealth
from wire_preflight_collector.readcache import PerGeneration
from wire_preflight_collector.shared import Shared
from wire_preflight_collector.store import Store
from wire_preflight_collector.throttle import LIMIT, WrongCredentials
from wire_preflight_collector.webhook import Webhook
from wire_preflight_collector.workers import per_worker


class Settings:
    def __init__(
        self,
        store: Store,
        token: str,
        profile: Profile,
        planned: Optional[List[Dict[str, Any]]] = None,
        max_body: int = MAX_BODY,
        stale_after: float = STALE_AFTER,
        webhook: Optional[Webhook] = None,
        viewer_token: Optional[str] = None,
        enroll_secret: Optional[str] = None,
        pending_expiry: float = PENDING_EXPIRY,
        shared: Optional[Shared] = None,
        workers: int = 1,
        chores: bool = True,
    ):
        """`shared`, `workers`, `chores`: this process's part in a collector of `workers`
        processes (workers.py): what they share, and whether this one runs the chores (the
        stale-watcher). Each process allows 1/workers of the wrong-credential allowance, so
        all of them together never allow more than one process did."""
        self.store = store
        self.secrets = auth.Secrets(token, viewer_token, enroll_secret)
        self.profile = profile
        self.planned = planned
        self.max_body = max_body
        self.stale_after = stale_after
        self.webhook = webhook
        self.limiter = WrongCredentials(limit=per_worker(LIMIT, workers))
        self.pending_expiry = pending_expiry
        self.shared = shared or Shared()
        self.chores = chores


class Collector:
    """One app's settings and its state: the write health, the reads held per store
    generation, and what it shares with the collector's other processes."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.store = settings.store
        self.free_fraction = settings.profile.units["disk_free_warn_fraction"]
        self.shared = settings.shared
        self.write_health = WriteHealth(settings.store, settings.shared)
        self.judged = PerGeneration(settings.store.generation, shared=settings.shared)

    def notify(self, events: List[Dict[str, Any]]) -> None:
        if events and self.settings.webhook:
            self.settings.webhook.submit(events)

    def scan_stale(self) -> None:
        self.notify(self.store.mark_stale(time.time(), self.settings.stale_after))
        self.notify(self.store.expire_pending(time.time(), self.settings.pending_expiry))
