"""A month of random traffic on 20 nodes under a virtual clock: money is conserved and
every node's books (forwards, fees, payments) agree with its channel balances."""

from __future__ import annotations

import random
from collections import defaultdict

from lnhive.core.clock import VirtualClock
from lnhive.sim.errors import RpcError
from lnhive.sim.network import InProcessNode, Network
from lnhive.sim.network.topology import random_network

DAY = 86_400


def _channel_totals(net: Network) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for chan in net.channels.values():
        for side in (0, 1):
            out[chan.node_ids[side]] += chan.balance[side]
    return out


def test_thirty_virtual_days_of_traffic() -> None:
    clock = VirtualClock()
    net = random_network(20, seed=11, channels_per_node=3, clock=clock)
    rng = random.Random(99)
    ids = list(net.nodes)
    apis = {n: InProcessNode(net, n) for n in ids}
    start = clock.now()
    before = _channel_totals(net)
    sent: dict[str, int] = defaultdict(int)
    received: dict[str, int] = defaultdict(int)
    ok = failed = 0
    fee_changes = 0
    invoices_paid = 0
    step = 600.0  # a payment every ten minutes, a block every ten minutes
    while clock.now() - start < 30 * DAY:
        clock.advance(step)
        net.mine(1)
        payer, payee = rng.sample(ids, 2)
        amount = rng.randint(1_000, 300_000_000)
        try:
            if rng.random() < 0.01:
                inv = apis[payee].invoice(
                    amount_msat=amount, label=f"i{clock.now()}", description="month"
                )
                res = apis[payer].xpay(invstring=inv["bolt11"], maxfee=1_000_000)
                invoices_paid += 1
            else:
                res = apis[payer].keysend(destination=payee, amount_msat=amount, maxfee=1_000_000)
        except RpcError as exc:
            assert exc.code in (205, 206, 203), exc
            failed += 1
        else:
            ok += 1
            sent[payer] += res["amount_sent_msat"]
            received[payee] += res["amount_msat"]
        if rng.random() < 0.02:
            node = rng.choice(ids)
            apis[node].setchannel(id="all", feeppm=rng.randint(1, 800))
            fee_changes += 1
    assert clock.now() - start >= 30 * DAY
    assert ok > 3000 and failed < ok // 10 and fee_changes > 50 and invoices_paid > 10
    # money is conserved on every channel; nothing is left in flight
    for chan in net.channels.values():
        assert chan.balance[0] + chan.balance[1] == chan.capacity_msat
        assert not chan.htlcs
    # each node's books agree with its balances
    after = _channel_totals(net)
    total_fees = 0
    for nid in ids:
        fwd = apis[nid].listforwards(status="settled")["forwards"]
        fees = sum(f["fee_msat"] for f in fwd)
        assert fees == apis[nid].getinfo()["fees_collected_msat"]
        total_fees += fees
        assert after[nid] - before[nid] == received[nid] - sent[nid] + fees, nid
    assert total_fees == sum(sent.values()) - sum(received.values())
    assert total_fees > 0
    assert failed > 0  # the seeded month does drain some channels
