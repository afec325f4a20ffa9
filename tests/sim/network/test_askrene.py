"""askrene layers in the model: create/update/list/remove, and getroutes avoiding what a
layer disables (the circular rebalancer's exclusion layer)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from lnhive.core.clock import VirtualClock
from lnhive.sim.errors import INVALID_PARAMS, RpcError
from lnhive.sim.network import InProcessNode, Network
from tests.schemas import requires_schemas, validate_response


def _ring() -> tuple[Network, dict[str, str], dict[str, str]]:
    """a-b, b-c, c-a and b-d, d-c: two ways from b to c besides the direct channel."""
    clock = VirtualClock()
    net = Network(clock, seed=3, gossip_delay=60.0)
    ids = {n: net.add_node(n) for n in "abcd"}
    scids = {}
    for left, right in (("a", "b"), ("b", "c"), ("c", "a"), ("b", "d"), ("d", "c")):
        scids[left + right] = net.open_channel(left, right, 1_000_000).scid or ""
    clock.advance(120)
    return net, ids, scids


def _path(answer: dict[str, object]) -> list[str]:
    routes = answer["routes"]
    assert isinstance(routes, list)
    return [p["short_channel_id_dir"].split("/")[0] for p in routes[0]["path"]]


def test_layer_lifecycle_and_errors() -> None:
    net, _, scids = _ring()
    a = InProcessNode(net, "a")
    created = a.call("askrene-create-layer", {"layer": "x"})
    assert created["layers"][0]["layer"] == "x" and created["layers"][0]["persistent"] is False
    with pytest.raises(RpcError) as dup:
        a.call("askrene-create-layer", {"layer": "x"})
    assert dup.value.code == INVALID_PARAMS and dup.value.message == "Layer already exists"
    with pytest.raises(RpcError) as auto:
        a.call("askrene-create-layer", {"layer": "auto.mine"})
    assert auto.value.message == "Cannot create auto layer"
    a.call(
        "askrene-update-channel",
        {"layer": "x", "short_channel_id_dir": f"{scids['bc']}/0", "enabled": False},
    )
    listed = a.call("askrene-listlayers", {"layer": "x"})["layers"]
    assert listed[0]["channel_updates"] == [
        {"short_channel_id_dir": f"{scids['bc']}/0", "enabled": False}
    ]
    assert a.call("askrene-listlayers", {})["layers"][0]["layer"] == "x"
    assert a.call("askrene-listlayers", {"layer": "nope"}) == {"layers": []}
    assert a.call("askrene-remove-layer", {"layer": "x"}) == {}
    with pytest.raises(RpcError) as gone:
        a.call("askrene-remove-layer", {"layer": "x"})
    assert "Unknown layer" in gone.value.message
    with pytest.raises(RpcError) as upd:
        a.call("askrene-update-channel", {"layer": "x", "short_channel_id_dir": f"{scids['bc']}/0"})
    assert "Unknown layer" in upd.value.message


def test_layers_are_per_node() -> None:
    net, _, _ = _ring()
    InProcessNode(net, "a").call("askrene-create-layer", {"layer": "x"})
    assert InProcessNode(net, "b").call("askrene-listlayers", {}) == {"layers": []}


def test_getroutes_avoids_disabled_channels_and_rejects_unknown_layers() -> None:
    net, ids, scids = _ring()
    a = InProcessNode(net, "a")
    args: dict[str, Any] = {
        "source": ids["b"],
        "destination": ids["c"],
        "amount_msat": 100_000,
        "maxfee_msat": 100_000,
        "final_cltv": 18,
    }
    assert _path(a.getroutes(layers=[], **args)) == [scids["bc"]]
    a.call("askrene-create-layer", {"layer": "ex"})
    for scid, direction in itertools.product((scids["bc"],), (0, 1)):
        a.call(
            "askrene-update-channel",
            {"layer": "ex", "short_channel_id_dir": f"{scid}/{direction}", "enabled": False},
        )
    routed = _path(a.getroutes(layers=["ex", "auto.localchans"], **args))
    assert scids["bc"] not in routed and routed[-1] in (scids["dc"], scids["ca"])
    a.call(
        "askrene-update-channel",
        {"layer": "ex", "short_channel_id_dir": f"{scids['bd']}/0", "enabled": False},
    )
    a.call(
        "askrene-update-channel",
        {"layer": "ex", "short_channel_id_dir": f"{scids['bd']}/1", "enabled": False},
    )
    a.call(
        "askrene-update-channel",
        {"layer": "ex", "short_channel_id_dir": f"{scids['ab']}/0", "enabled": False},
    )
    a.call(
        "askrene-update-channel",
        {"layer": "ex", "short_channel_id_dir": f"{scids['ab']}/1", "enabled": False},
    )
    with pytest.raises(RpcError) as none:
        a.getroutes(layers=["ex"], **args)
    assert none.value.message == "Could not find route"
    with pytest.raises(RpcError) as unknown:
        a.getroutes(layers=["missing"], **args)
    assert unknown.value.code == INVALID_PARAMS
    assert unknown.value.message == "layers: unknown layer: invalid token '\"missing\"'"


def test_getroutes_probability_follows_askrenes_uniform_model() -> None:
    """No learned liquidity: each hop succeeds with 1 - amount / capacity for the amount it
    carries, the route with the product, reported as truncated ppm (route and top level);
    with ``auto.localchans`` the querying node's own first hop is known (certain here)."""
    net, ids, scids = _ring()
    a = InProcessNode(net, "a")
    args: dict[str, Any] = {
        "destination": ids["c"],
        "amount_msat": 250_000_000,
        "maxfee_msat": 10_000_000,
        "final_cltv": 18,
    }
    direct = a.getroutes(source=ids["b"], layers=[], **args)
    assert _path(direct) == [scids["bc"]]
    assert direct["probability_ppm"] == direct["routes"][0]["probability_ppm"] == 750_000
    a.call("askrene-create-layer", {"layer": "ex"})
    for direction in (0, 1):
        a.call(
            "askrene-update-channel",
            {"layer": "ex", "short_channel_id_dir": f"{scids['bc']}/{direction}", "enabled": False},
        )
    detour = a.getroutes(source=ids["b"], layers=["ex"], **args)
    hops = detour["routes"][0]["path"]
    assert [h["short_channel_id_dir"].split("/")[0] for h in hops] == [scids["bd"], scids["dc"]]
    assert hops[0]["amount_out_msat"] > 250_000_000 == hops[1]["amount_out_msat"]
    expected = (1 - hops[0]["amount_out_msat"] / 1e9) * (1 - hops[1]["amount_out_msat"] / 1e9)
    assert detour["probability_ppm"] == int(expected * 1_000_000) < 750_000
    # from a itself: a's side of c-a is empty, so a -> b -> c; a -> b is ours
    unknown = a.getroutes(source=ids["a"], layers=[], **args)
    known = a.getroutes(source=ids["a"], layers=["auto.localchans"], **args)
    assert _path(known) == _path(unknown) == [scids["ab"], scids["bc"]]
    assert known["probability_ppm"] == 750_000 > unknown["probability_ppm"]
    most = a.getroutes(source=ids["b"], layers=[], **{**args, "amount_msat": 500_000_000})
    assert most["probability_ppm"] == 500_000


@requires_schemas
def test_askrene_results_fit_the_schemas() -> None:
    net, _, scids = _ring()
    a = InProcessNode(net, "a")
    validate_response("askrene-create-layer", a.call("askrene-create-layer", {"layer": "s"}))
    validate_response(
        "askrene-update-channel",
        a.call(
            "askrene-update-channel",
            {
                "layer": "s",
                "short_channel_id_dir": f"{scids['ab']}/1",
                "enabled": False,
                "fee_proportional_millionths": 7,
            },
        ),
    )
    validate_response("askrene-listlayers", a.call("askrene-listlayers", {}))
    validate_response("askrene-remove-layer", a.call("askrene-remove-layer", {"layer": "s"}))
