"""Simulated payments per second on a seeded 100-node network, against a baseline.

Baseline, measured in the same run on the same graph: route computations per second
with networkx's Dijkstra (weights = each hop's fee for the payment amount). The model's
figure is whole payments: pathfinding over the payer's gossip view plus hop-by-hop HTLC
forwarding (policy checks, hook points answered at once, forwards, settlement).
Keysend-style payments (no BOLT11 in the loop). Run: ``python bench/bench_payments.py``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import networkx as nx

from lnhive.core.hashing import sha256
from lnhive.sim.network import find_route, pay_gen, run_sync
from lnhive.sim.network.channel import NORMAL
from lnhive.sim.network.model import Network
from lnhive.sim.network.topology import random_network


def graph_of(net: Network, amount_msat: int) -> nx.DiGraph:
    g = nx.DiGraph()
    for chan in net.channels.values():
        if chan.state != NORMAL:
            continue
        for side in (0, 1):
            pol = chan.policies[side]
            u, v = chan.node_ids[side], chan.node_ids[1 - side]
            w = pol.fee(amount_msat) + 1
            if not g.has_edge(u, v) or g[u][v]["weight"] > w:
                g.add_edge(u, v, weight=w)
    return g


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--nodes", type=int, default=100)
    ap.add_argument("--payments", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()

    net = random_network(args.nodes, seed=args.seed, channels_per_node=2)
    ids = list(net.nodes)
    rng = random.Random(args.seed)
    pairs = [tuple(rng.sample(ids, 2)) for _ in range(args.payments)]
    amounts = [rng.randint(1_000, 50_000_000) for _ in range(args.payments)]
    preimages = [rng.randbytes(32).hex() for _ in range(args.payments)]
    hashes = [sha256(bytes.fromhex(p)).hex() for p in preimages]

    # route length on this graph
    lengths = []
    for (s, d), amt in zip(pairs[:500], amounts[:500], strict=True):
        r = find_route(net, s, d, amt)
        if r is not None:
            lengths.append(len(r))

    # baseline: networkx shortest paths on the same graph
    g = graph_of(net, 10_000_000)
    t0 = time.perf_counter()
    for s, d in pairs:
        nx.dijkstra_path(g, s, d, weight="weight")
    nx_rate = len(pairs) / (time.perf_counter() - t0)

    # the model: whole payments
    ok = fail = parts = 0
    t0 = time.perf_counter()
    for (s, d), amt, pre, h in zip(pairs, amounts, preimages, hashes, strict=True):
        res = run_sync(pay_gen(net, s, d, amt, h, keysend_preimage=pre, final_cltv=22))
        parts += len(res.parts)
        if res.ok:
            ok += 1
        else:
            fail += 1
    elapsed = time.perf_counter() - t0
    pay_rate = args.payments / elapsed

    print(
        f"network: {args.nodes} nodes, {len(net.channels)} channels, "
        f"mean route {statistics.mean(lengths):.2f} hops "
        f"(max {max(lengths)}), seed {args.seed}"
    )
    print(
        f"payments: {args.payments} ({ok} succeeded, {fail} failed, {parts} attempts) "
        f"in {elapsed:.2f} s"
    )
    print(f"model:    {pay_rate:10.0f} payments/s")
    print(f"baseline: {nx_rate:10.0f} networkx routes/s")
    print(f"ratio:    {pay_rate / nx_rate:10.2f} (payments per networkx route)")


if __name__ == "__main__":
    main()
