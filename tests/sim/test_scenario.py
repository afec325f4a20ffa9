"""Scenario files: parsing, defaults, built-ins, and an error naming file, table and key
for every kind of bad input."""

from __future__ import annotations

import random
import statistics
from pathlib import Path

import pytest

from lnhive.sim.scenario import (
    AmountSpec,
    ScenarioError,
    builtin_scenarios,
    load_scenario,
    parse_scenario,
)

HEAD = '[scenario]\nname = "t"\n'
NODES = HEAD + '[[node]]\nname = "a"\n[[node]]\nname = "b"\n'


def write(tmp_path: Path, text: str, name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_minimal_scenario_defaults(tmp_path: Path) -> None:
    s = load_scenario(write(tmp_path, HEAD + '[[node]]\nname = "solo"\n'))
    assert s.name == "t"
    assert s.seed == 0
    assert s.developer is True
    assert s.allow_deprecated_apis is True
    assert s.block_interval_s is None
    assert s.channels == ()
    assert s.traffic is None
    (node,) = s.nodes
    assert (node.name, node.alias, node.color, node.plugins, node.rest) == (
        "solo",
        None,
        None,
        (),
        False,
    )
    assert s.source == (tmp_path / "s.toml").resolve()


def test_full_scenario(tmp_path: Path) -> None:
    plugin = tmp_path / "plugins" / "p.py"
    plugin.parent.mkdir()
    plugin.write_text("#!/bin/sh\n")
    plugin.chmod(0o755)
    text = """
[scenario]
name = "full"
seed = "words work too"
developer = false
allow_deprecated_apis = false
block_interval_s = 2.5

[[node]]
name = "alice"
alias = "ALICE"
color = "ff00aa"
rest = true
plugins = [
  { path = "plugins/p.py", options = { p-num = 3, p-flag = true, p-multi = ["x", "y"] }, important = true },
  { path = "lnhive:echo" },
]

[[node]]
name = "bob"

[[channel]]
from = "alice"
to = "bob"
capacity_sat = 500_000
push_msat = 1_000
announce = false

[traffic]
rate_per_s = 2
amount_msat = { distribution = "lognormal", median = 5000, sigma = 0.5, min = 100, max = 90000 }
count = 7
duration_s = 3
seed = 9
mode = "invoice"
concurrency = 2
nodes = ["alice", "bob"]
"""
    s = load_scenario(write(tmp_path, text))
    assert (s.seed, s.developer, s.allow_deprecated_apis, s.block_interval_s) == (
        "words work too",
        False,
        False,
        2.5,
    )
    alice = s.nodes[0]
    assert (alice.alias, alice.color, alice.rest) == ("ALICE", "ff00aa", True)
    p0, p1 = alice.plugins
    assert p0.path == str(plugin)
    assert p0.options == {"p-num": 3, "p-flag": True, "p-multi": ["x", "y"]}
    assert p0.important is True
    assert p1.path.endswith("lnhive/sim/plugins/echo.py") and not p1.important
    (chan,) = s.channels
    assert (chan.source, chan.dest, chan.capacity_sat, chan.push_msat, chan.announce) == (
        "alice",
        "bob",
        500_000,
        1_000,
        False,
    )
    t = s.traffic
    assert t is not None
    assert (t.rate_per_s, t.count, t.duration_s, t.seed, t.mode, t.concurrency, t.nodes) == (
        2.0,
        7,
        3.0,
        9,
        "invoice",
        2,
        ("alice", "bob"),
    )
    assert t.amount_msat == AmountSpec("lognormal", 100, 90000, 5000.0, 0.5)
    config = s.node_config(alice)
    assert config.developer is False and config.allow_deprecated_apis is False
    assert config.rest_port == 0 and config.alias == "ALICE"
    assert [p.path for p in config.plugins] == [p0.path, p1.path]
    assert config.plugins[0].important is True
    assert s.node_config(s.nodes[1]).rest_port is None


def test_absolute_plugin_path(tmp_path: Path) -> None:
    plugin = tmp_path / "abs.py"
    plugin.write_text("#!/bin/sh\n")
    plugin.chmod(0o755)
    elsewhere = tmp_path / "sub"
    elsewhere.mkdir()
    text = HEAD + f'[[node]]\nname = "a"\nplugins = [{{ path = "{plugin}" }}]\n'
    s = load_scenario(write(elsewhere, text))
    assert s.nodes[0].plugins[0].path == str(plugin)


@pytest.mark.parametrize("name", ["demo", "two_nodes"])
def test_builtins_load(name: str) -> None:
    assert name in builtin_scenarios()
    s = load_scenario(name)
    assert s.name == name
    assert s.developer is True
    names = {n.name for n in s.nodes}
    for chan in s.channels:
        assert {chan.source, chan.dest} <= names
    for node in s.nodes:
        assert [Path(p.path).name for p in node.plugins] == ["echo.py"]
    assert s.traffic is not None


def test_demo_shape() -> None:
    s = load_scenario("demo")
    assert len(s.nodes) == 8
    pairs = [(c.source, c.dest) for c in s.channels]
    names = [n.name for n in s.nodes]
    ring = list(zip(names, names[1:] + names[:1], strict=True))
    assert all(p in pairs for p in ring), "the demo is a ring"
    assert len(pairs) > len(ring), "plus chords"


def test_two_nodes_shape() -> None:
    s = load_scenario("two_nodes")
    assert [n.name for n in s.nodes] == ["alice", "bob"]
    assert len(s.channels) == 1


def test_unknown_builtin_names_the_builtins() -> None:
    with pytest.raises(ScenarioError, match=r"no built-in scenario.*demo.*two_nodes"):
        load_scenario("nosuch")


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read scenario"):
        load_scenario(tmp_path / "missing.toml")


# Each case: TOML text, then the table and key the error must name, then the problem.
BAD: list[tuple[str, str, str, str]] = [
    ("[scenario\n", "", "", "invalid TOML"),
    ('[[node]]\nname = "a"\n', "top level", "scenario", "missing"),
    (HEAD + '[[node]]\nname = "a"\n[extra]\n', "top level", "extra", "unknown key"),
    (HEAD + "nodes = 1\n", "[scenario]", "nodes", "unknown key"),
    ("[scenario]\nseed = 1\n", "[scenario]", "name", "missing"),
    ("[scenario]\nname = 3\n", "[scenario]", "name", "expected a string, got an integer"),
    (HEAD + "seed = 1.5\n", "[scenario]", "seed", "expected an integer or a string"),
    (HEAD + 'developer = "yes"\n', "[scenario]", "developer", "expected true or false"),
    (HEAD + "allow_deprecated_apis = 1\n", "[scenario]", "allow_deprecated_apis", "true or false"),
    (HEAD + "block_interval_s = 0\n", "[scenario]", "block_interval_s", "greater than 0"),
    (HEAD + 'block_interval_s = "1"\n', "[scenario]", "block_interval_s", "expected a number"),
    (HEAD, "top level", "node", "missing"),
    ('node = "a"\n' + HEAD, "top level", "node", "expected an array of tables"),
    (HEAD + '[[node]]\nalias = "x"\n', "[[node]] #1", "name", "missing"),
    (HEAD + '[[node]]\nname = "a"\nport = 1\n', "[[node]] #1 ('a')", "port", "unknown key"),
    (HEAD + '[[node]]\nname = "a/b"\n', "[[node]] #1 ('a/b')", "name", "letters, digits"),
    (
        HEAD + '[[node]]\nname = "a"\n[[node]]\nname = "a"\n',
        "[[node]] #2 ('a')",
        "name",
        "duplicate",
    ),
    (HEAD + '[[node]]\nname = "a"\nalias = "' + "x" * 33 + '"\n', "('a')", "alias", "32 bytes"),
    (HEAD + '[[node]]\nname = "a"\ncolor = "red"\n', "('a')", "color", "6 hex digits"),
    (HEAD + '[[node]]\nname = "a"\nrest = "no"\n', "('a')", "rest", "true or false"),
    (HEAD + '[[node]]\nname = "a"\nplugins = "lnhive:echo"\n', "('a')", "plugins", "array"),
    (
        HEAD + '[[node]]\nname = "a"\nplugins = [{ path = "lnhive:echo", opts = {} }]\n',
        "('a') plugins[0]",
        "opts",
        "unknown key",
    ),
    (
        HEAD + '[[node]]\nname = "a"\nplugins = [{ important = true }]\n',
        "plugins[0]",
        "path",
        "missing",
    ),
    (
        HEAD + '[[node]]\nname = "a"\nplugins = [{ path = "nope.py" }]\n',
        "plugins[0]",
        "path",
        "not found",
    ),
    (
        HEAD + '[[node]]\nname = "a"\nplugins = [{ path = "lnhive:nope" }]\n',
        "plugins[0]",
        "path",
        "unknown bundled plugin 'lnhive:nope' (bundled: lnhive:echo)",
    ),
    (
        HEAD + '[[node]]\nname = "a"\nplugins = [{ path = "lnhive:echo", options = 3 }]\n',
        "plugins[0]",
        "options",
        "expected a table",
    ),
    (
        HEAD
        + '[[node]]\nname = "a"\nplugins = [{ path = "lnhive:echo", options = { x = { y = 1 } } }]\n',
        "plugins[0]",
        "options.x",
        "expected a string, number, boolean",
    ),
    (
        HEAD + '[[node]]\nname = "a"\nplugins = [{ path = "lnhive:echo", important = "yes" }]\n',
        "plugins[0]",
        "important",
        "true or false",
    ),
    (
        NODES + '[[channel]]\nfrom = "a"\nto = "zed"\ncapacity_sat = 100000\n',
        "[[channel]] #1",
        "to",
        "unknown node 'zed' (nodes: a, b)",
    ),
    (
        NODES + '[[channel]]\nfrom = "x"\nto = "a"\ncapacity_sat = 100000\n',
        "[[channel]] #1",
        "from",
        "unknown node 'x'",
    ),
    (
        NODES + '[[channel]]\nfrom = "a"\nto = "a"\ncapacity_sat = 100000\n',
        "[[channel]] #1",
        "to",
        "two different nodes",
    ),
    (NODES + '[[channel]]\nfrom = "a"\nto = "b"\n', "[[channel]] #1", "capacity_sat", "missing"),
    (
        NODES + '[[channel]]\nfrom = "a"\nto = "b"\ncapacity_sat = "1M"\n',
        "[[channel]] #1",
        "capacity_sat",
        "expected an integer, got a string",
    ),
    (
        NODES + '[[channel]]\nfrom = "a"\nto = "b"\ncapacity_sat = 1e6\n',
        "[[channel]] #1",
        "capacity_sat",
        "expected an integer, got a float",
    ),
    (
        NODES + '[[channel]]\nfrom = "a"\nto = "b"\ncapacity_sat = true\n',
        "[[channel]] #1",
        "capacity_sat",
        "expected an integer, got a boolean",
    ),
    (
        NODES + '[[channel]]\nfrom = "a"\nto = "b"\ncapacity_sat = 9999\n',
        "[[channel]] #1",
        "capacity_sat",
        "out of range [10000,",
    ),
    (
        NODES + '[[channel]]\nfrom = "a"\nto = "b"\ncapacity_sat = 30_000_000_000_000_000\n',
        "[[channel]] #1",
        "capacity_sat",
        "out of range",
    ),
    (
        NODES + '[[channel]]\nfrom = "a"\nto = "b"\ncapacity_sat = 10000\npush_msat = 10000001\n',
        "[[channel]] #1",
        "push_msat",
        "out of range [0, 10000000]",
    ),
    (
        NODES + '[[channel]]\nfrom = "a"\nto = "b"\ncapacity_sat = 10000\npush_msat = -1\n',
        "[[channel]] #1",
        "push_msat",
        "out of range",
    ),
    (
        NODES + '[[channel]]\nfrom = "a"\nto = "b"\ncapacity_sat = 10000\nannounce = 1\n',
        "[[channel]] #1",
        "announce",
        "true or false",
    ),
    (
        NODES + '[[channel]]\nfrom = "a"\nto = "b"\ncapacity_sat = 10000\nfee = 1\n',
        "[[channel]] #1",
        "fee",
        "unknown key",
    ),
    (
        NODES + '[[channel]]\nfrom = "a"\nto = "b"\ncapacity_sat = 10000\n[[channel]]\nfrom = 1\n',
        "[[channel]] #2",
        "from",
        "expected a string",
    ),
    ("channel = 3\n" + NODES, "top level", "channel", "expected an array of tables"),
    (NODES + "[traffic]\namount_msat = 1000\n", "[traffic]", "rate_per_s", "missing"),
    (
        NODES + "[traffic]\nrate_per_s = 0\namount_msat = 1000\n",
        "[traffic]",
        "rate_per_s",
        "greater than 0",
    ),
    (NODES + "[traffic]\nrate_per_s = 1\n", "[traffic]", "amount_msat", "missing"),
    (
        NODES + "[traffic]\nrate_per_s = 1\namount_msat = 0\n",
        "[traffic]",
        "amount_msat",
        "out of range",
    ),
    (
        NODES + '[traffic]\nrate_per_s = 1\namount_msat = "1000msat"\n',
        "[traffic]",
        "amount_msat",
        "expected an integer or a table",
    ),
    (
        NODES + "[traffic]\nrate_per_s = 1\namount_msat = { min = 5 }\n",
        "[traffic] amount_msat",
        "max",
        "missing",
    ),
    (
        NODES + "[traffic]\nrate_per_s = 1\namount_msat = { min = 5, max = 4 }\n",
        "[traffic] amount_msat",
        "max",
        "below min",
    ),
    (
        NODES + "[traffic]\nrate_per_s = 1\namount_msat = { min = 5, max = 9, mean = 7 }\n",
        "[traffic] amount_msat",
        "mean",
        "unknown key",
    ),
    (
        NODES
        + '[traffic]\nrate_per_s = 1\namount_msat = { distribution = "pareto", min = 5, max = 9 }\n',
        "[traffic] amount_msat",
        "distribution",
        "'uniform' or 'lognormal'",
    ),
    (
        NODES
        + '[traffic]\nrate_per_s = 1\namount_msat = { distribution = "lognormal", min = 5, max = 9, median = 7 }\n',
        "[traffic] amount_msat",
        "sigma",
        "missing",
    ),
    (
        NODES
        + '[traffic]\nrate_per_s = 1\namount_msat = { distribution = "lognormal", min = 5, max = 9, median = 70, sigma = 1 }\n',
        "[traffic] amount_msat",
        "median",
        "outside [min, max]",
    ),
    (
        NODES + "[traffic]\nrate_per_s = 1\namount_msat = { min = 5, max = 9, sigma = 1 }\n",
        "[traffic] amount_msat",
        "sigma",
        "only for distribution",
    ),
    (
        NODES + '[traffic]\nrate_per_s = 1\namount_msat = 1\nmode = "pay"\n',
        "[traffic]",
        "mode",
        "'keysend' or 'invoice'",
    ),
    (
        NODES + "[traffic]\nrate_per_s = 1\namount_msat = 1\ncount = 0\n",
        "[traffic]",
        "count",
        "out of range",
    ),
    (
        NODES + "[traffic]\nrate_per_s = 1\namount_msat = 1\nduration_s = -1\n",
        "[traffic]",
        "duration_s",
        "greater than 0",
    ),
    (
        NODES + "[traffic]\nrate_per_s = 1\namount_msat = 1\nconcurrency = 0\n",
        "[traffic]",
        "concurrency",
        "out of range",
    ),
    (
        NODES + '[traffic]\nrate_per_s = 1\namount_msat = 1\nnodes = ["a", "q"]\n',
        "[traffic]",
        "nodes",
        "unknown node 'q'",
    ),
    (
        NODES + '[traffic]\nrate_per_s = 1\namount_msat = 1\nnodes = ["a"]\n',
        "[traffic]",
        "nodes",
        "at least two",
    ),
    (
        NODES + "[traffic]\nrate_per_s = 1\namount_msat = 1\nburst = 1\n",
        "[traffic]",
        "burst",
        "unknown key",
    ),
]


@pytest.mark.parametrize(("text", "table", "key", "problem"), BAD)
def test_bad_input_names_file_table_key(
    tmp_path: Path, text: str, table: str, key: str, problem: str
) -> None:
    path = write(tmp_path, text, "bad.toml")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert message.startswith(f"{path.resolve()}: "), message
    assert table in message, message
    if key:
        assert f": {key}: " in message, message
    assert problem in message, message


def test_not_executable_plugin(tmp_path: Path) -> None:
    (tmp_path / "p.py").write_text("print()\n")
    text = HEAD + '[[node]]\nname = "a"\nplugins = [{ path = "p.py" }]\n'
    with pytest.raises(
        ScenarioError, match=r"\[\[node\]\] #1 \('a'\) plugins\[0\]: path: .*not executable"
    ):
        parse_scenario(text, tmp_path / "s.toml")


def test_amount_fixed_and_uniform() -> None:
    rng = random.Random(1)
    assert {AmountSpec("fixed", 7, 7).sample(rng) for _ in range(10)} == {7}
    uniform = AmountSpec("uniform", 10, 20)
    draws = [uniform.sample(rng) for _ in range(500)]
    assert min(draws) == 10 and max(draws) == 20
    assert len(set(draws)) == 11


def test_amount_lognormal_median_and_clip() -> None:
    spec = AmountSpec("lognormal", 1_000, 100_000, median=10_000, sigma=1.0)
    draws = [spec.sample(random.Random(s)) for s in range(2000)]
    assert all(isinstance(d, int) and 1_000 <= d <= 100_000 for d in draws)
    assert 8_500 < statistics.median(draws) < 11_500
    assert draws.count(1_000) > 0 and draws.count(100_000) > 0, "tails are clipped"
    # Seeded: the same draws again.
    assert draws == [spec.sample(random.Random(s)) for s in range(2000)]
