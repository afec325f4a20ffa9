"""Messages and hops until a fleet agrees again after one member's state change.

Fleets of 25 and 50 members (cl-hive's ``Hive`` services over the stand-in's in-process
network model, virtual clock — 50 plugin processes would not fit two cores), in two
topologies: a full mesh of member connections, and a sparse random graph where each
member keeps about three connections. After the fleet has formed (genesis, ticket
joins) and every member's record is known everywhere, one member publishes a new
record; the benchmark counts every custom message sent until every member's fleet
hash matches again, and the relay generations (hops) that took.

Baseline, on the same graph in the same run: the naive flood the reference does —
every member forwards every new message to every member it is connected to except
the one it came from (same hop limit, 8). Its message count is computed by walking
the graph (it needs no signatures to count).

Targets (issue 4): at most 3·N messages per change; converged within 2 gossip
intervals — relay alone converges within the send, so no heartbeat is needed.
Run: ``python bench/bench_fleet_gossip.py [--sizes 25 50] [--degree 3] [--seed 7]``.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import deque
from pathlib import Path

from lnhive.cli.fleetsim import Fleet
from lnhive.fleet.wire import MAX_TTL


def sparse_edges(n: int, degree: int, rng: random.Random) -> set[tuple[int, int]]:
    """A connected random graph: a ring plus random chords until the mean degree is met."""
    edges = {(min(i, (i + 1) % n), max(i, (i + 1) % n)) for i in range(n)}
    target = n * degree // 2
    while len(edges) < target:
        a, b = rng.sample(range(n), 2)
        edges.add((min(a, b), max(a, b)))
    return edges


def flood_messages(n: int, edges: set[tuple[int, int]], origin: int, ttl: int) -> int:
    """Sends of the naive flood: each node forwards a new message to all neighbours but
    the sender, while hops remain."""
    nbrs: dict[int, set[int]] = {i: set() for i in range(n)}
    for a, b in edges:
        nbrs[a].add(b)
        nbrs[b].add(a)
    seen = {origin}
    sent = 0
    queue: deque[tuple[int, int, int]] = deque()  # (node, came_from, ttl left)
    for nb in nbrs[origin]:
        sent += 1
        queue.append((nb, origin, ttl))
    while queue:
        node, came_from, left = queue.popleft()
        if node in seen:
            continue
        seen.add(node)
        if left <= 0:
            continue
        for nb in nbrs[node] - {came_from}:
            sent += 1
            queue.append((nb, node, left - 1))
    return sent


def form(n: int, edges: set[tuple[int, int]], workdir: Path) -> Fleet:
    names = [f"m{i:02d}" for i in range(n)]
    fleet = Fleet(workdir, names)
    hub = fleet.hives[names[0]]
    hub.genesis("hive_bench")
    for name in names[1:]:
        fleet.advance(11)  # joins a little apart, as operators would run them
        fleet.connect(names[0], name)
        fleet.hives[name].join(hub.invite()["ticket"])
        fleet.settle()
    wanted = {(names[a], names[b]) for a, b in edges}
    for name in names[1:]:
        if (names[0], name) not in wanted:
            fleet.net.disconnect(names[0], name)
    for a, b in sorted(wanted):
        if a != names[0]:
            fleet.connect(a, b)
    fleet.settle()
    fleet.advance(11)
    for name in names:  # records learn the final connections
        fleet.hives[name].gossip_now()
    fleet.settle()
    heartbeat = fleet.hives[names[0]].options.heartbeat_s
    for _ in range(20):  # what relay missed on stale records, anti-entropy repairs
        if agreed(fleet):
            break
        fleet.advance(heartbeat)
        fleet.settle()
    return fleet


def sent_total(fleet: Fleet) -> int:
    return sum(h.stats["sent"] for h in fleet.hives.values())


def agreed(fleet: Fleet) -> bool:
    return len({h.state.fleet_hash() for h in fleet.hives.values()}) == 1


def measure(n: int, topology: str, degree: int, seed: int) -> dict[str, float]:
    rng = random.Random(seed)
    if topology == "mesh":
        edges = {(a, b) for a in range(n) for b in range(a + 1, n)}
    else:
        edges = sparse_edges(n, degree, rng)
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp:
        t0 = time.perf_counter()
        fleet = form(n, edges, Path(tmp))
        formed_s = time.perf_counter() - t0
        try:
            if not agreed(fleet):
                raise SystemExit(f"{topology} N={n}: the fleet did not agree after forming")
            origin = rng.randrange(1, n)
            name = f"m{origin:02d}"
            before = sent_total(fleet)
            fleet.advance(11)
            fleet.hives[name].gossip_now("bench")
            hops = 0
            while not agreed(fleet):
                hops += 1
                if hops > 50:
                    raise SystemExit(f"{topology} N={n}: no agreement after 50 hops")
                # one relay generation: only what was queued before this hop
                queued = {key: h.queued() for key, h in fleet.hives.items()}
                for key, hive in fleet.hives.items():
                    hive.process(limit=queued[key])
            ours = sent_total(fleet) - before
            fleet.settle()
        finally:
            fleet.close()
    flood = flood_messages(n, edges, origin, MAX_TTL)
    return {
        "n": n,
        "edges": len(edges),
        "ours": ours,
        "flood": flood,
        "hops": hops,
        "formed_s": formed_s,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[25, 50])
    parser.add_argument("--degree", type=int, default=3, help="mean degree of the sparse graph")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    print("fleet gossip: messages until every fleet hash matches after one change")
    print(f"{'topology':8} {'N':>3} {'links':>5} {'ours':>5} {'/N':>5} {'flood':>6} "
          f"{'flood/ours':>10} {'hops':>4}  target <= 3N")  # fmt: skip
    ok = True
    for n in args.sizes:
        for topology in ("mesh", "sparse"):
            r = measure(n, topology, args.degree, args.seed + n)
            per_n = r["ours"] / n
            good = r["ours"] <= 3 * n
            ok = ok and good
            print(
                f"{topology:8} {n:>3} {r['edges']:>5} {r['ours']:>5} {per_n:>5.2f} "
                f"{r['flood']:>6} {r['flood'] / r['ours']:>10.1f} {r['hops']:>4}  "
                f"{'met' if good else 'MISSED'} (formed in {r['formed_s']:.1f} s)"
            )
    print("converged within the send itself (0 of the allowed 2 gossip intervals)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
