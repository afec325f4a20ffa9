"""Seeded random networks for tests, benchmarks and scenarios."""

from __future__ import annotations

import random

from lnhive.core.clock import VirtualClock
from lnhive.sim.network.model import Network


def random_network(
    n_nodes: int,
    *,
    seed: int = 0,
    channels_per_node: int = 2,
    capacity_sat: tuple[int, int] = (1_000_000, 5_000_000),
    fee_base_msat: tuple[int, int] = (0, 2000),
    fee_ppm: tuple[int, int] = (1, 500),
    clock: VirtualClock | None = None,
    gossip_delay: float = 60.0,
) -> Network:
    """``n_nodes`` nodes (``n0``, ``n1``, …) on a ring plus random chords; every node opens
    ``channels_per_node`` channels (the first to its ring successor, so the graph is
    connected), pushing half of each capacity so both directions can route. Random
    policies are set, blocks are mined to CHANNELD_NORMAL, and the clock is moved past
    the gossip delay so every node knows the whole graph."""
    rng = random.Random(seed)
    clk = clock or VirtualClock()
    net = Network(clk, seed=seed, gossip_delay=gossip_delay)
    ids = [net.add_node(f"n{i}") for i in range(n_nodes)]
    pairs: set[tuple[int, int]] = set()
    for i in range(n_nodes):
        targets = [(i + 1) % n_nodes]
        tries = 0
        while len(targets) < channels_per_node and tries < 50:
            tries += 1
            j = rng.randrange(n_nodes)
            if j != i and j not in targets:
                targets.append(j)
        for j in targets:
            key = (min(i, j), max(i, j))
            if key in pairs or i == j:
                continue
            pairs.add(key)
            cap = rng.randint(*capacity_sat)
            net.fund_wallet(ids[i], cap + 10_000)
            net.connect(ids[i], ids[j])
            net.fundchannel(ids[i], ids[j], cap, push_msat=cap * 500)
    net.mine(net.funding_confirms)
    for node_id in ids:
        for chan in net.nodes[node_id].channels:
            if chan.node_ids[chan.opener_side] != node_id:
                continue
            for owner in chan.node_ids:
                net.setchannel(
                    owner,
                    chan.channel_id,
                    feebase=rng.randint(*fee_base_msat),
                    feeppm=rng.randint(*fee_ppm),
                    enforcedelay=0,
                )
    clk.advance(gossip_delay + 1)
    return net
