"""createrune, checkrune, showrunes, blacklistrune: the node's rune book (CLN-compatible)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lnhive.sim.commands.registry import command

if TYPE_CHECKING:
    from lnhive.sim.node import CallContext, SimNode


@command("createrune")
async def createrune(node: SimNode, args: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
    return node.runes.createrune(args.get("rune"), args.get("restrictions"))


@command("checkrune")
async def checkrune(node: SimNode, args: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
    return node.runes.checkrune(
        args["rune"], args.get("nodeid"), args.get("method"), args.get("params")
    )


@command("showrunes")
async def showrunes(node: SimNode, args: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
    return node.runes.showrunes(args.get("rune"))


@command("blacklistrune")
async def blacklistrune(node: SimNode, args: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
    return node.runes.blacklistrune(args.get("start"), args.get("end"), args.get("relist"))
