"""What prepared actions touch, as the rules see it."""

from __future__ import annotations

from lnhive.manage.catalogue import Effect
from lnhive.manage.effects import FeeChange, effects_of
from tests.manage.conftest import PEER_A, PEER_B, PEER_X, SNAPSHOT, prep

ADDR = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"


def eff(schema: str, action: str, **params: object) -> object:
    return effects_of(prep(schema, action, **params), SNAPSHOT)


def test_bulk_all_expands_from_the_snapshot() -> None:
    e = effects_of(prep("fee-policy", "set_bulk", channels="all", policy={"fee_ppm": 7}), SNAPSHOT)
    assert e.channels == ("100x1x0", "101x1x0", "102x1x0")
    assert e.has(Effect.ALL_CHANNELS) and e.has(Effect.FEE_CHANGE) and e.has(Effect.WRITE)
    assert e.fee_changes[0] == FeeChange("100x1x0", None, 7)
    d = effects_of(prep("forwarding", "disable_all", reason="x"), SNAPSHOT)
    assert len(d.channels) == 3 and not d.fee_changes


def test_channel_peers_and_named_peers_are_separate() -> None:
    e = effects_of(prep("fee-policy", "set_single", channel_id="101x1x0", fee_ppm=1), SNAPSHOT)
    assert e.peers == () and e.channel_peers == (PEER_B,)
    o = effects_of(
        prep(
            "channel",
            "open",
            peer_id=PEER_X,
            amount_sats=200_000,
            push_msat=0,
            announce=False,
            feerate=4,
        ),
        SNAPSHOT,
    )
    assert o.peers == (PEER_X,) and o.open_capacities == (200_000,) and o.onchain_sats == 200_000
    assert o.sats_out == 200_000 and o.feerate == 4 and o.announce is False


def test_money_leaving_is_an_upper_bound() -> None:
    pay = effects_of(
        prep(
            "payment",
            "keysend",
            destination=PEER_A,
            amount_msat=1_000_001,
            max_fee_ppm=1000,
            timeout_seconds=10,
        ),
        SNAPSHOT,
    )
    assert pay.sats_out == 1002  # 1,000,001 msat + 0.1% fee, rounded up to sats
    reb = effects_of(
        prep(
            "rebalance",
            "circular_rebalance",
            from_channel="100x1x0",
            to_channel="101x1x0",
            amount_sats=50_001,
            max_fee_ppm=100,
        ),
        SNAPSHOT,
    )
    assert reb.sats_out == 6 and reb.rebalance_sats == 50_001 and reb.rebalance_fee_ppm == 100
    sweep = effects_of(
        prep("wallet", "send_onchain", destination=ADDR, amount_sats="all", feerate=1), SNAPSHOT
    )
    assert sweep.sweep and sweep.onchain_sats == 3_000_000 and sweep.destinations == (ADDR,)
    assert sweep.has(Effect.SWEEP)


def test_reads_are_not_writes() -> None:
    e = effects_of(prep("monitor", "forward_history", since=5), SNAPSHOT)
    assert e.has(Effect.READ) and not e.has(Effect.WRITE) and e.since == 5
    h = effects_of(prep("htlc-mgmt", "inspect", htlc_id="102x1x0:3"), SNAPSHOT)
    assert h.channels == ("102x1x0",)
