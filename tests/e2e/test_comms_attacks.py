"""The cl-hive-comms attack items that need processes (the rest are in
``tests/manage/test_comms_attacks.py``, whose docstring maps the whole list).

- **Relay down while replying**: the pipeline over the stand-in's in-process node with
  the relay client (:class:`NostrService`) against a real ``nostr-relay``; the relay is
  killed while the node handles an advisor's DM, so the reply cannot go out. It waits in
  the outbox and is delivered after the relay comes back (same port, same storage), and
  the action ran once (re-delivered requests are covered by ``test_comms_nostr.py``).
- **Plugin restart in the middle of a queued confirmation**: cl-hive-comms as a real
  plugin on the stand-in, stopped and started between hold, approval and the advisor's
  re-send: nothing pending is lost, nothing runs twice.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pyln.client import RpcError

import lnhive.plugins
from lnhive.cli.advisor import check_reply
from lnhive.core import bip340
from lnhive.core.derive import NOSTR_LABEL
from lnhive.manage.comms_admin import CommsAdmin
from lnhive.manage.pipeline import CommsOptions, Pipeline
from lnhive.sim.testing import NodeFactory, TestNode
from lnhive.transport.envelope import build_envelope, parse_envelope
from lnhive.transport.nostr_client import NostrService, dm_reply_text
from lnhive.transport.nostr_dm import InboundDm, sdk, unwrap_dm, wrap_dm
from lnhive.transport.reply import sign_reply
from tests.sim.network.conftest import make_line
from tests.transport.nostr_relay import RelayProcess

PLUGIN = str(Path(lnhive.plugins.__file__).parent / "comms.py")
FEES = "hive:fee-policy/v1"
ADVISOR_SECRET = bytes([5]) * 32
ADVISOR = bip340.xonly_pubkey(ADVISOR_SECRET).hex()


def wait_for(pred: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = pred()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def _publish(event_json: str, url: str) -> None:
    ns = sdk()
    client = ns.ClientBuilder().build()
    await client.add_relay(ns.RelayUrl.parse(url))
    await client.connect(timedelta(seconds=5))
    out = await client.send_event(ns.Event.from_json(event_json))
    await client.shutdown()
    assert out.success, out


async def _fetch(url: str) -> list[Any]:
    ns = sdk()
    client = ns.ClientBuilder().build()
    await client.add_relay(ns.RelayUrl.parse(url))
    await client.connect(timedelta(seconds=5))
    f = ns.Filter().kinds([ns.Kind(1059)]).pubkey(ns.PublicKey.parse(ADVISOR))
    events = await client.fetch_events(ns.ReqTarget.auto([f]), timedelta(seconds=3))
    await client.shutdown()
    return list(events.to_vec()) if hasattr(events, "to_vec") else list(events)


def test_relay_down_while_replying_delivers_after_reconnect(tmp_path: Path) -> None:
    line = make_line()
    api = line.api("b")
    p = Pipeline(
        api, str(tmp_path / "comms.sqlite3"), line.clock, options=CommsOptions(nostr_enabled=True)
    )
    cred = CommsAdmin(p).authorize(ADVISOR, "fee_optimization")["credential_id"]
    scid = line.chans["bc"].scid
    relay = RelayProcess(tmp_path / "relay")
    relay.start()
    handled: list[InboundDm] = []

    def on_dm(dm: InboundDm) -> str | None:
        handled.append(dm)
        relay.stop()  # the relay dies while the node works on the request
        reply = p.handle_nostr(dm.text, author=dm.author)
        return dm_reply_text(reply, lambda r: sign_reply(r, p.key))

    secret = bytes.fromhex(str(api.makesecret(string=NOSTR_LABEL)["secret"]))
    svc = NostrService(secret, [relay.url], p.store, on_dm)
    svc.start()
    try:
        assert svc.wait_ready(10)
        wait_for(lambda: svc.status()["relays"][0]["status"] == "connected", what="connected")
        env = build_envelope(
            ADVISOR_SECRET,
            recipient=p.nostr_pubkey,
            schema_type=FEES,
            action="set_single",
            params={"channel_id": scid, "fee_ppm": 12},
            credential_id=cred,
            nonce=1,
            timestamp=int(line.clock.now()),
        )
        asyncio.run(_publish(wrap_dm(ADVISOR_SECRET, p.nostr_pubkey, json.dumps(env)), relay.url))
        wait_for(lambda: svc.status()["counters"].get("send_failures"), what="a failed send")
        assert svc.outbox.pending() == 1 and p.receipts.count() == 2  # authorize + the fee
        (ch,) = api.listpeerchannels(short_channel_id=scid)["channels"]
        assert ch["updates"]["local"]["fee_proportional_millionths"] == 12

        relay.start()  # same port, same storage
        wait_for(lambda: svc.outbox.pending() == 0, 30, "the outbox to drain")
        (event,) = asyncio.run(_fetch(relay.url))
        dm = unwrap_dm(ADVISOR_SECRET, event, kind4_author_allowed=lambda _: False)
        reply = json.loads(dm.text)
        assert reply["ok"] is True and reply["result"]["fee_ppm"] == 12, reply
        assert check_reply(reply, p.node_id) is None
        assert reply["in_reply_to"] == parse_envelope(json.dumps(env)).request_hash()
        # Handled once: one DM in, one receipt, nothing run twice.
        assert len(handled) == 1 and p.receipts.count() == 2
    finally:
        svc.stop()
        relay.stop()
        p.close()


# -- plugin restart around the confirmation queue -----------------------------------------------


class Advisor:
    def __init__(self, node: TestNode) -> None:
        self.node = node
        auth = node.rpc.call("hive-client-authorize", {"advisor": ADVISOR, "access": "fees"})
        self.cred = auth["credential_id"]
        self.recipient = auth["node_pubkey"]
        self.nonce = 0

    def envelope(self, params: dict[str, Any], action: str = "set_single", **kw: Any) -> str:
        self.nonce += 1
        return json.dumps(
            build_envelope(
                ADVISOR_SECRET,
                recipient=self.recipient,
                schema_type=FEES,
                action=action,
                params=params,
                credential_id=self.cred,
                nonce=self.nonce,
                timestamp=int(time.time()),
                **kw,
            )
        )

    def send(self, text: str) -> dict[str, Any]:
        out: dict[str, Any] = self.node.rpc.call(
            "hive-comms-rpc", {"envelope": text, "sender": f"nostr:{ADVISOR}"}
        )
        return out


def restart(node: TestNode) -> None:
    node.rpc.call("plugin", {"subcommand": "stop", "plugin": PLUGIN})
    node.rpc.call("plugin", {"subcommand": "start", "plugin": PLUGIN})


def fee_ppm(node: TestNode, scid: str) -> int:
    (ch,) = node.rpc.listpeerchannels(short_channel_id=scid)["channels"]
    return int(ch["updates"]["local"]["fee_proportional_millionths"])


def runs(node: TestNode, action: str) -> list[dict[str, Any]]:
    """Receipts of ``action`` that ran it (approved or executed, with an outcome)."""
    receipts = node.rpc.call("hive-client-receipts", {"limit": 500})["receipts"]
    return [
        r
        for r in receipts
        if r["action"] == action
        and r["decision"] in ("approved", "executed")
        and r["outcome"] != "n/a"
    ]


def test_plugin_restart_mid_confirmation(node_factory: NodeFactory) -> None:
    a = node_factory.get_node(plugins=[PLUGIN])
    b = node_factory.get_node()
    node_factory.open_channel(a, b)
    (chan,) = a.rpc.listpeerchannels()["channels"]
    scid = chan["short_channel_id"]
    before = fee_ppm(a, scid)
    adv = Advisor(a)

    # 1. A queued (D 5) action survives a restart, runs once on approval, never again.
    a.rpc.call("hive-client-policy", {"action": "set-preset", "preset": "conservative"})
    text = adv.envelope({"channels": [scid], "policy": {"fee_ppm": before + 1}}, "set_bulk")
    held = adv.send(text)
    assert held["code"] == "confirmation_required" and held["kind"] == "queue", held
    restart(a)
    (item,) = a.rpc.call("hive-client-pending")["pending"]
    assert item["action_id"] == held["action_id"] and fee_ppm(a, scid) == before
    assert adv.send(text)["code"] == "replay"  # the held request cannot be queued again
    done = a.rpc.call("hive-client-approve", {"action_id": held["action_id"]})
    assert done["ok"] and done["executed"] and fee_ppm(a, scid) == before + 1
    restart(a)
    with pytest.raises(RpcError) as err:
        a.rpc.call("hive-client-approve", {"action_id": held["action_id"]})
    assert err.value.error["message"].startswith("conflict:")
    assert len(runs(a, "set_bulk")) == 1 and a.rpc.call("hive-client-pending")["pending"] == []

    # 2. An approved confirmation (D 7 by override) survives a restart; the advisor's
    #    re-send runs it once; a second re-send is refused.
    a.rpc.call(
        "hive-client-policy",
        {
            "action": "set-overrides",
            "overrides_json": {"approval_overrides": {"fee-policy_set_single": "always_confirm"}},
        },
    )
    params = {"channel_id": scid, "fee_ppm": before}
    held = adv.send(adv.envelope(params))
    assert held["code"] == "confirmation_required" and held["kind"] == "confirm", held
    a.rpc.call("hive-client-approve", {"action_id": held["action_id"]})
    restart(a)
    assert fee_ppm(a, scid) == before + 1
    done = adv.send(adv.envelope(params, confirm_action_id=held["action_id"]))
    assert done["ok"] is True and fee_ppm(a, scid) == before, done
    restart(a)
    again = adv.send(adv.envelope(params, confirm_action_id=held["action_id"]))
    assert again["code"] == "policy_blocked" and again["reason"] == "confirmation_invalid"
    assert len(runs(a, "set_single")) == 1 and fee_ppm(a, scid) == before
    assert a.rpc.call("hive-client-receipts-verify", {"full": True})["ok"] is True
