"""Is the clock synchronised? Asked of the kernel, as timedatectl itself does.

systemd's NTPSynchronized is computed from adjtimex(2): synchronised when STA_UNSYNC is clear
(and maxerror < 16 s). Asking the kernel directly gives the same answer without a D-Bus round
trip and works without systemd. When adjtimex cannot be called, timedatectl (where systemd
runs) and then chronyc are asked instead.
"""

import ctypes
import os
import subprocess
from typing import TYPE_CHECKING, Optional

from wire_preflight.facts import programs

if TYPE_CHECKING:
    from wire_preflight.shapes import TimeFacts


STA_UNSYNC = 0x0040
TIME_ERROR = 5
MAXERROR_LIMIT_US = 16_000_000  # systemd: "maxerror < 16 s" for NTPSynchronized


class _Timeval(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]


class _Timex(ctypes.Structure):
    # struct timex from <sys/timex.h> (glibc, LP64)
    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time", _Timeval),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("_reserved", ctypes.c_int * 11),
    ]


def collect() -> "TimeFacts":
    result = _adjtimex()
    if result is None:
        result = (
            _timedatectl()
            or _chronyc()
            or {"source": None, "synchronized": None, "detail": "no way to ask the clock"}
        )
    # Which NTP daemon runs matters for the remedy when the clock is not synchronised; a
    # synchronised clock needs no process scan (10-15 ms on a busy VM).
    if result.get("synchronized") is not True:
        result["daemons"] = programs.running(programs.TIME_DAEMONS)
    return result


def judge_adjtimex(state: int, status: int, maxerror_us: int) -> bool:
    return state != TIME_ERROR and not status & STA_UNSYNC and maxerror_us < MAXERROR_LIMIT_US


def _adjtimex() -> Optional["TimeFacts"]:
    try:
        # The interpreter's own symbols include libc's; find_library would spawn ldconfig.
        libc = ctypes.CDLL(None, use_errno=True)
        timex = _Timex()  # modes = 0: read only, allowed without CAP_SYS_TIME
        state = libc.adjtimex(ctypes.byref(timex))
    except (OSError, AttributeError):
        return None
    if state < 0:
        return None
    return {
        "source": "adjtimex",
        "synchronized": judge_adjtimex(state, timex.status, timex.maxerror),
        "state": state,
        "status": timex.status,
        "maxerror_us": timex.maxerror,
        "esterror_us": timex.esterror,
        "offset": timex.offset,
    }


def _run(argv: list) -> Optional[str]:
    try:
        done = subprocess.run(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            universal_newlines=True,
            timeout=5,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _timedatectl() -> Optional["TimeFacts"]:
    tool = programs.which("timedatectl")
    if not tool or not os.path.isdir("/run/systemd/system"):
        return None
    value = _run([tool, "show", "-p", "NTPSynchronized", "--value"])
    if value not in ("yes", "no"):
        return None
    return {"source": "timedatectl", "synchronized": value == "yes"}


def _chronyc() -> Optional["TimeFacts"]:
    tool = programs.which("chronyc")
    out = _run([tool, "-c", "tracking"]) if tool else None
    if not out:
        return None
    fields = out.split(",")
    # The last CSV field of `chronyc -c tracking` is the leap status: "Normal" when synced.
    return {"source": "chronyc", "synchronized": fields[-1] == "Normal", "detail": out}
