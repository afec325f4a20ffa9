"""Commands the socket serves differently from the in-process model.

Most network commands run as the model implements them (`NodeCommands`, driven by the
runtime so plugins answer hook points). These few need the socket's world: the node's
own directory and socket in `getinfo`, the `peer_connected` hooks before a connection
counts, delivery of custom messages in the background, and a `waitinvoice` that waits.
The `dev-sim-*` commands stand in for bitcoind (mining, funding the wallet) and exist
only on developer nodes.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from lnhive.sim.commands.registry import command
from lnhive.sim.errors import INVALID_PARAMS, LIGHTNINGD, RpcError
from lnhive.sim.network.events import HookCall
from lnhive.sim.network.model import INIT_FEATURES

if TYPE_CHECKING:
    from lnhive.sim.node import CallContext, SimNode

INVOICE_EXPIRED_DURING_WAIT = 903
CONNECT_DISCONNECTED = 402  # CONNECT_DISCONNECTED_DURING in common/jsonrpc_errors.h
WAIT_POLL_S = 0.05


@command("getinfo")
async def getinfo(node: SimNode, args: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
    info: dict[str, Any] = await node.model_call("getinfo", args)
    info["lightning-dir"] = str(node.network_dir)
    info["version"] = node.version
    info["binding"] = [{"type": "local socket", "socket": str(node.rpc_path)}]
    return info


@command("connect")
async def connect(node: SimNode, args: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
    """Both ends' `peer_connected` hooks run before the connection counts; a
    `disconnect` from either drops it and the caller gets CLN's error."""
    target = str(args["id"]).split("@", 1)[0]
    net = node.network
    if target in net.nodes and not net.is_connected(node.node_id, target):
        ends = (
            (node, target, "out", net.nodes[target].port),
            (node.runtime.node_running(target), node.node_id, "in", net.nodes[node.node_id].port),
        )
        for end, other, direction, port in ends:
            if end is None:
                continue
            peer = {
                "id": other,
                "direction": direction,
                "addr": f"127.0.0.1:{port}",
                "features": INIT_FEATURES,
            }
            result = await end.model_hook(HookCall(end.node_id, "peer_connected", {"peer": peer}))
            if result.get("result") == "disconnect":
                reason = result.get("error_message") or "disconnected by a peer_connected hook"
                raise RpcError(CONNECT_DISCONNECTED, f"disconnected during connection: {reason}")
    out: dict[str, Any] = await node.model_call("connect", args)
    return out


@command("sendcustommsg")
async def sendcustommsg(node: SimNode, args: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
    out: dict[str, Any] = await node.model_call("sendcustommsg", args)
    node.runtime.schedule_delivery()
    return out


@command("waitinvoice")
async def waitinvoice(node: SimNode, args: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
    """Wait until the invoice is paid (its entry) or expires (903), as CLN does."""
    label = args["label"]
    while True:
        found = (await node.model_call("listinvoices", {"label": label}))["invoices"]
        if not found:
            raise RpcError(LIGHTNINGD, "Label not found")
        inv = found[0]
        if inv["status"] == "paid":
            out: dict[str, Any] = inv
            return out
        if inv["status"] == "expired":
            raise RpcError(INVOICE_EXPIRED_DURING_WAIT, "invoice expired during wait")
        await asyncio.sleep(WAIT_POLL_S)


@command("dev-sim-mine", dev_only=True, checked=False)
async def dev_sim_mine(node: SimNode, args: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
    """Stand-in only: mine `blocks` blocks (default 1) on the simulated chain."""
    blocks = args.get("blocks", (args.get("_positional") or [1])[0])
    if not isinstance(blocks, int) or isinstance(blocks, bool) or not 1 <= blocks <= 10_000:
        raise RpcError(INVALID_PARAMS, "blocks: should be an integer from 1 to 10000")
    return {"blockheight": node.network.mine(blocks)}


@command("dev-sim-fundwallet", dev_only=True, checked=False)
async def dev_sim_fundwallet(
    node: SimNode, args: dict[str, Any], ctx: CallContext
) -> dict[str, Any]:
    """Stand-in only: credit the node's on-chain wallet with `satoshi` (an output that
    confirms with the next block)."""
    sat = args.get("satoshi", (args.get("_positional") or [None])[0])
    if not isinstance(sat, int) or isinstance(sat, bool) or sat <= 0:
        raise RpcError(INVALID_PARAMS, "satoshi: should be a positive integer")
    utxo = node.network.fund_wallet(node.node_id, sat)
    return {"txid": utxo.txid, "outnum": utxo.output, "amount_msat": sat * 1000}
