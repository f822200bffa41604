"""How long reports are kept, and the background pruner that enforces it while serving.

Reports are what grows: 100 hosts every 5 minutes make 28,800 a day. Events, baselines and
every host's newest report are what an operator reads years later; retention never deletes
them (store.base.Store.prune).
"""

import logging
import threading
from typing import Any, Optional

from wire_preflight.commandline import parse_duration
from wire_preflight.model import InputError

from wire_preflight_collector.defaults import PRUNE_EVERY

log = logging.getLogger("wire_preflight_collector.retention")


def parse_keep(text: str, option: str = "--keep-reports") -> Optional[float]:
    """Seconds, from the forms `fleet drift --since` takes (90, 90s, 15m, 12h, 30d); None for
    `forever` (never prune)."""
    if text.strip().lower() == "forever":
        return None
    try:
        seconds = parse_duration(text, option)
    except InputError:
        seconds = 0.0
    if seconds <= 0:
        raise InputError(
            f"{option} {text!r}: give a positive number of seconds or a number with s, m, h or "
            "d (e.g. 30d), or forever"
        )
    return seconds


class Pruner:
    """A daemon thread that prunes every `every` seconds, off the request path. It survives
    errors (a locked or full database): it logs them and tries again next time."""

    def __init__(self, store: Any, keep_seconds: float, every: float = PRUNE_EVERY):
        self.store = store
        self.keep = keep_seconds
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="prune", daemon=True)

    def start(self) -> "Pruner":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                removed = self.store.prune(self.keep, pause=0.05)
                if removed["reports"] or removed["facts"]:
                    log.info(
                        "pruned %d report(s) and %d unreferenced facts",
                        removed["reports"],
                        removed["facts"],
                    )
            except Exception as exc:
                log.warning("prune: %s (trying again in %.0f s)", exc, self.every)
