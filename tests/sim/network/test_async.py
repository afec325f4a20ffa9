"""The payment generators under an asyncio driver: HTLCs stay in flight across awaits."""

from __future__ import annotations

import asyncio
from typing import Any

from lnhive.core.hashing import sha256
from lnhive.sim.network import HookCall, find_route, sendpay_gen
from lnhive.sim.network.records import SendPay

from .conftest import make_line


async def _drive(gen: Any, seen: list[HookCall]) -> Any:
    """What the socket server does: await the plugins between hook points."""
    try:
        call = next(gen)
        while True:
            seen.append(call)
            await asyncio.sleep(0)  # other payments run here
            call = gen.send({"result": "continue"})
    except StopIteration as stop:
        return stop.value


def test_concurrent_payments_contend_for_liquidity() -> None:
    line = make_line("abc")
    net, a, c = line.net, line.ids["a"], line.ids["c"]
    gens = []
    for i in (1, 2):
        pre = bytes([i]) * 32
        route = find_route(net, a, c, 600_000_000, final_cltv=22)
        assert route is not None
        gens.append(sendpay_gen(net, a, route, sha256(pre).hex(), keysend_preimage=pre.hex()))
    seen: list[HookCall] = []

    async def both() -> list[SendPay]:
        return list(await asyncio.gather(*(_drive(g, seen) for g in gens)))

    first, second = asyncio.run(both())
    assert first.status == "complete"
    # the second found the first's HTLC still in flight on a-b: a local failure
    assert second.status == "failed" and second.error is not None
    assert second.error[2]["erring_index"] == 0
    assert second.error[2]["failcode"] == 0x1007
    assert [c.hook for c in seen] == ["htlc_accepted", "htlc_accepted", "invoice_payment"]
    ab = line.chans["ab"]
    assert ab.balance[ab.side_of(a)] == 1_000_000_000 - first.amount_sent_msat
