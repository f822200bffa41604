"""What the read endpoints compute from the whole store (the judged fleet, its JSON, the
metrics), computed once per change of the store rather than once per request.

The key is the store's generation token (`SqlStore.generation`): every write transaction that
changes a row replaces it, in the same transaction, so a write by another collector process on
the same database invalidates this process's values too, and a value is never older than the
token read before computing it. Nothing here depends on the clock: hosts turn stale when the
stale-watcher marks them (a write), so that too changes the token. The judgement runs in the
reader's thread, outside every store lock; readers asking at once wait for one judgement
instead of each making their own.
"""

import threading
from typing import Any, Callable, Dict, Tuple


class PerGeneration:
    def __init__(self, generation: Callable[[], str]):
        self._generation = generation
        self._values: Dict[str, Tuple[str, Any]] = {}
        self._locks: Dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    def get(self, name: str, compute: Callable[[], Any]) -> Any:
        """compute()'s value for the store as it is now, computed again only after a write."""
        generation = self._generation()
        held = self._values.get(name)
        if held is not None and held[0] == generation:
            return held[1]
        with self._locks_lock:
            lock = self._locks.setdefault(name, threading.Lock())
        with lock:
            held = self._values.get(name)  # another reader may have just computed it
            if held is not None and held[0] == generation:
                return held[1]
            value = compute()
            self._values[name] = (generation, value)
            return value
