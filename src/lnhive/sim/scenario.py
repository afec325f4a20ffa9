"""Scenarios: which nodes to start, with which plugins, which channels to open, and traffic.

A scenario is a TOML file (ARCHITECTURE §4); the built-in ones live in
``lnhive/sim/scenarios/`` and load by name (``load_scenario("demo")``). Every error
names the file, the table and the key, so a typo is found without reading code::

    demo.toml: [[channel]] #3: to: unknown node 'zed' (nodes: alice, bob)

The format is documented in ``docs/sim-cli.md``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import math
import os
import random
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from lnhive.sim.host import PluginSpec
from lnhive.sim.node import NodeConfig

if TYPE_CHECKING:
    from lnhive.sim.runtime import SimRuntime

BUILTIN_DIR = Path(__file__).parent / "scenarios"
#: Plugins shipped with the package, named `lnhive:<name>` in a scenario.
BUNDLED_PLUGINS = {"echo": "lnhive.sim.plugins.echo"}
#: The model refuses smaller channels (network.model.MIN_CAPACITY_SAT).
MIN_CAPACITY_SAT = 10_000
#: 21 million bitcoin: anything above is a typo.
MAX_SAT = 21_000_000 * 100_000_000
NODE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
COLOR = re.compile(r"^[0-9a-fA-F]{6}$")

Distribution = Literal["fixed", "uniform", "lognormal"]
PaymentMode = Literal["keysend", "invoice"]


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names file, table and key."""


# ---------------------------------------------------------------------------- model


@dataclass(frozen=True)
class PluginEntry:
    path: str  # resolved: an absolute path to an executable file
    options: dict[str, Any] = field(default_factory=dict)
    important: bool = False

    def spec(self) -> PluginSpec:
        return PluginSpec(self.path, dict(self.options), self.important)


@dataclass(frozen=True)
class NodeSpec:
    name: str
    alias: str | None = None
    color: str | None = None
    plugins: tuple[PluginEntry, ...] = ()
    rest: bool = False


@dataclass(frozen=True)
class ChannelSpec:
    source: str  # `from` in the file
    dest: str  # `to` in the file
    capacity_sat: int
    push_msat: int = 0
    announce: bool = True


@dataclass(frozen=True)
class AmountSpec:
    """Payment sizes in msat: fixed, uniform in [min, max], or lognormal clipped to it."""

    distribution: Distribution
    min: int
    max: int
    median: float | None = None
    sigma: float | None = None

    def sample(self, rng: random.Random) -> int:
        if self.distribution == "fixed" or self.min == self.max:
            return self.min
        if self.distribution == "uniform":
            return rng.randint(self.min, self.max)
        assert self.median is not None and self.sigma is not None
        value = rng.lognormvariate(math.log(self.median), self.sigma)
        return max(self.min, min(self.max, round(value)))

    __call__ = sample


@dataclass(frozen=True)
class TrafficSpec:
    rate_per_s: float
    amount_msat: AmountSpec
    duration_s: float | None = None
    count: int | None = None
    seed: int = 0
    mode: PaymentMode = "keysend"
    concurrency: int = 8
    nodes: tuple[str, ...] = ()  # the endpoints; empty means every node


@dataclass(frozen=True)
class Scenario:
    name: str
    source: Path
    seed: int | str = 0
    developer: bool = True
    allow_deprecated_apis: bool = True
    block_interval_s: float | None = None
    nodes: tuple[NodeSpec, ...] = ()
    channels: tuple[ChannelSpec, ...] = ()
    traffic: TrafficSpec | None = None

    def node_config(self, node: NodeSpec) -> NodeConfig:
        return NodeConfig(
            name=node.name,
            alias=node.alias,
            color=node.color,
            developer=self.developer,
            allow_deprecated_apis=self.allow_deprecated_apis,
            plugins=[p.spec() for p in node.plugins],
            rest_port=0 if node.rest else None,
        )

    def endpoints(self) -> list[str]:
        if self.traffic is not None and self.traffic.nodes:
            return list(self.traffic.nodes)
        return [n.name for n in self.nodes]


# ---------------------------------------------------------------------------- reading

_MISSING: Any = object()


class _Table:
    """One TOML table being read: typed getters that raise ScenarioError naming file,
    table and key; unknown keys are refused up front."""

    def __init__(self, file: Path, label: str, data: Any, allowed: set[str]) -> None:
        self.file = file
        self.label = label
        if not isinstance(data, dict):
            raise self.error(None, f"expected a table, got {_kind(data)}")
        self.data: dict[str, Any] = data
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise self.error(unknown[0], f"unknown key (allowed: {', '.join(sorted(allowed))})")

    def error(self, key: str | None, problem: str) -> ScenarioError:
        where = f"{self.file}: {self.label}"
        return ScenarioError(f"{where}: {key}: {problem}" if key else f"{where}: {problem}")

    def has(self, key: str) -> bool:
        return key in self.data

    def _get(self, key: str, default: Any) -> Any:
        if key in self.data:
            return self.data[key]
        if default is _MISSING:
            raise self.error(key, "missing (required)")
        return default

    def get_str(self, key: str, default: Any = _MISSING) -> Any:
        value = self._get(key, default)
        if value is not default and not isinstance(value, str):
            raise self.error(key, f"expected a string, got {_kind(value)}")
        return value

    def get_bool(self, key: str, default: Any = _MISSING) -> Any:
        value = self._get(key, default)
        if value is not default and not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {_kind(value)}")
        return value

    def get_int(self, key: str, default: Any = _MISSING, *, lo: int = 0, hi: int = MAX_SAT) -> Any:
        value = self._get(key, default)
        if value is default:
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"expected an integer, got {_kind(value)}")
        if not lo <= value <= hi:
            raise self.error(key, f"{value} is out of range [{lo}, {hi}]")
        return value

    def get_number(self, key: str, default: Any = _MISSING, *, positive: bool = True) -> Any:
        value = self._get(key, default)
        if value is default:
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(key, f"expected a number, got {_kind(value)}")
        if not math.isfinite(value) or (positive and value <= 0):
            raise self.error(key, f"expected a number greater than 0, got {value}")
        return float(value)


def _kind(value: Any) -> str:
    names = {
        bool: "a boolean",
        int: "an integer",
        float: "a float",
        str: "a string",
        list: "an array",
        dict: "a table",
    }
    return names.get(type(value), type(value).__name__)


def builtin_scenarios() -> list[str]:
    """Names of the scenarios shipped in lnhive/sim/scenarios/."""
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.toml"))


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load a built-in scenario by name (``"demo"``) or a scenario file by path."""
    path = Path(name_or_path)
    if not path.suffix and not path.exists() and isinstance(name_or_path, str):
        builtin = BUILTIN_DIR / f"{name_or_path}.toml"
        if not builtin.exists():
            raise ScenarioError(
                f"no scenario file {name_or_path!r} and no built-in scenario of that name "
                f"(built-in: {', '.join(builtin_scenarios())})"
            )
        path = builtin
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read scenario: {exc.strerror or exc}") from None
    return parse_scenario(text, path)


def parse_scenario(text: str, source: Path) -> Scenario:
    """Parse scenario TOML; ``source`` names the file in errors and anchors relative paths."""
    source = Path(source).resolve()
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{source}: invalid TOML: {exc}") from None
    top = _Table(source, "top level", doc, {"scenario", "node", "channel", "traffic"})
    if not top.has("scenario"):
        raise top.error("scenario", "missing (required): a [scenario] table with a name")
    head = _Table(
        source,
        "[scenario]",
        doc["scenario"],
        {"name", "seed", "developer", "allow_deprecated_apis", "block_interval_s"},
    )
    name = head.get_str("name")
    seed = head._get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, (int, str)):
        raise head.error("seed", f"expected an integer or a string, got {_kind(seed)}")
    developer = head.get_bool("developer", True)
    allow_deprecated_apis = head.get_bool("allow_deprecated_apis", True)
    block_interval_s = head.get_number("block_interval_s", None)
    nodes = _read_nodes(source, top, doc.get("node", _MISSING))
    names = [n.name for n in nodes]
    channels = _read_channels(source, doc.get("channel", []), names)
    traffic = None
    if "traffic" in doc:
        traffic = _read_traffic(_Table(source, "[traffic]", doc["traffic"], _TRAFFIC_KEYS), names)
    return Scenario(
        name=name,
        source=source,
        seed=seed,
        developer=developer,
        allow_deprecated_apis=allow_deprecated_apis,
        block_interval_s=block_interval_s,
        nodes=tuple(nodes),
        channels=tuple(channels),
        traffic=traffic,
    )


def _array(top: _Table, key: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise top.error(key, f"expected an array of tables ([[{key}]]), got {_kind(value)}")
    return value


def _read_nodes(source: Path, top: _Table, raw: Any) -> list[NodeSpec]:
    if raw is _MISSING:
        raise top.error("node", "missing (required): at least one [[node]]")
    items = _array(top, "node", raw)
    if not items:
        raise top.error("node", "at least one [[node]] is required")
    nodes: list[NodeSpec] = []
    seen: set[str] = set()
    for i, item in enumerate(items, start=1):
        label = f"[[node]] #{i}"
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            label += f" ({item['name']!r})"
        t = _Table(source, label, item, {"name", "alias", "color", "plugins", "rest"})
        name = t.get_str("name")
        if not NODE_NAME.match(name):
            raise t.error(
                "name", "must be 1-32 letters, digits, '-' or '_', not starting with '-' or '_'"
            )
        if name in seen:
            raise t.error("name", f"duplicate node name {name!r}")
        seen.add(name)
        alias = t.get_str("alias", None)
        if alias is not None and len(alias.encode()) > 32:
            raise t.error("alias", "longer than 32 bytes")
        color = t.get_str("color", None)
        if color is not None and not COLOR.match(color):
            raise t.error("color", f"expected 6 hex digits (RRGGBB), got {color!r}")
        plugins_raw = t._get("plugins", [])
        if not isinstance(plugins_raw, list):
            raise t.error("plugins", f"expected an array of tables, got {_kind(plugins_raw)}")
        plugins = tuple(
            _read_plugin(source, _Table(source, f"{t.label} plugins[{j}]", p, _PLUGIN_KEYS))
            for j, p in enumerate(plugins_raw)
        )
        nodes.append(NodeSpec(name, alias, color, plugins, t.get_bool("rest", False)))
    return nodes


_PLUGIN_KEYS = {"path", "options", "important"}


def _read_plugin(source: Path, t: _Table) -> PluginEntry:
    raw = t.get_str("path")
    path = resolve_plugin_path(raw, source.parent, lambda problem: t.error("path", problem))
    options = t._get("options", {})
    if not isinstance(options, dict):
        raise t.error("options", f"expected a table of option values, got {_kind(options)}")
    for key, value in options.items():
        if isinstance(value, dict) or (
            isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value)
        ):
            raise t.error(
                f"options.{key}",
                "expected a string, number, boolean or an array of them (multi options)",
            )
    return PluginEntry(path, dict(options), t.get_bool("important", False))


def resolve_plugin_path(
    raw: str, base: Path, error: Any = lambda problem: ScenarioError(problem)
) -> str:
    """`lnhive:<name>` (a bundled plugin), an absolute path, or one relative to ``base``."""
    if raw.startswith("lnhive:"):
        module = BUNDLED_PLUGINS.get(raw.removeprefix("lnhive:"))
        spec = importlib.util.find_spec(module) if module else None
        if spec is None or spec.origin is None:
            known = ", ".join(f"lnhive:{n}" for n in sorted(BUNDLED_PLUGINS))
            raise error(f"unknown bundled plugin {raw!r} (bundled: {known})")
        return spec.origin
    path = Path(raw).expanduser()
    if not path.is_absolute():
        path = base / path
    if not path.is_file():
        raise error(f"plugin {raw!r} not found (looked at {path})")
    if not os.access(path, os.X_OK):
        raise error(f"plugin {path} is not executable (chmod +x it)")
    return str(path)


def _read_channels(source: Path, raw: Any, names: list[str]) -> list[ChannelSpec]:
    if not isinstance(raw, list):
        raise ScenarioError(
            f"{source}: top level: channel: expected an array of tables ([[channel]]), got {_kind(raw)}"
        )
    known = set(names)
    out: list[ChannelSpec] = []
    for i, item in enumerate(raw, start=1):
        t = _Table(
            source,
            f"[[channel]] #{i}",
            item,
            {"from", "to", "capacity_sat", "push_msat", "announce"},
        )
        ends = []
        for key in ("from", "to"):
            node = t.get_str(key)
            if node not in known:
                raise t.error(key, f"unknown node {node!r} (nodes: {', '.join(names)})")
            ends.append(node)
        if ends[0] == ends[1]:
            raise t.error("to", f"a channel needs two different nodes, got {ends[0]!r} twice")
        capacity = t.get_int("capacity_sat", lo=MIN_CAPACITY_SAT)
        push = t.get_int("push_msat", 0, hi=capacity * 1000)
        out.append(ChannelSpec(ends[0], ends[1], capacity, push, t.get_bool("announce", True)))
    return out


_TRAFFIC_KEYS = {
    "rate_per_s",
    "amount_msat",
    "duration_s",
    "count",
    "seed",
    "mode",
    "concurrency",
    "nodes",
}
_AMOUNT_KEYS = {"distribution", "min", "max", "median", "sigma"}


def _read_traffic(t: _Table, names: list[str]) -> TrafficSpec:
    rate = t.get_number("rate_per_s")
    amount = _read_amount(t)
    mode = t.get_str("mode", "keysend")
    if mode not in ("keysend", "invoice"):
        raise t.error("mode", f"expected 'keysend' or 'invoice', got {mode!r}")
    nodes_raw = t._get("nodes", [])
    if not isinstance(nodes_raw, list) or not all(isinstance(n, str) for n in nodes_raw):
        raise t.error("nodes", "expected an array of node names")
    for node in nodes_raw:
        if node not in names:
            raise t.error("nodes", f"unknown node {node!r} (nodes: {', '.join(names)})")
    if len(nodes_raw or names) < 2:
        raise t.error("nodes", "traffic needs at least two endpoint nodes")
    return TrafficSpec(
        rate_per_s=rate,
        amount_msat=amount,
        duration_s=t.get_number("duration_s", None),
        count=t.get_int("count", None, lo=1, hi=10**9),
        seed=t.get_int("seed", 0, hi=2**63),
        mode=mode,
        concurrency=t.get_int("concurrency", 8, lo=1, hi=10_000),
        nodes=tuple(nodes_raw),
    )


def _read_amount(t: _Table) -> AmountSpec:
    raw = t._get("amount_msat", _MISSING)
    if isinstance(raw, int) and not isinstance(raw, bool):
        value = t.get_int("amount_msat", lo=1, hi=MAX_SAT * 1000)
        return AmountSpec("fixed", value, value)
    if not isinstance(raw, dict):
        raise t.error(
            "amount_msat",
            f"expected an integer or a table {{min, max[, distribution, ...]}}, got {_kind(raw)}",
        )
    a = _Table(t.file, "[traffic] amount_msat", raw, _AMOUNT_KEYS)
    dist = a.get_str("distribution", "uniform")
    lo = a.get_int("min", lo=1, hi=MAX_SAT * 1000)
    hi = a.get_int("max", lo=1, hi=MAX_SAT * 1000)
    if hi < lo:
        raise a.error("max", f"max ({hi}) is below min ({lo})")
    if dist == "uniform":
        for key in ("median", "sigma"):
            if a.has(key):
                raise a.error(key, "only for distribution = 'lognormal'")
        return AmountSpec("uniform", lo, hi)
    if dist == "lognormal":
        median = a.get_number("median")
        if not lo <= median <= hi:
            raise a.error("median", f"{median:g} is outside [min, max] = [{lo}, {hi}]")
        return AmountSpec("lognormal", lo, hi, median, a.get_number("sigma"))
    raise a.error("distribution", f"expected 'uniform' or 'lognormal', got {dist!r}")


# ---------------------------------------------------------------------------- starting


class ScenarioStartError(RuntimeError):
    """Some node of the scenario did not start, or a channel could not be opened."""


async def start_scenario(runtime: SimRuntime, scenario: Scenario) -> None:
    """Start every node (concurrently), then open the channels in file order and wait
    until the public ones have reached every node's gossip view.

    Raises ScenarioStartError naming each node that failed (the others keep running,
    as on a real network; the caller decides whether to stop them)."""
    results = await asyncio.gather(
        *(runtime.start_node(scenario.node_config(n)) for n in scenario.nodes),
        return_exceptions=True,
    )
    failed = [
        f"{spec.name}: {res}"
        for spec, res in zip(scenario.nodes, results, strict=True)
        if isinstance(res, BaseException)
    ]
    if failed:
        raise ScenarioStartError("nodes failed to start: " + "; ".join(failed))
    for i, chan in enumerate(scenario.channels, start=1):
        try:
            await runtime.open_channel(
                chan.source,
                chan.dest,
                chan.capacity_sat,
                push_msat=chan.push_msat,
                announce=chan.announce,
            )
        except Exception as exc:
            raise ScenarioStartError(
                f"{scenario.source}: [[channel]] #{i} ({chan.source} -> {chan.dest}): "
                f"open failed: {exc}"
            ) from exc
    if any(c.announce for c in scenario.channels):
        # Every node sees a public channel `gossip_delay` seconds after it is normal:
        # wait for that, so the first payments find their routes.
        await asyncio.sleep(runtime.network.gossip_delay)
