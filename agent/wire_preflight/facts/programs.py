"""Which programs the host has, and which are listening or keeping time.

Cron runs jobs with PATH=/usr/bin:/bin, where iptables and ip (in /usr/sbin, /sbin) are not:
every lookup also searches the sbin directories.
"""

import os
from typing import Any, Dict, Iterable, List, Optional

SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
TIME_DAEMONS = ("chronyd", "ntpd", "systemd-timesyncd", "openntpd", "ntpsec")


def which(name: str) -> Optional[str]:
    # shutil.which's search (a file we may execute, first directory first), written out:
    # importing shutil, with the bz2, lzma and zlib it imports, cost 3-4 ms of every `check`
    # for this loop, the one tree.tools runs over a captured tree.
    for directory in (os.environ.get("PATH", "") + ":" + SYSTEM_PATH).split(":"):
        candidate = os.path.join(directory, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def tools(names: Iterable[str]) -> Dict[str, Optional[str]]:
    return {name: which(name) for name in sorted(set(names))}


def listeners() -> List[Dict[str, Any]]:
    """Listening TCP sockets and bound UDP sockets, with the owning process where visible
    (other users' processes are visible to root only)."""
    import psutil

    names = {}  # type: Dict[int, Optional[str]]
    out = []
    for conn in psutil.net_connections(kind="inet"):
        is_tcp = conn.type == 1  # socket.SOCK_STREAM
        if is_tcp and conn.status != psutil.CONN_LISTEN:
            continue
        if not is_tcp and conn.raddr:
            continue  # a connected UDP socket is a client, not a listener
        if not conn.laddr:
            continue  # psutil gives () for port 0, which no listener has; skip, not crash
        pid = conn.pid
        if pid is not None and pid not in names:
            names[pid] = _process_name(psutil, pid)
        out.append(
            {
                "proto": "tcp" if is_tcp else "udp",
                "address": conn.laddr.ip,
                "port": conn.laddr.port,
                "pid": pid,
                "process": names.get(pid) if pid is not None else None,
            }
        )
    return sorted(out, key=lambda item: (item["proto"], item["port"], item["address"]))


def _process_name(psutil: Any, pid: int) -> Optional[str]:
    try:
        return psutil.Process(pid).name()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def running(names: Iterable[str]) -> List[str]:
    import psutil

    wanted = set(names)
    found = set()
    for proc in psutil.process_iter(["name"]):
        name = proc.info.get("name")
        if name in wanted:
            found.add(name)
    return sorted(found)
