"""Placing a plan's VMs onto physical servers (`wire-preflight plan --server`).

Pure: the servers and the VMs a plan asks for in, a placement and its verdict out.

How it decides (docs/planning.md says the same for operators):

- Hard rules, the ones the fleet's physical-spread rule judges (fleet/rules.py spread_needs and
  survives_loss, not a copy): for every role that rule names, losing any one server leaves
  what the role needs (a majority, or one VM); at least `min_servers` servers hold VMs.
- Among the placements that keep them, the best is the one whose most loaded resource on its
  most loaded server (load / capacity, over cores, memory and disk) is lowest. The plan fits
  when that figure is at most 1. The search runs first with every branch over capacity cut
  (the verdict), and only when nothing fits again without that cut, for the placement that
  overshoots least: its shortfalls are what is reported.
- Ties go to the first placement found in a fixed order (roles largest first, then by name;
  servers least loaded first, then in the order given): the same input, the same placement.
- Exact: a branch and bound over how many VMs of each role go on each server. VMs of one role
  are alike, and so are servers of the same capacity carrying the same load, so each distinct
  choice is tried once. A branch is cut when its load already is no better than the best
  placement found, or when the rest cannot beat it: poured as evenly as water, or with one
  VM of each remaining role on as many servers as its spread limit forces.
  A search longer than `max_steps` stops and says so (`complete` is false).
"""

import math
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

from wire_preflight.fleet.rules import survives_loss

RESOURCES = ("cores", "memory_gb", "disk_gb")
# A plan of 3-6 servers proves its most even placement within this (about 5 s at worst);
# beyond, the first placement that fits is still exact, only its evenness is not proven.
MAX_STEPS = 200000
# Profile sizes are decimals read as floats (17.2 GB): sums are compared with this slack.
EPSILON = 1e-9

Vector = Tuple[float, float, float]


class Server(NamedTuple):
    name: str
    cores: float
    memory_gb: float
    disk_gb: float

    def capacity(self) -> Vector:
        return (self.cores, self.memory_gb, self.disk_gb)


class Demand(NamedTuple):
    """`vms` VMs of one role, each this size; `need` is what losing a server must leave of
    the role ("majority", "one"), or None where no spread rule judges it."""

    role: str
    vms: int
    cores: float
    memory_gb: float
    disk_gb: float
    need: Optional[str] = None

    def size(self) -> Vector:
        return (self.cores, self.memory_gb, self.disk_gb)


class Placement(NamedTuple):
    # role -> VMs of that role on each server (in the order the servers were given);
    # None when the spread rules cannot be met on these servers at all.
    counts: Optional[Dict[str, List[int]]]
    # Each server's load (cores, memory, disk) under that placement.
    loads: List[Vector]
    # The highest load / capacity over every server and resource; <= 1 is a fit.
    worst: float
    fits: bool
    # Why it does not fit: one line per reason.
    reasons: List[str]
    complete: bool
    steps: int


def most_per_server(demand: Demand) -> int:
    """The most VMs of a role one server may hold so that losing it keeps the role's need."""
    if demand.need is None:
        return demand.vms
    return max(
        (k for k in range(demand.vms + 1) if survives_loss(demand.need, demand.vms, k)),
        default=0,
    )


def kept_words(need: Optional[str]) -> str:
    """What losing a server must leave of a role, in words: "a majority" or "one"."""
    return "a majority" if need == "majority" else "one"


def spread_problems(count: int, demands: Sequence[Demand], min_servers: int) -> List[str]:
    """The spread rules these many servers cannot meet whatever the sizes."""
    out = []
    if count < min_servers:
        out.append(f"the plan asks for at least {min_servers} physical servers; {count} given")
    for demand in demands:
        limit = most_per_server(demand)
        what = kept_words(demand.need)
        if limit == 0:
            out.append(
                f"{demand.role}: {demand.vms} VM(s) cannot keep {what} when the server "
                "holding one is lost, on any number of servers"
            )
        elif limit * count < demand.vms:
            out.append(
                f"{demand.role}: {demand.vms} VMs, at most {limit} per server so that losing "
                f"one keeps {what}, need {math.ceil(demand.vms / limit)} physical servers; "
                f"{count} given"
            )
    return out


class _Stop(Exception):
    pass


def place(
    servers: Sequence[Server],
    demands: Sequence[Demand],
    min_servers: int = 0,
    max_steps: int = MAX_STEPS,
) -> Placement:
    demands = [d for d in demands if d.vms > 0]
    problems = spread_problems(len(servers), demands, min_servers)
    if problems or not servers:
        empty = [(0.0, 0.0, 0.0) for _ in servers]
        return Placement(None, empty, math.inf, False, problems, True, 0)
    # First among the placements that fit (every branch over capacity cut), the most even;
    # only when none fits, the one that overshoots least, to say what is short.
    search = _Search(servers, demands, min_servers, max_steps, ceiling=1.0)
    search.run()
    steps = search.steps
    if search.best is None and search.complete:
        # The verdict is settled; the nearest miss only explains it, so it gets less time.
        search = _Search(servers, demands, min_servers, max(1, max_steps // 4))
        search.run()
        steps += search.steps
    if search.best is None:
        reasons = ["no placement keeps every spread rule on these servers"]
        if not search.complete:
            reasons = [
                f"the search stopped after {steps} steps without finding a placement that "
                "fits; one may exist"
            ]
        empty = [(0.0, 0.0, 0.0) for _ in servers]
        return Placement(None, empty, math.inf, False, reasons, search.complete, steps)
    worst, counts, loads = search.best
    fits = worst <= 1 + EPSILON
    reasons = [] if fits else shortfalls(servers, demands, loads)
    return Placement(counts, loads, worst, fits, reasons, search.complete, steps)


def shortfalls(
    servers: Sequence[Server], demands: Sequence[Demand], loads: Sequence[Vector]
) -> List[str]:
    """Where the fleet as a whole is short first, then each server's short resources."""
    out = []
    for r, resource in enumerate(RESOURCES):
        need = sum(d.size()[r] * d.vms for d in demands)
        have = sum(s.capacity()[r] for s in servers)
        if need > have + EPSILON:
            out.append(
                f"the plan needs {amount(resource, need)} in all, the {len(servers)} servers "
                f"have {number(have)} ({number(need - have)} short)"
            )
    for server, load in zip(servers, loads):
        for r, resource in enumerate(RESOURCES):
            have = server.capacity()[r]
            over = load[r] - have
            if over > EPSILON:
                out.append(
                    f"{server.name}: short by {amount(resource, over)} (its VMs need "
                    f"{number(load[r])}, it has {number(have)})"
                )
    return out


def amount(resource: str, value: float) -> str:
    """`2 cores`, `1 core`, `10 GB memory`, `5 GB disk`."""
    if resource == "cores":
        return "{} core{}".format(number(value), "" if number(value) == "1" else "s")
    return "{} GB {}".format(number(value), resource[: -len("_gb")])


def number(value: float) -> str:
    """A sum of decimal sizes without float noise (3 x 17.2 is 51.6, not 51.599999)."""
    return f"{round(value, 6):g}"


def utilisation(load: Vector, capacity: Vector) -> float:
    return max(used / have for used, have in zip(load, capacity))


class _Search:
    def __init__(
        self,
        servers: Sequence[Server],
        demands: Sequence[Demand],
        min_servers: int,
        max_steps: int,
        ceiling: float = math.inf,
    ):
        self.servers = list(servers)
        # Branches loaded beyond this are cut even before a placement is found.
        self.ceiling = ceiling + EPSILON
        self.capacity = [s.capacity() for s in servers]
        totals = [sum(c[r] for c in self.capacity) for r in range(3)]
        # Largest share of the fleet first: big VMs decide the shape, small ones fill in.
        self.order = sorted(
            demands,
            key=lambda d: (-max(d.size()[r] * d.vms / totals[r] for r in range(3)), d.role),
        )
        self.limits = [most_per_server(d) for d in self.order]
        # What is still to place after each role, per resource (for the water-level bound).
        self.remaining = []  # type: List[Vector]
        for index in range(len(self.order) + 1):
            rest = self.order[index:]
            cores, memory, disk = (sum(d.size()[r] * d.vms for d in rest) for r in range(3))
            self.remaining.append((cores, memory, disk))
        self.min_servers = min_servers
        self.max_steps = max_steps
        self.steps = 0
        self.complete = True
        self.best = None  # type: Optional[Tuple[float, Dict[str, List[int]], List[Vector]]]
        # No placement can beat the fleet's average load: reaching it ends the search.
        self.floor = max(sum(d.size()[r] * d.vms for d in demands) / totals[r] for r in range(3))

    def run(self) -> None:
        loads = [(0.0, 0.0, 0.0) for _ in self.servers]
        try:
            self._visit(0, loads, 0.0, {})
        except _Stop:
            self.complete = False

    def _bound(self, index: int, loads: List[Vector], worst: float) -> float:
        """A lower bound on the best worst-load below this node: pour what is left of each
        resource into the servers as water (divisible, to the lowest level first)."""
        bound = worst
        # Each role still to place puts one VM on at least ceil(vms / limit) servers: the
        # final load is at least that many servers' load with one VM more.
        for later in range(index, len(self.order)):
            size = self.order[later].size()
            spread = -(-self.order[later].vms // self.limits[later])
            if spread > len(loads):
                return math.inf
            grown = sorted(
                utilisation((load[0] + size[0], load[1] + size[1], load[2] + size[2]), cap)
                for load, cap in zip(loads, self.capacity)
            )
            bound = max(bound, grown[spread - 1])
        for r in range(3):
            rest = self.remaining[index][r]
            if rest <= 0:
                continue
            levels = sorted((load[r] / cap[r], cap[r]) for load, cap in zip(loads, self.capacity))
            width = 0.0
            for position, (level, cap) in enumerate(levels):
                width += cap
                following = levels[position + 1][0] if position + 1 < len(levels) else math.inf
                # Raising the water from this level to the next fills width * (next - level).
                if rest <= width * (following - level):
                    bound = max(bound, level + rest / width)
                    break
                rest -= width * (following - level)
        return bound

    def _good_enough(self) -> bool:
        return self.best is not None and self.best[0] <= self.floor + EPSILON

    def _visit(
        self, index: int, loads: List[Vector], worst: float, counts: Dict[str, List[int]]
    ) -> None:
        self._step()
        bound = self._bound(index, loads, worst)
        if bound > self.ceiling or (self.best is not None and bound >= self.best[0] - EPSILON):
            return
        if index == len(self.order):
            used = sum(1 for load in loads if any(load))
            if used >= self.min_servers:
                self.best = (worst, {k: list(v) for k, v in counts.items()}, list(loads))
            return
        self._spread(index, loads, worst, counts)

    def _step(self) -> None:
        self.steps += 1
        if self.steps > self.max_steps:
            raise _Stop()

    def _spread(
        self, index: int, loads: List[Vector], worst: float, counts: Dict[str, List[int]]
    ) -> None:
        """Every distinct way to put role `index`'s VMs on the servers (at most its limit
        on each), least loaded servers first, then the roles after it. Of alike servers
        (same capacity, same load) only one ordering is tried: counts never rise along
        them. A server whose load would already be no better than the best is not given
        more."""
        demand = self.order[index]
        limit = self.limits[index]
        size = demand.size()
        ranked = sorted(
            range(len(self.servers)),
            key=lambda s: (
                utilisation(loads[s], self.capacity[s]),
                self.capacity[s],
                loads[s],
                s,
            ),
        )
        alike = [
            position > 0
            and self.capacity[ranked[position]] == self.capacity[ranked[position - 1]]
            and loads[ranked[position]] == loads[ranked[position - 1]]
            for position in range(len(ranked))
        ]
        chosen = [0] * len(ranked)
        new_loads = list(loads)

        def fill(position: int, left: int, level: float) -> None:
            if left == 0 or position == len(ranked):
                if left == 0:
                    vector = [0] * len(ranked)
                    for rank, server in enumerate(ranked):
                        vector[server] = chosen[rank]
                    counts[demand.role] = vector
                    self._visit(index + 1, list(new_loads), level, counts)
                    del counts[demand.role]
                return
            servers_left = len(ranked) - position
            top = min(limit, left)
            if alike[position]:
                top = min(top, chosen[position - 1])
            low = max(0, left - limit * (servers_left - 1))
            share = math.ceil(left / servers_left)
            server = ranked[position]
            load = loads[server]
            # The even share first, then less, then more: the first placement tried is a
            # balanced one, which makes the bound cut early.
            for count in sorted(range(low, top + 1), key=lambda c: (c > share, abs(c - share))):
                if self._good_enough():
                    return
                self._step()
                placed = (
                    load[0] + size[0] * count,
                    load[1] + size[1] * count,
                    load[2] + size[2] * count,
                )
                new_level = max(level, utilisation(placed, self.capacity[server]))
                if new_level > self.ceiling or (
                    self.best is not None and new_level >= self.best[0] - EPSILON
                ):
                    continue
                chosen[position] = count
                new_loads[server] = placed
                fill(position + 1, left - count, new_level)
            chosen[position] = 0
            new_loads[server] = load

        fill(0, demand.vms, worst)
