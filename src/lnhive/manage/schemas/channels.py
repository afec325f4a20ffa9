"""Channel families: ``expansion``, ``channel``, ``splice``, ``peer``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lnhive.core.errors import InvalidParams
from lnhive.manage.catalogue import Band, Catalogue, Effect
from lnhive.manage.danger import V
from lnhive.manage.params import Kind, Param, check_value
from lnhive.manage.schemas.common import (
    ADM,
    ADV,
    MAX_CHANNEL_SATS,
    STD,
    FamilyBuilder,
    address,
    channel,
    feerate,
    flag,
    integer,
    node,
    reason,
    sats,
    text,
)
from lnhive.manage.snapshot import NodeSnapshot

OPEN_LARGE_SATS = 1_000_000
"""From this capacity an open scores 6 instead of 5."""
MIN_CHANNEL_SATS = 20_000
MAX_BATCH_OPENS = 10

_SINGLE = frozenset({"peer_id", "amount_sats"})
_BATCH = frozenset({"destinations"})
_DEST_PEER = Param("peer_id", Kind.NODE)
_DEST_AMOUNT = Param("amount_sats", Kind.INT, True, MIN_CHANNEL_SATS, MAX_CHANNEL_SATS)


def _check_destinations(params: Mapping[str, Any]) -> None:
    for entry in params.get("destinations", ()):
        if set(entry) != {"peer_id", "amount_sats"}:
            raise InvalidParams("each destination is {peer_id, amount_sats}")
        check_value(_DEST_PEER, entry["peer_id"])
        check_value(_DEST_AMOUNT, entry["amount_sats"])
    peers = [e["peer_id"] for e in params.get("destinations", ())]
    if len(set(peers)) != len(peers):
        raise InvalidParams("destinations must name distinct peers")


def _open_band(params: Mapping[str, Any], _: NodeSnapshot) -> str:
    if "destinations" in params:
        return "batch"
    return "large" if params["amount_sats"] >= OPEN_LARGE_SATS else "small"


OPEN_BANDS = (
    Band("small", V(5, 5, 2, 3, 3)),
    Band("large", V(6, 6, 2, 3, 4)),
    Band("batch", V(6, 7, 2, 6, 4)),
)


def _disconnect_band(params: Mapping[str, Any], snapshot: NodeSnapshot) -> str:
    return "with_channels" if snapshot.channels_with(params["node_id"]) else "no_channels"


def register(catalogue: Catalogue) -> None:
    exp = FamilyBuilder(catalogue, "expansion", "channel_open")
    exp.action(
        "propose_channel_open",
        ADV,
        (
            node("peer_id", required=False),
            Param("amount_sats", Kind.INT, False, MIN_CHANNEL_SATS, MAX_CHANNEL_SATS),
            Param("destinations", Kind.OBJECT_LIST, False, hi=MAX_BATCH_OPENS, max_len=256),
            integer("push_sats", 0, 0),
            text("reasoning", 2000),
            Param("peer_intel", Kind.OBJECT, True),
        ),
        bands=OPEN_BANDS,
        select=_open_band,
        check=_check_destinations,
        alternatives=(_SINGLE, _BATCH),
        cln="never executes: always held for the operator",
        effects=(Effect.PROPOSAL,),
    )

    ch = FamilyBuilder(catalogue, "channel", "channel_open")
    ch.action(
        "open",
        ADV,
        (
            node("peer_id", required=False),
            Param("amount_sats", Kind.INT, False, MIN_CHANNEL_SATS, MAX_CHANNEL_SATS),
            Param("destinations", Kind.OBJECT_LIST, False, hi=MAX_BATCH_OPENS, max_len=256),
            integer("push_msat", 0, 0),
            flag("announce"),
            feerate(),
        ),
        bands=OPEN_BANDS,
        select=_open_band,
        check=_check_destinations,
        alternatives=(_SINGLE, _BATCH),
        cln="fundchannel / multifundchannel (never close_to)",
        rpc=("fundchannel", "multifundchannel"),
        effects=(Effect.OPEN,),
    )
    ch.action(
        "close_cooperative",
        ADM,
        (channel(), address(), reason()),
        v=V(6, 6, 3, 3, 4),
        permission="channel_close",
        cln="close (destination from the allow-list)",
        rpc=("close",),
        effects=(Effect.CLOSE,),
    )
    ch.action(
        "close_unilateral",
        ADM,
        (channel(), reason()),
        v=V(7, 6, 4, 3, 5),
        permission="channel_close",
        cln="close unilateraltimeout=1",
        rpc=("close",),
        effects=(Effect.CLOSE, Effect.FORCE_CLOSE),
    )
    ch.action(
        "close_punitive",
        ADM,
        (channel(), reason()),
        v=V(8, 7, 4, 3, 6),
        permission="channel_close",
        cln="close unilateraltimeout=1",
        rpc=("close",),
        effects=(Effect.CLOSE, Effect.FORCE_CLOSE),
    )

    sp = FamilyBuilder(catalogue, "splice", "splice")
    splice = ("splicing", "needs CLN's experimental-splicing")
    sp.action(
        "splice_in",
        ADV,
        (channel(), sats(), feerate()),
        v=V(5, 5, 2, 3, 3),
        cln="splicein, else splice_init/splice_update/splice_signed",
        rpc=("splicein", "splice_init", "splice_update", "splice_signed"),
        effects=(Effect.SPLICE, Effect.ONCHAIN_SEND),
        needs=splice,
    )
    sp.action(
        "splice_out",
        ADV,
        (channel(), sats(), address(), feerate()),
        v=V(6, 6, 2, 3, 4),
        cln="spliceout, else splice_init/splice_update/splice_signed",
        rpc=("spliceout", "splice_init", "splice_update", "splice_signed"),
        effects=(Effect.SPLICE,),
        needs=splice,
    )
    sp.action(
        "splice_open",
        ADV,
        (channel(), sats("in_sats", 0), sats("out_sats", 0), address(), feerate()),
        v=V(7, 7, 2, 4, 5),
        cln="splice_init/splice_update/splice_signed",
        rpc=("splice_init", "splice_update", "splice_signed"),
        effects=(Effect.SPLICE, Effect.ONCHAIN_SEND),
        needs=splice,
    )

    peer = FamilyBuilder(catalogue, "peer", "peer")
    peer.action(
        "connect",
        STD,
        (node(), Param("host", Kind.HOSTPORT, False)),
        v=V(1, 1, 1, 2, 1),
        cln="connect",
        rpc=("connect",),
        effects=(Effect.CONNECT,),
    )
    peer.action(
        "disconnect",
        STD,
        (node(),),
        bands=(Band("no_channels", V(1, 1, 1, 2, 1)), Band("with_channels", V(2, 3, 2, 4, 2))),
        select=_disconnect_band,
        cln="disconnect",
        rpc=("disconnect",),
        effects=(Effect.PEER,),
    )
    peer.action(
        "ban",
        ADV,
        (node(), reason()),
        v=V(4, 4, 2, 5, 4),
        cln="no stable RPC: comms deny list + disconnect",
        rpc=("disconnect",),
        effects=(Effect.PEER,),
    )
