"""Replay the request examples of CLN's schemas against stand-in nodes (spec §g.5).

The examples come from a regtest run whose ids and labels do not exist here, so a
command may refuse them; a refusal must then be a well-formed CLN error. Whatever is
answered must fit the command's response schema.
"""

from __future__ import annotations

from typing import Any

import pytest
from pyln.client import RpcError

from lnhive.sim.network.commands import COMMANDS as MODEL_COMMANDS
from lnhive.sim.testing import NodeFactory
from tests.schemas import load_schema, requires_schemas, schemas_available, validate_response

# Commands whose examples would end the test network or need what it lacks.
SKIP = {
    "stop",
    "close",
    "fundchannel",
    "withdraw",
    "waitinvoice",
    "waitsendpay",
    "plugin",
    "setconfig",
}
# Upstream examples known not to satisfy their own schema (cln-schemas/SOURCE.md).
BAD_EXAMPLES = {("listconfigs", 0)}
# Commands with at least one example that needs no state from the upstream run: the
# stand-in must answer it, and the answer must fit the schema.
MUST_ANSWER = {
    "blacklistrune", "createrune", "datastore", "datastoreusage", "decode", "feerates",
    "getinfo", "help", "invoice", "listchannels", "listclosedchannels", "listconfigs",
    "listdatastore", "listforwards", "listfunds", "listhtlcs", "listinvoices", "listnodes",
    "listpays", "listpeerchannels", "listpeers", "listsendpays", "makesecret", "newaddr",
    "showrunes", "signmessage", "checkmessage",
}  # fmt: skip


def _methods() -> list[str]:
    served = set(MODEL_COMMANDS) | {
        "help",
        "listconfigs",
        "createrune",
        "checkrune",
        "showrunes",
        "blacklistrune",
    }
    if not schemas_available():
        return sorted(served)
    return sorted(m for m in served - SKIP if load_schema(m).get("examples"))


@requires_schemas
@pytest.mark.parametrize("method", _methods())
def test_schema_examples_replay(node_factory: NodeFactory, method: str) -> None:
    l1, _l2 = node_factory.line_graph(2)
    answered = 0
    for i, example in enumerate(load_schema(method)["examples"]):
        if (method, i) in BAD_EXAMPLES:
            continue
        params: Any = example["request"]["params"]
        try:
            out = l1.rpc.call(method, params)
        except RpcError as exc:
            err = exc.error
            assert isinstance(err.get("code"), int) and err.get("message"), err
            assert err["code"] != -1 or "internal error" not in err["message"], err
            continue
        validate_response(method, out)
        answered += 1
    if method in MUST_ANSWER:
        assert answered >= 1, f"no example of {method} was answered"
