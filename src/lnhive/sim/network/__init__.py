"""The simulated Lightning network behind the lightningd stand-in (a library).

``Network`` holds nodes, peers, wallets, channels and blocks under a
:class:`~lnhive.core.clock.Clock`; payments are generators that yield hook points
(:class:`HookCall`) for a driver to answer; notifications go to subscribers as
:class:`Event`. ``InProcessNode`` puts one node behind the ``NodeApi`` protocol.
"""

from lnhive.sim.network.events import Event, HookCall
from lnhive.sim.network.inprocess import InProcessNode
from lnhive.sim.network.model import Network
from lnhive.sim.network.pay import pay_gen, sendpay_gen
from lnhive.sim.network.payments import run_sync, send_htlcs
from lnhive.sim.network.routing import Hop, find_route

__all__ = [
    "Event",
    "HookCall",
    "Hop",
    "InProcessNode",
    "Network",
    "find_route",
    "pay_gen",
    "run_sync",
    "send_htlcs",
    "sendpay_gen",
]
