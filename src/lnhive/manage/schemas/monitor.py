"""``hive:monitor/v1``: read-only views, tier monitor, D 1 (log_stream 2)."""

from __future__ import annotations

from lnhive.manage.catalogue import Catalogue, Effect
from lnhive.manage.danger import V
from lnhive.manage.params import Kind, Param
from lnhive.manage.schemas.common import (
    MON,
    FamilyBuilder,
    channel,
    flag,
    integer,
    limit_since,
    node,
)

READ = V(1, 1, 1, 1, 1)


def register(catalogue: Catalogue) -> None:
    f = FamilyBuilder(catalogue, "monitor", "monitor")
    r = (Effect.READ,)
    f.action(
        "health_summary",
        MON,
        (
            flag("include_channels"),
            flag("include_forwards"),
            integer("hours", 1, 720, required=False),
        ),
        v=READ,
        cln="getinfo (+ listpeerchannels, listforwards)",
        rpc=("getinfo", "listpeerchannels", "listforwards"),
        effects=r,
    )
    f.action(
        "channel_list", MON, v=READ, cln="listpeerchannels", rpc=("listpeerchannels",), effects=r
    )
    f.action("peer_list", MON, v=READ, cln="listpeers", rpc=("listpeers",), effects=r)
    f.action(
        "fee_report", MON, v=READ, cln="listpeerchannels", rpc=("listpeerchannels",), effects=r
    )
    f.action(
        "htlc_snapshot",
        MON,
        (channel(required=False),),
        v=READ,
        cln="listhtlcs",
        rpc=("listhtlcs",),
        effects=r,
    )
    f.action(
        "forward_history",
        MON,
        limit_since(),
        v=READ,
        cln="listforwards",
        rpc=("listforwards",),
        effects=r,
    )
    f.action(
        "invoice_list",
        MON,
        limit_since(),
        v=READ,
        cln="listinvoices",
        rpc=("listinvoices",),
        effects=r,
    )
    f.action(
        "payment_list", MON, limit_since(), v=READ, cln="listpays", rpc=("listpays",), effects=r
    )
    f.action("onchain_balance", MON, v=READ, cln="listfunds", rpc=("listfunds",), effects=r)
    f.action(
        "graph_query",
        MON,
        (node(required=False), channel("short_channel_id", required=False)),
        v=READ,
        cln="listnodes / listchannels",
        rpc=("listnodes", "listchannels"),
        effects=r,
    )
    f.action("plugin_status", MON, v=READ, cln="plugin list", rpc=("plugin",), effects=r)
    f.action(
        "backup_status",
        MON,
        v=READ,
        cln="listconfigs (backup options)",
        rpc=("listconfigs",),
        effects=r,
    )
    f.action("capabilities", MON, v=READ, cln="local: catalogue and probed capabilities", effects=r)
    f.action("comms_status", MON, v=READ, cln="local: comms plugin status", effects=r)
    f.action(
        "log_stream",
        MON,
        (Param("level", Kind.ENUM, False, choices=("info", "unusual", "broken")),),
        v=V(1, 1, 1, 2, 1),
        cln="getlog",
        rpc=("getlog",),
        effects=r,
    )
