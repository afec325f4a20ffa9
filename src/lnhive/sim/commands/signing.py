"""signmessage, checkmessage, makesecret: the node key used exactly as CLN uses it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lnhive.core.derive import hkdf_secret
from lnhive.core.signmessage import ZbaseError, recover_pubkey, sign_message
from lnhive.sim.commands.registry import command
from lnhive.sim.errors import INVALID_PARAMS, SIGNMESSAGE_PUBKEY_NOT_FOUND, RpcError

if TYPE_CHECKING:
    from lnhive.sim.node import CallContext, SimNode

MAX_MESSAGE = 65535


@command("signmessage")
async def signmessage(node: SimNode, args: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
    message: str = args["message"]
    if len(message.encode()) > MAX_MESSAGE:
        raise RpcError(INVALID_PARAMS, "Message must be < 64k")
    signed = sign_message(node.secret, message)
    return {"signature": signed.signature, "recid": signed.recid, "zbase": signed.zbase}


@command("checkmessage")
async def checkmessage(node: SimNode, args: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
    try:
        recovered = recover_pubkey(args["message"], args["zbase"])
    except ZbaseError as exc:
        raise RpcError(INVALID_PARAMS, str(exc)) from None
    if recovered is None:
        return {"verified": False}
    key = recovered.hex()
    given = args.get("pubkey")
    if given is not None:
        return {"pubkey": key, "verified": key == given}
    if key == node.node_id or node.world.in_gossip(node.node_id, key):
        return {"pubkey": key, "verified": True}
    raise RpcError(
        SIGNMESSAGE_PUBKEY_NOT_FOUND, "pubkey not found in the graph", {"claimed_key": key}
    )


@command("makesecret")
async def makesecret(node: SimNode, args: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
    has_hex, has_str = "hex" in args, "string" in args
    if has_hex == has_str:
        raise RpcError(INVALID_PARAMS, "Must have either hex or string")
    info = bytes.fromhex(args["hex"]) if has_hex else args["string"].encode()
    return {"secret": hkdf_secret(node.secret, info).hex()}
