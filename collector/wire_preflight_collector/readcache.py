"""What the read endpoints compute from the whole store (the judged fleet, its JSON, the
metrics), computed once per change of the store rather than once per request.

The key is the store's generation token (`Store.generation`): every write transaction that
changes a row replaces it, in the same transaction, so a write by another collector process on
the same database invalidates this process's values too, and a value is never older than the
token read before computing it. The judgement does not depend on the clock: hosts turn stale
when the stale-watcher marks them (a write), so that too changes the token. A value that does
(the page's "2 min ago") is given a max_age: past it, readers still get the held value at once
while one thread makes it anew. Judging runs outside every store lock; readers asking at once
wait for one judgement instead of each making their own.
"""

import threading
import time
from typing import Any, Callable, Dict, Optional, Tuple


class PerGeneration:
    def __init__(self, generation: Callable[[], str]):
        self._generation = generation
        self._values: Dict[str, Tuple[str, Any, float]] = {}
        self._locks: Dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    def get(self, name: str, compute: Callable[[], Any], max_age: Optional[float] = None) -> Any:
        """compute()'s value for the store as it is now, computed again only after a write
        (and, with max_age, in the background once the held value is older than that)."""
        generation = self._generation()
        held = self._values.get(name)
        lock = self._lock(name)
        if held is not None and held[0] == generation:
            too_old = max_age is not None and time.monotonic() - held[2] > max_age
            if too_old and lock.acquire(blocking=False):  # else a refresh is under way
                threading.Thread(
                    target=self._refresh, args=(name, compute, generation, lock), daemon=True
                ).start()
            return held[1]
        with lock:
            held = self._values.get(name)  # another reader may have just computed it
            if held is not None and held[0] == generation:
                return held[1]
            return self._store(name, generation, compute())

    def _lock(self, name: str) -> threading.Lock:
        with self._locks_lock:
            return self._locks.setdefault(name, threading.Lock())

    def _store(self, name: str, generation: str, value: Any) -> Any:
        self._values[name] = (generation, value, time.monotonic())
        return value

    def _refresh(self, name: str, compute: Callable[[], Any], generation: str, lock: Any) -> None:
        try:
            self._store(name, generation, compute())
        except Exception:  # the database went away: the next reader computes, and sees why
            self._values.pop(name, None)
        finally:
            lock.release()
