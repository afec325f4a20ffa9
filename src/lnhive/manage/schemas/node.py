"""Node families: ``plugin``, ``config``, ``backup``, ``emergency``, ``htlc-mgmt``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from lnhive.core.errors import InvalidParams
from lnhive.manage.catalogue import Band, Catalogue, Effect
from lnhive.manage.danger import V
from lnhive.manage.params import Kind, Param
from lnhive.manage.schemas.common import (
    ADM,
    ADV,
    MAX_CHANNEL_SATS,
    MON,
    STD,
    FamilyBuilder,
    channel,
    flag,
    integer,
    reason,
    text,
)
from lnhive.manage.snapshot import NodeSnapshot

_PLUGIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_COLOR = re.compile(r"[0-9a-f]{6}")
CONFIGURABLE_PREFIXES = ("revenue-ops-",)
"""Plugin options an advisor may set with ``plugin/configure``; never ``hive-comms-``."""

ADJUSTABLE: dict[str, tuple[float, float, bool]] = {
    "min_fee_ppm": (5, 100_000, True),
    "max_fee_ppm": (5, 100_000, True),
    "pair_fee_cap_ppm": (0, 100_000, True),
    "hive_fee_ppm": (0, 100_000, True),
    "fee_interval": (60, 86_400, False),
    "rebalance_interval": (60, 86_400, False),
    "daily_budget_sats": (0, 10_000_000, False),
    "weekly_budget_sats": (0, 70_000_000, False),
    "rebalance_min_amount": (1_000, 10_000_000, False),
    "rebalance_chunk_sats": (1_000, 10_000_000, False),
    "htlc_congestion_threshold": (0, 1, False),
    "receivable_ratio_target": (0, 1, False),
    "vegas_decay": (0, 1, False),
}
"""cl-revenue-ops keys ``config/adjust`` may set: ``(min, max, is_fee_rule)``."""


def _check_plugin_name(params: Mapping[str, Any]) -> None:
    if not _PLUGIN_NAME.fullmatch(params["name"]):
        raise InvalidParams("name must be a plugin name, never a path", details={"param": "name"})


def _check_configure(params: Mapping[str, Any]) -> None:
    if not params["option"].startswith(CONFIGURABLE_PREFIXES):
        raise InvalidParams(
            f"option is not allow-listed (allowed prefixes {list(CONFIGURABLE_PREFIXES)})",
            details={"param": "option"},
        )


def _check_color(params: Mapping[str, Any]) -> None:
    if not _COLOR.fullmatch(params["value"]):
        raise InvalidParams("value must be 6 lower-case hex characters", details={"param": "value"})


def _check_adjust(params: Mapping[str, Any]) -> None:
    key = params["param"]
    if key not in ADJUSTABLE:
        raise InvalidParams(
            f"param must be one of {sorted(ADJUSTABLE)}", details={"param": "param"}
        )
    lo, hi, _ = ADJUSTABLE[key]
    if not lo <= params["value"] <= hi:
        raise InvalidParams(f"{key} must be {lo}-{hi}", details={"param": "value"})


def _adjust_band(params: Mapping[str, Any], _: NodeSnapshot) -> str:
    return "fee_rule" if ADJUSTABLE[params["param"]][2] else "default"


def register(catalogue: Catalogue) -> None:
    plug = FamilyBuilder(catalogue, "plugin", "plugin")
    plug.action(
        "list",
        MON,
        v=V(1, 1, 1, 1, 1),
        permission="monitor",
        cln="plugin list",
        rpc=("plugin",),
        effects=(Effect.READ,),
    )
    name = text("name", 64, min_len=1)
    plug.action(
        "start",
        ADV,
        (name,),
        v=V(3, 3, 2, 4, 3),
        check=_check_plugin_name,
        cln="plugin start <approved name>",
        rpc=("plugin",),
        effects=(Effect.PLUGIN_START,),
    )
    plug.action(
        "stop",
        ADV,
        (name,),
        v=V(3, 3, 3, 5, 3),
        check=_check_plugin_name,
        cln="plugin stop",
        rpc=("plugin",),
        effects=(Effect.PLUGIN_STOP,),
    )
    plug.action(
        "start_arbitrary",
        ADM,
        (text("path", 1024),),
        v=V(9, 9, 3, 9, 9),
        cln="plugin start <path>: forbidden",
        effects=(Effect.PLUGIN_START,),
        never="starting a plugin by path is forbidden; use plugin/start with an approved name",
    )
    plug.action(
        "configure",
        ADV,
        (text("option", 128, min_len=1), text("value", 256)),
        v=V(2, 3, 2, 4, 3),
        check=_check_configure,
        cln="setconfig (allow-listed plugin options)",
        rpc=("setconfig",),
        effects=(Effect.CONFIG,),
    )

    cfg = FamilyBuilder(catalogue, "config", "config_tune")
    cfg.action(
        "view",
        MON,
        (text("key", 128, required=False),),
        v=V(1, 1, 1, 1, 1),
        permission="monitor",
        cln="listconfigs",
        rpc=("listconfigs",),
        effects=(Effect.READ,),
    )
    cfg.action(
        "set_alias",
        STD,
        (text("value", 32),),
        v=V(1, 1, 1, 1, 1),
        cln="setconfig alias",
        rpc=("setconfig",),
        effects=(Effect.CONFIG,),
    )
    cfg.action(
        "set_color",
        STD,
        (text("value", 6),),
        v=V(1, 1, 1, 1, 1),
        check=_check_color,
        cln="setconfig rgb",
        rpc=("setconfig",),
        effects=(Effect.CONFIG,),
    )
    cfg.action(
        "adjust",
        STD,
        (
            text("param", 64),
            Param("value", Kind.FLOAT, True),
            text("trigger_reason", 500, required=False),
            Param("confidence", Kind.FLOAT, False, 0, 1),
            Param("context_metrics", Kind.OBJECT, False),
        ),
        bands=(Band("default", V(2, 3, 2, 3, 2)), Band("fee_rule", V(2, 4, 2, 4, 2))),
        select=_adjust_band,
        check=_check_adjust,
        cln="cl-revenue-ops revenue-config set",
        rpc=("revenue-config",),
        effects=(Effect.CONFIG,),
        needs=("revenue-ops", "needs cl-revenue-ops"),
    )
    cfg.action(
        "set_max_channel_size",
        STD,
        (integer("value", 20_000, MAX_CHANNEL_SATS),),
        v=V(2, 3, 1, 3, 2),
        cln="setconfig (funder channel size)",
        rpc=("setconfig",),
        effects=(Effect.CONFIG,),
    )
    cfg.action(
        "set_dust_limit",
        ADV,
        (integer("value", 0, 10_000_000_000),),
        v=V(2, 4, 2, 4, 3),
        cln="setconfig max-dust-htlc-exposure-msat",
        rpc=("setconfig",),
        effects=(Effect.CONFIG,),
    )
    cfg.action(
        "set_network_address",
        ADV,
        (Param("value", Kind.HOSTPORT),),
        v=V(3, 3, 2, 5, 4),
        cln="setconfig announce-addr",
        rpc=("setconfig",),
        effects=(Effect.CONFIG,),
    )
    cfg.action(
        "toggle_tor",
        ADV,
        (flag("enabled", required=True),),
        v=V(3, 3, 2, 5, 4),
        cln="setconfig (tor proxy options)",
        rpc=("setconfig",),
        effects=(Effect.CONFIG,),
    )
    cfg.action(
        "auto_rebalance_rules",
        ADV,
        (Param("rules", Kind.OBJECT, True),),
        v=V(3, 6, 2, 6, 3),
        cln="cl-revenue-ops revenue-config (rebalance rules)",
        rpc=("revenue-config",),
        effects=(Effect.CONFIG,),
        needs=("revenue-ops", "needs cl-revenue-ops"),
    )
    cfg.action(
        "restart_node",
        ADM,
        (reason(),),
        v=V(3, 4, 7, 7, 4),
        cln="stop (the supervisor restarts lightningd)",
        rpc=("stop",),
    )

    bak = FamilyBuilder(catalogue, "backup", "backup")
    kind = Param("type", Kind.ENUM, False, choices=("scb", "db"))
    bak.action(
        "verify_backup",
        MON,
        (kind,),
        v=V(1, 1, 1, 1, 1),
        permission="monitor",
        cln="hash check of the backup files",
        effects=(Effect.READ,),
    )
    bak.action(
        "trigger_backup",
        STD,
        (kind, flag("include_scb")),
        v=V(1, 1, 2, 1, 1),
        cln="backup plugin",
        rpc=("backup-now",),
        needs=("backup", "needs a backup plugin"),
    )
    bak.action(
        "export_scb",
        STD,
        v=V(1, 3, 1, 3, 2),
        cln="staticbackup; the advisor sees only its hash unless allowed",
        rpc=("staticbackup",),
        effects=(Effect.READ,),
    )
    bak.action(
        "restore",
        ADM,
        v=V(10, 10, 5, 10, 10),
        cln="never remote",
        never="restoring a node is never done remotely",
    )

    emg = FamilyBuilder(catalogue, "emergency", "emergency")
    emg.action(
        "fee_spike",
        ADV,
        (reason(), flag("notify_operator")),
        v=V(2, 5, 5, 5, 2),
        cln="setchannel (high fees) on every channel",
        rpc=("setchannel",),
        effects=(Effect.FEE_CHANGE, Effect.ALL_CHANNELS),
    )
    emg.action(
        "disable_forwarding",
        ADV,
        (reason(), flag("notify_operator")),
        v=V(2, 5, 6, 6, 2),
        cln="setchannel htlcmax=htlcmin on every channel",
        rpc=("setchannel",),
        effects=(Effect.FORWARDING, Effect.ALL_CHANNELS),
    )
    emg.action(
        "force_close",
        ADM,
        (channel(), reason()),
        v=V(8, 7, 8, 3, 6),
        permission="channel_close",
        cln="close unilateraltimeout=1",
        rpc=("close",),
        effects=(Effect.CLOSE, Effect.FORCE_CLOSE),
    )
    emg.action(
        "force_close_all",
        ADM,
        (reason(),),
        v=V(10, 10, 8, 10, 8),
        permission="channel_close",
        cln="close unilateraltimeout=1 for every channel",
        rpc=("close",),
        effects=(Effect.CLOSE, Effect.FORCE_CLOSE, Effect.FORCE_CLOSE_ALL, Effect.ALL_CHANNELS),
    )
    emg.action(
        "revoke_all_credentials",
        ADM,
        (reason(),),
        v=V(3, 1, 3, 3, 3),
        cln="local lockdown: revoke every credential, cancel pending actions",
    )

    htlc = FamilyBuilder(catalogue, "htlc-mgmt", "htlc")
    dev = ("dev-htlc-rpcs", "CLN resolves HTLCs itself; the RPCs the docs cite are dev-only")
    htlc_id = Param("htlc_id", Kind.HTLC_ID)
    htlc.action(
        "list_stuck",
        MON,
        (integer("min_age_seconds", 60, 30 * 86_400, required=False),),
        v=V(1, 1, 2, 1, 1),
        permission="monitor",
        cln="listpeerchannels, listhtlcs",
        rpc=("listpeerchannels", "listhtlcs"),
        effects=(Effect.READ,),
    )
    htlc.action(
        "inspect",
        MON,
        (htlc_id,),
        v=V(1, 1, 2, 1, 1),
        permission="monitor",
        cln="listhtlcs",
        rpc=("listhtlcs",),
        effects=(Effect.READ,),
    )
    htlc.action(
        "fail_htlc",
        ADM,
        (htlc_id, reason()),
        v=V(7, 6, 7, 3, 6),
        cln="dev-only RPC",
        needs=dev,
    )
    htlc.action(
        "settle_htlc",
        ADM,
        (htlc_id, Param("preimage", Kind.HEX32)),
        v=V(7, 6, 7, 3, 6),
        cln="dev-only RPC",
        needs=dev,
    )
    htlc.action(
        "force_resolve_expired",
        ADM,
        (htlc_id, integer("margin_blocks", 0, 144)),
        v=V(8, 7, 7, 3, 6),
        cln="dev-only RPC, only past CLTV expiry minus the margin",
        needs=dev,
    )
