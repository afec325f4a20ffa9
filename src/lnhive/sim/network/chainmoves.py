"""On-chain ``coin_movement`` notifications (``chain_mvt``): wallet deposits, channel
opens when the funding confirms, channel closes when the closing transaction does."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lnhive.sim.network.channel import Channel
    from lnhive.sim.network.model import Network


def _emit(
    net: Network,
    node_id: str,
    *,
    account: str,
    tag: str,
    credit: int,
    debit: int,
    txid: str,
    outnum: int,
    output_msat: int,
    peer_id: str | None = None,
) -> None:
    node = net.nodes[node_id]
    payload: dict[str, Any] = {
        "version": 2,
        "coin_type": "bcrt",
        "node_id": node_id,
        "type": "chain_mvt",
        "created_index": node.coin_movements.next(),
        "account_id": account,
        "credit_msat": credit,
        "debit_msat": debit,
        "timestamp": int(net.clock.now()),
        "primary_tag": tag,
        "utxo": f"{txid}:{outnum}",
        "output_msat": output_msat,
        "blockheight": net.blockheight,
    }
    if peer_id is not None:
        payload["peer_id"] = peer_id
    net.emit(node_id, "coin_movement", payload)


def deposit(net: Network, node_id: str, txid: str, outnum: int, amount_msat: int) -> None:
    if net.has_subscribers:
        _emit(
            net,
            node_id,
            account="wallet",
            tag="deposit",
            credit=amount_msat,
            debit=0,
            txid=txid,
            outnum=outnum,
            output_msat=amount_msat,
        )


def channel_open(net: Network, chan: Channel) -> None:
    """The funding output confirmed: each side's account opens with its own funds."""
    if not net.has_subscribers:
        return
    for side in (0, 1):
        own = chan.capacity_msat if side == chan.opener_side else 0
        _emit(
            net,
            chan.node_ids[side],
            account=chan.channel_id,
            tag="channel_open",
            credit=own,
            debit=0,
            txid=chan.funding_txid,
            outnum=chan.funding_outnum,
            output_msat=chan.capacity_msat,
            peer_id=chan.node_ids[1 - side],
        )


def channel_close(net: Network, chan: Channel, paid: list[int]) -> None:
    """The closing transaction confirmed: each account is emptied; ``paid[side]`` (msat)
    reached that side's wallet (output ``side`` of the closing transaction)."""
    if not net.has_subscribers:
        return
    txid = chan.close_txid or ""
    for side in (0, 1):
        node_id = chan.node_ids[side]
        _emit(
            net,
            node_id,
            account=chan.channel_id,
            tag="channel_close",
            credit=0,
            debit=chan.balance[side],
            txid=chan.funding_txid,
            outnum=chan.funding_outnum,
            output_msat=chan.capacity_msat,
            peer_id=chan.node_ids[1 - side],
        )
        if paid[side]:
            _emit(
                net,
                node_id,
                account="wallet",
                tag="deposit",
                credit=paid[side],
                debit=0,
                txid=txid,
                outnum=side,
                output_msat=paid[side],
            )
