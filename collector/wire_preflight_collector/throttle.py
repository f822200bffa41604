"""Wrong credentials, counted per client address: past a threshold the address is answered
429 with Retry-After, and each address's failures are logged (the first, then every
LOG_EVERY). A valid credential is never counted nor slowed: it is checked first.

A client is what server.py's per-address connection bound counts: an IPv4 address, or an
IPv6 /64 (one machine usually holds a whole /64, and would otherwise guess from 2**64 fresh
addresses, each under the threshold)."""

import logging
import threading
import time
from collections import OrderedDict
from typing import Optional

from wire_preflight_collector.server import address_key

log = logging.getLogger("wire_preflight_collector")

LIMIT = 30  # wrong credentials an address may present per window before it is told to wait
WINDOW = 60.0  # seconds
LOG_EVERY = 100
MAX_ADDRESSES = 10000  # addresses remembered at most (the oldest are forgotten first)


class WrongCredentials:
    def __init__(self, limit: int = LIMIT, window: float = WINDOW):
        self.limit = limit
        self.window = window
        self._lock = threading.Lock()
        # address -> [window start, failures in it]
        self._seen: OrderedDict[str, list] = OrderedDict()

    def failed(self, address: str, what: str, now: Optional[float] = None) -> Optional[int]:
        """Count one wrong credential; the seconds to wait when the address is past the
        limit, else None."""
        now = time.monotonic() if now is None else now
        address = address_key(address)
        with self._lock:
            entry = self._seen.pop(address, None)
            if entry is None or now - entry[0] >= self.window:
                entry = [now, 0]
            entry[1] += 1
            self._seen[address] = entry
            while len(self._seen) > MAX_ADDRESSES:
                self._seen.popitem(last=False)
            count, started = entry[1], entry[0]
        if count == 1 or count == self.limit + 1 or count % LOG_EVERY == 0:
            log.warning(
                "wrong credential from %s (%s): %d in the last %.0f s%s",
                address,
                what,
                count,
                now - started,
                "; answering 429 until the window ends" if count > self.limit else "",
            )
        if count > self.limit:
            return max(1, int(started + self.window - now + 0.999))
        return None
