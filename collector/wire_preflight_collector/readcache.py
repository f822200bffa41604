"""What the read endpoints compute from the whole store (the judged fleet, its JSON, the
metrics, the page), computed once per change of the store rather than once per request, and
under steady ingest at most once per LAG seconds.

The key is the store's generation token (`Store.generation`): every write transaction that
changes a row replaces it, in the same transaction, so a write by another collector process on
the same database invalidates this process's values too, and a value is never older than the
token read before computing it. The judgement does not depend on the clock: hosts turn stale
when the stale-watcher marks them (a write), so that too changes the token. A value that does
(the page's "2 min ago") is given a max_age: past it, readers still get the held value at once
while one thread makes it anew. Judging runs outside every store lock; readers asking at once
wait for one judgement instead of each making their own.

Under steady ingest every report changes the token. Judging 5,000 hosts takes most of a second
of CPU in the collector's one interpreter, and holding the GIL that long beside ingest is what
slowed reports; so a value that is costly to make (CHEAP seconds of CPU or more) is made again at
most once per LAG seconds: within LAG of its making, a reader after a change gets the held value and
one background thread makes it anew once LAG has passed. A reader never gets a value made more
than BOUND seconds ago while the store has changed since (it waits for the judgement under way
instead), and a read LAG or more after the last judgement, with none under way, waits for a
judgement of the store as it is: after a quiet spell, reads show the latest state. A value
cheap to make (a small fleet) is made again on the first read after every change, as before.
"""

import contextlib
import threading
import time
from typing import Any, Callable, Dict, Iterator, NamedTuple, Optional

from wire_preflight_collector.shared import Shared

# Seconds between two judgements of a costly value while the store keeps changing: at 5,000
# hosts 2 s and 5 s still let 4 page readers double a report's latency (bench/README.md).
LAG = 10.0
# The oldest a value may be when the store has changed since it was made; past it a reader
# waits for the judgement under way (one that takes longer than BOUND - LAG).
BOUND = 20.0
# A value made in less CPU time than this is made again on the first read after each change.
# CPU, not wall time: what holds the GIL beside ingest, and what a loaded machine or a
# database's round trips do not inflate (a small fleet must stay read-after-write).
CHEAP = 0.1


class Held(NamedTuple):
    key: str  # the generation token (or the caller's key) the value was made for
    value: Any
    made: float  # monotonic time when its making started: it shows the store as of then
    made_at: float  # the same, as Unix time, to show people
    cost: float  # CPU seconds its making took in this interpreter


class PerGeneration:
    def __init__(
        self,
        generation: Callable[[], str],
        lag: float = LAG,
        bound: float = BOUND,
        cheap: float = CHEAP,
        shared: Optional[Shared] = None,
    ):
        self._generation = generation
        self.lag, self.bound, self.cheap = lag, bound, cheap
        self._values: Dict[str, Held] = {}
        self._locks: Dict[str, threading.Lock] = {}
        self._scheduled: Dict[str, bool] = {}
        self._locks_lock = threading.Lock()
        # Values whose making started before the last admin change may not be served behind
        # the store; the change may have been made in another process (shared.py).
        self._shared = shared or Shared()

    def get(
        self,
        name: str,
        compute: Callable[[], Any],
        max_age: Optional[float] = None,
        key: Optional[str] = None,
    ) -> Any:
        """compute()'s value for the store as it is now (see the module's docstring for how
        far behind it may be); with max_age, made anew in the background once older than that
        though nothing changed; with key, held per that key instead of the store's token (a
        value derived from a held one: made once per value it derives from)."""
        return self.held(name, compute, max_age, key).value

    def held(
        self,
        name: str,
        compute: Callable[[], Any],
        max_age: Optional[float] = None,
        key: Optional[str] = None,
    ) -> Held:
        """get()'s value with when it was made."""
        current = self._generation() if key is None else key
        held = self._values.get(name)
        lock = self._lock(name)
        if held is not None and held.key == current:
            too_old = max_age is not None and time.monotonic() - held.made > max_age
            if too_old and lock.acquire(blocking=False):  # else a refresh is under way
                threading.Thread(
                    target=self._refresh, args=(name, compute, current, lock), daemon=True
                ).start()
            return held
        if held is not None and key is None and self._may_lag(held):
            age = time.monotonic() - held.made
            if age < self.lag:
                self._schedule(name, compute, self.lag - age)
                return held
            if age < self.bound and lock.locked():  # a judgement is under way
                return held
        with lock:
            held = self._values.get(name)  # another reader may have just made it
            if held is not None and held.key == current:
                return held
            if held is not None and key is None and self._just_made(held):  # while it waited
                self._schedule(name, compute, self.lag)
                return held
            return self._make(name, compute, current)

    def _just_made(self, held: Held) -> bool:
        return self._may_lag(held) and time.monotonic() - held.made < self.lag

    def _may_lag(self, held: Held) -> bool:
        return held.cost >= self.cheap and held.made >= self._shared.admin_changed_at

    def show_changes_now(self) -> None:
        """The next read of each value shows the store as it is from now on, however costly
        its making: an admin who forgets or accepts a host expects the next read to show it
        (reports, arriving all the time, may lag)."""
        self._shared.admin_changed(time.monotonic())

    def _lock(self, name: str) -> threading.Lock:
        with self._locks_lock:
            return self._locks.setdefault(name, threading.Lock())

    def _make(self, name: str, compute: Callable[[], Any], key: str) -> Held:
        started, started_at, cpu = time.monotonic(), time.time(), time.thread_time()
        value = compute()
        held = Held(key, value, started, started_at, time.thread_time() - cpu)
        self._values[name] = held
        return held

    def _schedule(self, name: str, compute: Callable[[], Any], delay: float) -> None:
        """One background judgement of `name` after `delay` seconds (none if one waits)."""
        with self._locks_lock:
            if self._scheduled.get(name):
                return
            self._scheduled[name] = True
        timer = threading.Timer(delay, self._catch_up, args=(name, compute))
        timer.daemon = True
        timer.start()

    def _catch_up(self, name: str, compute: Callable[[], Any]) -> None:
        lock = self._lock(name)
        with self._locks_lock:
            self._scheduled[name] = False
        with lock, self._dropped_on_failure(name):
            current = self._generation()
            held = self._values.get(name)
            if held is None or held.key != current:
                self._make(name, compute, current)

    def _refresh(self, name: str, compute: Callable[[], Any], key: str, lock: Any) -> None:
        try:
            with self._dropped_on_failure(name):
                self._make(name, compute, key)
        finally:
            lock.release()

    @contextlib.contextmanager
    def _dropped_on_failure(self, name: str) -> Iterator[None]:
        """A making in the background that fails (the database went away) drops the held
        value: the next reader makes it, and sees why."""
        try:
            yield
        except Exception:
            self._values.pop(name, None)
