"""`wire-preflight listen`: open a role's ports for a bounded time, so a peer's `ports` run
proves the whole path (firewalls included) before any component is installed.

TCP connections are accepted and closed; UDP datagrams are echoed. Ports already taken are
left alone and reported.
"""

import select
import socket
import time
from typing import List, Tuple

from wire_preflight.facts import network


def open_sockets(
    tcp_ports: List[int], udp_ports: List[int], address: str = ""
) -> Tuple[List[socket.socket], List[str]]:
    """TCP on the address (all by default). UDP on each address separately: a reply from a
    wildcard socket leaves by the interface's first address, and a prober that connected to
    another one discards it."""
    udp_addresses = [address] if address else network.local_addresses("inet") or [""]
    sockets, notes = [], []
    plan = [("tcp", port, address) for port in tcp_ports]
    plan += [("udp", port, where) for port in udp_ports for where in udp_addresses]
    for proto, port, where in plan:
        kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
        sock = socket.socket(socket.AF_INET, kind)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        label = "{}{}/{}".format(where + ":" if where else "", port, proto)
        try:
            sock.bind((where, port))
        except OSError as exc:
            sock.close()
            notes.append(f"{label} not opened: {exc.strerror}")
            continue
        if proto == "tcp":
            sock.listen(64)
        sock.setblocking(False)
        sockets.append(sock)
        notes.append(label + " open")
    return sockets, notes


def serve(sockets: List[socket.socket], seconds: float) -> int:
    """Answer until the time is up; returns how many probes were answered."""
    deadline = time.monotonic() + seconds
    answered = 0
    while sockets:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select(sockets, [], [], min(left, 1.0))
        for sock in ready:
            try:
                if sock.type == socket.SOCK_STREAM:
                    conn, _ = sock.accept()
                    conn.close()
                else:
                    data, peer = sock.recvfrom(512)
                    sock.sendto(data, peer)
                answered += 1
            except OSError:
                continue
    for sock in sockets:
        sock.close()
    return answered
