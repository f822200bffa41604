"""Each new drift event, POSTed as JSON to a webhook: from a thread of its own, so a slow or
dead webhook never holds up an agent's report. Failed deliveries are retried with exponential
backoff; after the last attempt the event is dropped and the drop is logged."""

import logging
import queue
import threading
from typing import Any, Dict, Iterable

log = logging.getLogger("wire_preflight_collector.webhook")


class Webhook:
    def __init__(
        self,
        url: str,
        timeout: float = 5.0,
        attempts: int = 6,
        first_delay: float = 1.0,
        max_delay: float = 60.0,
        capacity: int = 10000,
    ):
        self.url = url
        self.timeout = timeout
        self.attempts = attempts
        self.first_delay = first_delay
        self.max_delay = max_delay
        self._queue = queue.Queue(maxsize=capacity)  # type: queue.Queue
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="webhook", daemon=True)
        self.delivered = 0
        self.dropped = 0

    def start(self) -> "Webhook":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def submit(self, events: Iterable[Dict[str, Any]]) -> None:
        """Never blocks: a full queue drops its oldest event to make room."""
        for event in events:
            while True:
                try:
                    self._queue.put_nowait(event)
                    break
                except queue.Full:
                    try:
                        self._queue.get_nowait()
                        self.dropped += 1
                        log.warning("webhook queue full: dropped the oldest event")
                    except queue.Empty:
                        pass

    def _run(self) -> None:
        import requests

        session = requests.Session()
        while not self._stop.is_set():
            try:
                event = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            self._deliver(session, event)

    def _deliver(self, session: Any, event: Dict[str, Any]) -> None:
        import requests

        delay = self.first_delay
        error = None  # type: Optional[str]
        for attempt in range(1, self.attempts + 1):
            try:
                response = session.post(self.url, json=event, timeout=self.timeout)
                if response.status_code < 300:
                    self.delivered += 1
                    return
                error = f"HTTP {response.status_code}"
            except requests.RequestException as exc:
                error = type(exc).__name__
            if attempt < self.attempts and self._stop.wait(delay):
                return
            delay = min(delay * 2, self.max_delay)
        self.dropped += 1
        log.warning(
            "webhook: dropped %s event for %s after %d attempts (%s)",
            event.get("kind"),
            event.get("hostname"),
            self.attempts,
            error,
        )
