"""The simulated Lightning network behind the lightningd stand-in (a library).

``Network`` holds nodes, peers, wallets, channels and blocks under a
:class:`~lnhive.core.clock.Clock`; payments are generators that yield hook points
(:class:`HookCall`) for a driver to answer; notifications go to subscribers as
:class:`Event`. ``NodeCommands`` implements each CLN command of one node once (hook
points as generators); ``InProcessNode`` drives it synchronously behind the ``NodeApi``
protocol, the stand-in's socket server asynchronously.
"""

from lnhive.sim.network.commands import COMMANDS, DEPRECATED, NodeCommands
from lnhive.sim.network.events import Event, HookCall
from lnhive.sim.network.inprocess import InProcessNode
from lnhive.sim.network.messages import deliver_pending
from lnhive.sim.network.model import Network
from lnhive.sim.network.pay import pay_gen, sendpay_gen
from lnhive.sim.network.payments import run_sync, send_htlcs
from lnhive.sim.network.routing import Hop, find_route

__all__ = [
    "COMMANDS",
    "DEPRECATED",
    "Event",
    "HookCall",
    "Hop",
    "InProcessNode",
    "Network",
    "NodeCommands",
    "deliver_pending",
    "find_route",
    "pay_gen",
    "run_sync",
    "send_htlcs",
    "sendpay_gen",
]
