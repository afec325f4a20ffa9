"""What would make a real lightningd abort is caught and fails the test (conformance 9),
and the schema net catches output that does not fit CLN's contract."""

from __future__ import annotations

from pathlib import Path

from lnhive.sim.testing import NodeFactory, wait_for
from tests.fidelity import SchemaFidelity
from tests.plugins.raw import manifest_with, write_raw_plugin
from tests.schemas import requires_schemas


def test_custommsg_hook_must_answer_continue(tmp_path: Path) -> None:
    bad = write_raw_plugin(
        tmp_path / "p",
        "bad.py",
        manifest_with(hooks=[{"name": "custommsg"}]),
        behaviour="bad-custommsg",
    )
    factory = NodeFactory(tmp_path / "sim")
    try:
        l1 = factory.get_node()
        l2 = factory.get_node(plugins=[bad])
        l1.rpc.connect(l2.id)
        l1.rpc.sendcustommsg(l2.id, "a1b1")
        found = wait_for(factory.violations)
        assert "gave hook custommsg an invalid result" in found[0]
        l2.wait_for_log(r"FIDELITY: plugin bad.py gave hook custommsg")
        # The node carries on.
        assert l2.rpc.getinfo()["id"] == l2.id
    finally:
        factory.close()


def test_hook_error_reply_is_a_violation(tmp_path: Path) -> None:
    # pyln itself turns a hook handler's exception into a safe `continue`; a plugin that
    # does answer a hook with an error would make lightningd abort.
    raw = write_raw_plugin(
        tmp_path / "p",
        "errs.py",
        manifest_with(hooks=[{"name": "peer_connected"}]),
        behaviour="error-hooks",
    )
    factory = NodeFactory(tmp_path / "sim")
    try:
        l1 = factory.get_node(plugins=[raw])
        l2 = factory.get_node()
        l2.rpc.connect(l1.id)
        found = factory.violations()
        assert any(
            "answered hook peer_connected with an error (hook failed)" in v for v in found
        ), found
        assert l1.rpc.getinfo()["id"] == l1.id
    finally:
        factory.close()


@requires_schemas
def test_schema_net_flags_output_that_does_not_fit() -> None:
    check = SchemaFidelity()
    assert check.response("getinfo", {"id": "nope"}) is not None
    assert check.response("checkmessage", {"verified": False}) is None  # the allowed exception
    assert check.response("dev-sim-mine", {"blockheight": 1}) is None  # no schema: ours
    assert check.notification("block_added", {"hash": "00" * 32, "height": -1}) is not None
    assert check.hook_request("custommsg", {"peer_id": "x"}) is not None
    assert check.hook_response("custommsg", {"result": "continue"}) is None
    assert check.hook_response("peer_connected", {"result": "maybe"}) is not None
