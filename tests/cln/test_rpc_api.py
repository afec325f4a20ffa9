"""RpcNodeApi against the stand-in's lightning-rpc socket (pyln's LightningRpc underneath).

Network commands the socket does not serve yet skip (the stand-in answers -32601 for
them) and start running once it does.
"""

from __future__ import annotations

import contextlib
import inspect
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pyln.client import LightningRpc, RpcError

from lnhive.cln.api import NodeApi
from lnhive.cln.errors import NodeError
from lnhive.cln.rpc import RpcNodeApi
from lnhive.core.errors import LnhiveError, NodeRpcError
from lnhive.sim.testing import NodeFactory, TestNode

OTHER_NODE = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"  # secp256k1 G


class RecordingRpc(LightningRpc):  # type: ignore[misc]
    """A real LightningRpc on the node's socket that also records what is sent."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.sent: list[tuple[str, Any]] = []

    def call(
        self, method: str, payload: Any = None, cmdprefix: Any = None, filter: Any = None
    ) -> Any:
        self.sent.append((method, payload))
        return super().call(method, payload, cmdprefix, filter)


@pytest.fixture
def node(node_factory: NodeFactory) -> TestNode:
    return node_factory.get_node()


@pytest.fixture
def api(node: TestNode) -> RpcNodeApi:
    return RpcNodeApi(node.rpc)


def served(fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run one call; skip the test while the stand-in does not serve the command yet."""
    try:
        return fn()
    except NodeError as err:
        if err.code == -32601:
            pytest.skip(f"the stand-in does not serve {err.method} yet: {err.cln_message}")
        raise


# -- the protocol ------------------------------------------------------------------


def test_is_a_node_api(api: RpcNodeApi, node: TestNode) -> None:
    assert isinstance(api, NodeApi)
    assert isinstance(RpcNodeApi.from_socket(node.sim.rpc_path), NodeApi)


def _protocol_methods() -> list[str]:
    return sorted(
        name
        for name, fn in inspect.getmembers(NodeApi, inspect.isfunction)
        if not name.startswith("_") and name != "call"
    )


@pytest.mark.parametrize("method", _protocol_methods())
def test_every_method_sends_cln_names_and_drops_none(node: TestNode, method: str) -> None:
    """Each NodeApi method reaches the socket as ``call(<method>, {CLN names})``: every
    given parameter under its own (CLN) name, every omitted one left out."""
    rpc = RecordingRpc(str(node.sim.rpc_path))
    api = RpcNodeApi(rpc)
    params = inspect.signature(getattr(NodeApi, method)).parameters
    names = [n for n in params if n != "self"]
    required = [n for n in names if params[n].default is inspect.Parameter.empty]

    def send(kwargs: dict[str, Any]) -> tuple[str, Any]:
        rpc.sent.clear()
        with contextlib.suppress(NodeError):  # placeholder values: the node may refuse them
            getattr(api, method)(**kwargs)
        assert len(rpc.sent) == 1, rpc.sent
        return rpc.sent[0]

    everything = {n: f"v-{n}" for n in names}
    assert send(everything) == (method, everything)
    only_required = {n: f"v-{n}" for n in required}
    assert send({**only_required, **dict.fromkeys(set(names) - set(required))}) == (
        method,
        only_required,
    )


def test_returns_the_result_unchanged(api: RpcNodeApi, node: TestNode) -> None:
    api.datastore(key=["lnhive", "t"], string="same")
    assert api.listdatastore(key=["lnhive"]) == node.rpc.call("listdatastore", {"key": ["lnhive"]})
    assert api.call("makesecret", {"string": "x"}) == node.rpc.call("makesecret", {"string": "x"})


# -- lone-node commands served today -------------------------------------------------


def test_getinfo(api: RpcNodeApi, node: TestNode) -> None:
    info = api.getinfo()
    assert info["id"] == node.info_id
    assert info["alias"] == node.name
    assert info["network"] == "regtest"
    assert info["num_peers"] == 0


def test_from_socket_accepts_a_path(node: TestNode) -> None:
    api = RpcNodeApi.from_socket(Path(node.sim.rpc_path))
    assert api.getinfo()["id"] == node.info_id
    assert api.socket_path == str(node.sim.rpc_path)


def test_signmessage_checkmessage_round_trip(api: RpcNodeApi, node: TestNode) -> None:
    signed = api.signmessage(message="lnhive:test:v1:abc")
    assert set(signed) >= {"signature", "recid", "zbase"}
    checked = api.checkmessage(message="lnhive:test:v1:abc", zbase=signed["zbase"])
    assert checked == {"pubkey": node.info_id, "verified": True}
    with_key = api.checkmessage(
        message="lnhive:test:v1:abc", zbase=signed["zbase"], pubkey=node.info_id
    )
    assert with_key["verified"] is True
    tampered = api.checkmessage(
        message="lnhive:test:v1:abd", zbase=signed["zbase"], pubkey=node.info_id
    )
    assert tampered["verified"] is False


def test_makesecret_is_deterministic_per_label(api: RpcNodeApi) -> None:
    a = api.makesecret(string="lnhive/nostr/v1")["secret"]
    assert len(bytes.fromhex(a)) == 32
    assert api.makesecret(string="lnhive/nostr/v1")["secret"] == a
    assert api.makesecret(hex=b"lnhive/nostr/v1".hex())["secret"] == a
    assert api.makesecret(string="lnhive/receipts/v1")["secret"] != a


def test_datastore_trio(api: RpcNodeApi) -> None:
    stored = api.datastore(key=["lnhive", "k"], string="v1")
    assert stored["key"] == ["lnhive", "k"]
    assert stored["string"] == "v1"
    gen = stored["generation"]
    replaced = api.datastore(key=["lnhive", "k"], string="v2", mode="must-replace", generation=gen)
    assert replaced["string"] == "v2"
    listed = api.listdatastore(key=["lnhive", "k"])["datastore"]
    assert [(e["key"], e["string"]) for e in listed] == [(["lnhive", "k"], "v2")]
    deleted = api.deldatastore(key=["lnhive", "k"])
    assert deleted["string"] == "v2"
    assert api.listdatastore(key=["lnhive", "k"])["datastore"] == []


# -- errors keep CLN's code, message and data ----------------------------------------


def test_unknown_command(api: RpcNodeApi) -> None:
    with pytest.raises(NodeError) as info:
        api.call("nosuchcommand")
    err = info.value
    assert (err.method, err.code, err.cln_message) == (
        "nosuchcommand",
        -32601,
        "Unknown command 'nosuchcommand'",
    )
    assert str(err) == "nosuchcommand failed: -32601 Unknown command 'nosuchcommand'"
    assert isinstance(err, NodeRpcError) and isinstance(err, LnhiveError)
    assert err.error_symbol == "node_rpc_error"
    assert err.rpc_message().startswith("node_rpc_error: nosuchcommand failed: -32601")
    assert isinstance(err.__cause__, RpcError)


def test_unknown_parameter(api: RpcNodeApi) -> None:
    with pytest.raises(NodeError) as info:
        api.call("getinfo", {"bogus": 1})
    assert info.value.code == -32602
    assert info.value.cln_message.startswith("unknown parameter: bogus")
    assert info.value.method == "getinfo"


def test_missing_parameter(api: RpcNodeApi) -> None:
    with pytest.raises(NodeError) as info:
        api.call("signmessage", {"message": None})  # None is dropped: the parameter is missing
    assert info.value.code == -32602
    assert info.value.cln_message == "missing required parameter: message"


def test_datastore_key_exists(api: RpcNodeApi) -> None:
    api.datastore(key=["lnhive", "dup"], string="a")
    with pytest.raises(NodeError) as info:
        api.datastore(key=["lnhive", "dup"], string="b")
    err = info.value
    assert (err.method, err.code, err.cln_message) == ("datastore", 1202, "Key already exists")
    assert str(err) == "datastore failed: 1202 Key already exists"


def test_error_data_is_kept(api: RpcNodeApi) -> None:
    """CLN's ``data`` member comes through untouched (built from pyln's own RpcError so
    the test does not depend on which commands the stand-in attaches data to)."""
    data = {"erring_index": 1, "failcode": 4103, "erring_channel": "1x2x3"}
    rpc_error = RpcError(
        "waitsendpay", {}, {"code": 204, "message": "failed: WIRE_X", "data": data}
    )
    err = RpcNodeApi.from_socket("/nonexistent")._from_rpc_error("waitsendpay", rpc_error)
    assert (err.code, err.cln_message, err.data) == (204, "failed: WIRE_X", data)
    assert err.details["data"] == data


# -- transport failures ---------------------------------------------------------------


def test_missing_socket(tmp_path: Path) -> None:
    path = tmp_path / "regtest" / "lightning-rpc"
    api = RpcNodeApi.from_socket(path)
    with pytest.raises(NodeError) as info:
        api.getinfo()
    err = info.value
    assert err.code is None
    assert err.method == "getinfo"
    assert f"no RPC socket at {path}" in str(err)
    assert "check that lightningd (or the stand-in) is running" in str(err)
    assert isinstance(err.__cause__, FileNotFoundError)


def test_socket_nobody_listens_on(tmp_path: Path) -> None:
    path = tmp_path / "lightning-rpc"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()  # the file stays, nobody listens: what a crashed node leaves
    with pytest.raises(NodeError) as info:
        RpcNodeApi.from_socket(path).getinfo()
    assert info.value.code is None
    assert "connection refused" in str(info.value)
    assert "check it is running" in str(info.value)


@pytest.fixture
def hangup_socket(tmp_path: Path) -> Iterator[Path]:
    """A socket that accepts a connection and closes it without replying."""
    path = tmp_path / "rpc"
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(str(path))
    srv.listen(1)

    def serve() -> None:
        conn, _ = srv.accept()
        conn.recv(65536)
        conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        yield path
    finally:
        srv.close()
        t.join(5)


def test_connection_lost(hangup_socket: Path) -> None:
    with pytest.raises(NodeError) as info:
        RpcNodeApi.from_socket(hangup_socket).getinfo()
    assert info.value.code is None
    assert "closed before the node replied" in str(info.value)


def test_stopped_node(node: TestNode) -> None:
    api = RpcNodeApi(node.rpc)
    api.getinfo()
    node.stop()
    with pytest.raises(NodeError) as info:
        api.getinfo()
    assert info.value.code is None
    assert "check" in str(info.value)


# -- network commands on a lone node (skip until the socket serves them) -------------


def test_listpeers_empty(api: RpcNodeApi) -> None:
    assert served(api.listpeers) == {"peers": []}
    assert served(lambda: api.listpeers(id=OTHER_NODE)) == {"peers": []}


def test_listpeerchannels_empty(api: RpcNodeApi) -> None:
    assert served(api.listpeerchannels)["channels"] == []
    # `id` is CLN's name; pyln's wrapper would need peer_id= (the spec's caveat).
    assert served(lambda: api.listpeerchannels(id=OTHER_NODE))["channels"] == []


def test_listfunds(api: RpcNodeApi) -> None:
    funds = served(api.listfunds)
    assert isinstance(funds["outputs"], list)
    assert funds["channels"] == []
    for out in funds["outputs"]:
        assert isinstance(out["amount_msat"], int)


def test_feerates_perkw(api: RpcNodeApi) -> None:
    rates = served(lambda: api.feerates(style="perkw"))
    assert "perkb" not in rates
    perkw = rates["perkw"]
    for field in ("opening", "mutual_close", "unilateral_close", "min_acceptable"):
        assert isinstance(perkw[field], int) and perkw[field] > 0, field


def test_feerates_bad_style(api: RpcNodeApi) -> None:
    with pytest.raises(NodeError) as info:
        served(lambda: api.feerates(style="perhour"))
    assert info.value.code == -32602


def test_listforwards_empty(api: RpcNodeApi) -> None:
    assert served(api.listforwards)["forwards"] == []
    assert served(lambda: api.listforwards(status="settled"))["forwards"] == []


def test_listclosedchannels_empty(api: RpcNodeApi) -> None:
    assert served(api.listclosedchannels)["closedchannels"] == []


def test_payment_lists_empty(api: RpcNodeApi) -> None:
    assert served(api.listsendpays)["payments"] == []
    assert served(api.listpays)["pays"] == []


def test_invoice_listinvoices_decode(api: RpcNodeApi, node: TestNode) -> None:
    inv = served(
        lambda: api.invoice(amount_msat=12_345, label="lnhive-t1", description="rpc api test")
    )
    found = served(lambda: api.listinvoices(label="lnhive-t1"))["invoices"]
    assert [(i["label"], i["status"], i["payment_hash"]) for i in found] == [
        ("lnhive-t1", "unpaid", inv["payment_hash"])
    ]
    decoded = served(lambda: api.decode(string=inv["bolt11"]))
    assert decoded["payment_hash"] == inv["payment_hash"]
    assert decoded["amount_msat"] == 12_345
    assert decoded["payee"] == node.info_id


def test_delinvoice(api: RpcNodeApi) -> None:
    served(lambda: api.invoice(amount_msat=1000, label="lnhive-del", description="to delete"))
    with pytest.raises(NodeError) as info:
        served(lambda: api.delinvoice(label="lnhive-del", status="paid"))
    err = info.value
    assert err.code == 906
    assert err.data == {"current_status": "unpaid", "expected_status": "paid"}
    deleted = served(lambda: api.delinvoice(label="lnhive-del", status="unpaid"))
    assert (deleted["label"], deleted["status"]) == ("lnhive-del", "unpaid")
    assert served(lambda: api.listinvoices(label="lnhive-del"))["invoices"] == []
    with pytest.raises(NodeError) as info:
        served(lambda: api.delinvoice(label="lnhive-del", status="unpaid"))
    assert info.value.code == 905


def test_delpay_unknown_payment(api: RpcNodeApi) -> None:
    with pytest.raises(NodeError) as info:
        served(lambda: api.delpay(payment_hash="00" * 32, status="complete"))
    assert info.value.code == 208


def test_newaddr(api: RpcNodeApi) -> None:
    default = served(api.newaddr)
    assert default["p2tr"].startswith("bcrt1p")
    assert served(lambda: api.newaddr(addresstype="bech32"))["bech32"].startswith("bcrt1q")


def test_withdraw_more_than_the_wallet_has(api: RpcNodeApi) -> None:
    addr = served(lambda: api.newaddr(addresstype="bech32"))["bech32"]
    with pytest.raises(NodeError) as info:
        served(lambda: api.withdraw(destination=addr, satoshi=2_100_000_000_000_000))
    assert info.value.code == 301
