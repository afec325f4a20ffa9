"""Custom peer messages (``sendcustommsg`` and delivery to the receiver's ``custommsg``).

Sending checks what CLN checks (internal types, unknown or disconnected peer) plus the
65,535-byte limit the stand-in enforces, then queues the message per (sender, receiver)
pair in send order. :meth:`Mailer.deliver` yields one ``custommsg`` hook point per
message the receiver accepts (odd types always; even types only when listed in the
receiver's ``accepted_even_types``); unaccepted even types are dropped with a
``warning`` notification at the sender.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lnhive.sim.errors import INVALID_PARAMS, INVALID_REQUEST, RpcError
from lnhive.sim.network.events import HookCall, iso_timestamp

if TYPE_CHECKING:
    from lnhive.sim.network.model import Network

MAX_MESSAGE_BYTES = 65_535
SENT_STATUS = "Message sent to connectd for delivery"

_NAMES = {
    1: "WIRE_WARNING",
    2: "WIRE_STFU",
    16: "WIRE_INIT",
    17: "WIRE_ERROR",
    18: "WIRE_PING",
    19: "WIRE_PONG",
    32: "WIRE_OPEN_CHANNEL",
    33: "WIRE_ACCEPT_CHANNEL",
    34: "WIRE_FUNDING_CREATED",
    35: "WIRE_FUNDING_SIGNED",
    36: "WIRE_CHANNEL_READY",
    38: "WIRE_SHUTDOWN",
    39: "WIRE_CLOSING_SIGNED",
    40: "WIRE_CLOSING_COMPLETE",
    41: "WIRE_CLOSING_SIG",
    64: "WIRE_OPEN_CHANNEL2",
    65: "WIRE_ACCEPT_CHANNEL2",
    66: "WIRE_TX_ADD_INPUT",
    67: "WIRE_TX_ADD_OUTPUT",
    68: "WIRE_TX_REMOVE_INPUT",
    69: "WIRE_TX_REMOVE_OUTPUT",
    70: "WIRE_TX_COMPLETE",
    71: "WIRE_TX_SIGNATURES",
    72: "WIRE_TX_INIT_RBF",
    73: "WIRE_TX_ACK_RBF",
    74: "WIRE_TX_ABORT",
    80: "WIRE_SPLICE",
    81: "WIRE_SPLICE_ACK",
    128: "WIRE_UPDATE_ADD_HTLC",
    130: "WIRE_UPDATE_FULFILL_HTLC",
    131: "WIRE_UPDATE_FAIL_HTLC",
    132: "WIRE_COMMITMENT_SIGNED",
    133: "WIRE_REVOKE_AND_ACK",
    134: "WIRE_UPDATE_FEE",
    135: "WIRE_UPDATE_FAIL_MALFORMED_HTLC",
    136: "WIRE_CHANNEL_REESTABLISH",
    137: "WIRE_UPDATE_BLOCKHEIGHT",
    256: "WIRE_CHANNEL_ANNOUNCEMENT",
    257: "WIRE_NODE_ANNOUNCEMENT",
    258: "WIRE_CHANNEL_UPDATE",
    259: "WIRE_ANNOUNCEMENT_SIGNATURES",
    261: "WIRE_QUERY_SHORT_CHANNEL_IDS",
    262: "WIRE_REPLY_SHORT_CHANNEL_IDS_END",
    263: "WIRE_QUERY_CHANNEL_RANGE",
    264: "WIRE_REPLY_CHANNEL_RANGE",
    265: "WIRE_GOSSIP_TIMESTAMP_FILTER",
    513: "WIRE_ONION_MESSAGE",
}
#: Types lightningd handles itself (peer storage, 7 and 9, is free for plugins).
INTERNAL_TYPES = frozenset(
    [
        0,
        1,
        2,
        *range(16, 20),
        *range(32, 42),
        *range(64, 75),
        77,
        80,
        81,
        127,
        128,
        *range(130, 138),
        *range(256, 260),
        *range(261, 266),
        513,
    ]
)


def wire_name(msgtype: int) -> str:
    return _NAMES.get(msgtype, f"WIRE_TYPE_{msgtype}")


@dataclass(frozen=True, slots=True)
class Message:
    sender: str
    receiver: str
    payload: str  # hex, type included

    @property
    def msgtype(self) -> int:
        return int(self.payload[:4], 16)


class Mailer:
    """Queues of custom messages per (sender, receiver), delivered in send order."""

    def __init__(self, net: Network) -> None:
        self.net = net
        self.queues: dict[tuple[str, str], deque[Message]] = {}
        self.order: deque[tuple[str, str]] = deque()

    def send(self, sender: str, node_id: str, msg_hex: str) -> dict[str, Any]:
        """``sendcustommsg``: check and queue; returns CLN's success object."""
        try:
            raw = bytes.fromhex(msg_hex)
        except ValueError:
            raise RpcError(INVALID_PARAMS, "msg: should be a hex value: invalid token") from None
        if len(raw) < 2:
            raise RpcError(INVALID_PARAMS, "msg: should be a hex value: invalid token")
        msgtype = int.from_bytes(raw[:2], "big")
        if msgtype in INTERNAL_TYPES:
            raise RpcError(
                INVALID_REQUEST,
                f"Cannot send messages of type {msgtype} ({wire_name(msgtype)}). It is not "
                "possible to send messages that have a type managed internally since that "
                "might cause issues with the internal state tracking.",
            )
        if len(raw) > MAX_MESSAGE_BYTES:
            raise RpcError(
                INVALID_PARAMS, f"msg: message of {len(raw)} bytes exceeds the 65535-byte limit"
            )
        peer = self.net.nodes[sender].peers.get(node_id)
        if peer is None:
            raise RpcError(INVALID_REQUEST, f"No such peer: {node_id}")
        if not peer.connected:
            raise RpcError(INVALID_REQUEST, "Peer is not connected")
        key = (sender, node_id)
        queue = self.queues.get(key)
        if queue is None:
            queue = self.queues[key] = deque()
        queue.append(Message(sender, node_id, raw.hex()))
        self.order.append(key)
        return {"status": SENT_STATUS}

    def pending(self) -> int:
        return sum(len(q) for q in self.queues.values())

    def drop_pair(self, a: str, b: str) -> None:
        """A disconnect loses whatever was still queued between the two."""
        self.queues.pop((a, b), None)
        self.queues.pop((b, a), None)

    def next_message(self) -> Message | None:
        """The oldest queued message (in global send order), removed from its queue."""
        while self.order:
            key = self.order.popleft()
            queue = self.queues.get(key)
            if queue:
                return queue.popleft()
        return None

    def deliver(self) -> Generator[HookCall, dict[str, Any], int]:
        """Deliver everything queued: a ``custommsg`` notification plus hook point per
        accepted message. Returns how many were delivered."""
        count = 0
        while (msg := self.next_message()) is not None:
            receiver = self.net.nodes.get(msg.receiver)
            if receiver is None:
                continue
            if msg.msgtype % 2 == 0 and msg.msgtype not in receiver.accepted_even_types:
                now = self.net.clock.now()
                self.net.emit(
                    msg.sender,
                    "warning",
                    {
                        "level": "warn",
                        "time": f"{now:.9f}",
                        "timestamp": iso_timestamp(now),
                        "source": "connectd",
                        "log": "Invalid unknown even msg",
                    },
                )
                continue
            params = {"peer_id": msg.sender, "payload": msg.payload}
            self.net.emit(msg.receiver, "custommsg", dict(params))
            result = yield HookCall(msg.receiver, "custommsg", params)
            if result.get("result") != "continue":
                raise ValueError(f"custommsg hook must answer continue, got {result!r}")
            count += 1
        return count


def mailer(net: Network) -> Mailer:
    """The network's mailer, created on first use."""
    if net.custommsgs is None:
        net.custommsgs = Mailer(net)
    m: Mailer = net.custommsgs
    return m


def deliver_pending(net: Network) -> Generator[HookCall, dict[str, Any], int]:
    """Deliver every queued custom message (see :meth:`Mailer.deliver`); drivers run it
    after a command that sent one. Returns how many were delivered."""
    if net.custommsgs is None:
        return 0
    return (yield from mailer(net).deliver())


def has_pending(net: Network) -> bool:
    """Whether custom messages wait for :func:`deliver_pending`."""
    return net.custommsgs is not None and mailer(net).pending() > 0
