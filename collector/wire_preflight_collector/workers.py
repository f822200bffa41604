"""Several collector processes on one port (`serve --workers N`).

One Python process runs one request's Python at a time (the GIL): on a machine with cores to
spare, more processes store more reports a second (bench/README.md). The parent process only
supervises; each worker it forks:
- listens on its own socket, bound to the same address and port with SO_REUSEPORT: the kernel
  spreads new connections over the workers by their addresses and ports, and stops sending
  any to a worker that is gone;
- opens the database itself (a database connection never crosses a fork);
- holds 1/N of the connection bounds and of the wrong-credential allowance, so that all of
  them together never allow more than one process did;
- shares what shared.py names (the error counter, the last write's outcome, the last admin
  change) with the others.
Worker 0 alone runs the chores: the stale-watcher and pruning.

A worker that exits (a crash, kill -9, the OOM killer) is started again (after a pause of
RESTART_PAUSE when it had just started). One that exits by itself (not killed) within
START_SECONDS of its start QUICK_EXITS times in a row cannot start (its database is gone, say):
the parent stops the others and exits with that worker's status. SIGTERM, SIGINT or SIGHUP
stops every worker as uvicorn stops (the requests under way are answered first); a second one
kills them. A parent that dies (kill -9) takes its workers with it.
"""

import contextlib
import logging
import os
import select
import signal
import socket
import sys
import time
from typing import Callable, Dict, List, Optional, Tuple

from wire_preflight.model import InputError

log = logging.getLogger("wire_preflight_collector")

START_SECONDS = 10.0
QUICK_EXITS = 3
RESTART_PAUSE = 1.0
STOP_SECONDS = 30.0
# SIGHUP too: it would kill the parent (the default action) and, with it, its workers at once.
STOPPING = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def per_worker(total: int, workers: int) -> int:
    """A bound split over the workers: never more than `total` together, at least 1 each."""
    return max(1, total // max(1, workers))


class Supervisor:
    """Forks `count` workers, each running `serve(index, sock)` on its own socket from
    `new_socket()`, and keeps them running until told to stop (the module's docstring)."""

    def __init__(
        self,
        count: int,
        serve: Callable[[int, socket.socket], Optional[int]],
        new_socket: Callable[[], socket.socket],
    ):
        self.count = count
        self.serve = serve
        self.new_socket = new_socket
        self.children: Dict[int, int] = {}  # pid -> worker index
        self._started_at: Dict[int, float] = {}  # worker index -> monotonic time
        self._quick_exits: Dict[int, int] = {}
        self._signals: List[int] = []

    def run(self, sockets: List[socket.socket]) -> int:
        """Serve until stopped; 0 when stopped by a signal, else the failing worker's status."""
        wake_read, wake_write = os.pipe()
        for fd in (wake_read, wake_write):
            os.set_blocking(fd, False)
        previous_fd = signal.set_wakeup_fd(wake_write)
        previous = {
            sig: signal.signal(sig, self._on_signal)
            for sig in (*STOPPING, signal.SIGCHLD)  # SIGCHLD: a handler, so select wakes
        }
        self._pipe = (wake_read, wake_write)
        try:
            for index, sock in enumerate(sockets):
                self._start(index, sock, sockets)
            return self._watch(wake_read)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            signal.set_wakeup_fd(previous_fd)
            os.close(wake_read)
            os.close(wake_write)

    def _on_signal(self, signum: int, frame: object) -> None:
        if signum in STOPPING:
            self._signals.append(signum)
            if len(self._signals) > 1:
                self._signal_all(signal.SIGKILL)

    def _watch(self, wake: int) -> int:
        while True:
            _wait_readable(wake, 1.0)
            if self._signals:
                log.info("stopping %d worker(s)", len(self.children))
                return self._stop_all(wake, 0)
            # Every child reaped leaves `children` now, before any return below: one reaped
            # beside the worker that stops the collector must not be waited for again.
            ended = [(pid, self.children.pop(pid, None), code) for pid, code in _reaped()]
            for pid, index, code in ended:
                if index is None:
                    continue
                quick = time.monotonic() - self._started_at[index] < START_SECONDS
                # Exiting by itself soon after its start is not starting; being killed (kill
                # -9, the OOM killer) is the world's doing, however soon: it is restarted.
                cannot_start = quick and code > 0
                self._quick_exits[index] = (
                    self._quick_exits.get(index, 0) + 1 if cannot_start else 0
                )
                how = f"was killed by signal {-code}" if code < 0 else f"exited with {code}"
                if self._quick_exits[index] >= QUICK_EXITS:
                    log.error(
                        "worker %d %s %d times within %.0f s of its start: stopping the "
                        "collector (the lines above say why)",
                        index,
                        how,
                        QUICK_EXITS,
                        START_SECONDS,
                    )
                    return self._stop_all(wake, code if code > 0 else 1)
                log.warning("worker %d (pid %d) %s: starting it again", index, pid, how)
                if quick:  # a second's pause, so that a worker dying at once is no fork storm
                    _wait_readable(wake, RESTART_PAUSE)
                    if self._signals:
                        return self._stop_all(wake, 0)
                try:
                    sock = self.new_socket()
                except (OSError, InputError) as exc:
                    log.error("worker %d cannot listen again: %s", index, exc)
                    return self._stop_all(wake, 1)
                self._start(index, sock, [sock])

    def _start(self, index: int, sock: socket.socket, sockets: List[socket.socket]) -> None:
        self._started_at[index] = time.monotonic()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            self._become_worker(index, sock, sockets, parent)
        self.children[pid] = index
        sock.close()  # the worker's now: a socket the parent kept open would take connections

    def _become_worker(
        self, index: int, sock: socket.socket, sockets: List[socket.socket], parent: int
    ) -> None:
        """In the forked child: serve, then exit without returning into the parent's code."""
        code = 1
        try:
            signal.set_wakeup_fd(-1)
            for sig in (*STOPPING, signal.SIGCHLD):
                signal.signal(sig, signal.SIG_DFL)
            _stop_with(parent)
            for fd in self._pipe:
                os.close(fd)
            for other in sockets:
                if other is not sock:
                    other.close()
            code = self.serve(index, sock) or 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if isinstance(exc.code, str):
                print(exc.code, file=sys.stderr)
        except BaseException:
            log.exception("worker %d failed", index)
            code = 1
        finally:
            logging.shutdown()
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(OSError, ValueError):
                    stream.flush()
            os._exit(code)

    def _signal_all(self, sig: int) -> None:
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def _stop_all(self, wake: int, code: int) -> int:
        self._signal_all(signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        while self.children and time.monotonic() < deadline:
            for pid, _ in _reaped():
                self.children.pop(pid, None)
            if self.children:
                _wait_readable(wake, 0.2)
        if self.children:
            log.warning(
                "killing %d worker(s) still running after %.0f s", len(self.children), STOP_SECONDS
            )
            self._signal_all(signal.SIGKILL)
            for pid in list(self.children):
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, 0)
            self.children.clear()
        return code


def _stop_with(parent: int) -> None:
    """A worker gets SIGTERM when the parent dies (even by SIGKILL): an orphaned worker would
    hold the port and a database connection with nobody to restart or stop it."""
    import ctypes

    pr_set_pdeathsig = 1  # linux/prctl.h
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() != parent:  # it died before the line above
        os._exit(0)


def _reaped() -> List[Tuple[int, int]]:
    """The children that ended since the last call: (pid, exit status, or -signal)."""
    ended = []
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
        ended.append((pid, os.waitstatus_to_exitcode(status)))
    return ended


def _wait_readable(fd: int, seconds: float) -> None:
    """Sleep until a signal arrives (the wake-up pipe) or `seconds` pass; empty the pipe."""
    readable, _, _ = select.select([fd], [], [], seconds)
    if readable:
        try:
            while os.read(fd, 512):
                pass
        except BlockingIOError:
            pass
