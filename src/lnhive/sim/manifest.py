"""The plugin manifest (`getmanifest` result), checked as lightningd checks it.

A manifest that lightningd would refuse makes the plugin fail to start; the reasons
are worded so the plugin author sees what to fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

OPTION_TYPES = ("string", "string-conceal", "int", "bool", "flag")

# Every native topic lightningd emits; plugins may not declare these as their own.
NATIVE_TOPICS = frozenset(
    {
        "connect", "disconnect", "warning", "custommsg", "onionmessage_forward_fail",
        "invoice_payment", "invoice_creation", "channel_opened", "channel_state_changed",
        "forward_event", "sendpay_success", "sendpay_failure", "coin_movement",
        "balance_snapshot", "block_added", "openchannel_peer_sigs", "channel_open_failed",
        "shutdown", "deprecated_oneshot", "log", "plugin_started", "plugin_stopped",
    }
)  # fmt: skip

# Hooks lightningd knows; only these two take filters.
KNOWN_HOOKS = frozenset(
    {
        "peer_connected", "recover", "commitment_revocation", "db_write", "invoice_payment",
        "openchannel", "openchannel2", "openchannel2_changed", "openchannel2_sign",
        "rbf_channel", "htlc_accepted", "rpc_command", "custommsg", "onion_message_recv",
        "onion_message_recv_secret",
    }
)  # fmt: skip
FILTERABLE_HOOKS = frozenset({"custommsg", "rpc_command"})

_OPTION_NAME = re.compile(r"^[a-z0-9_-]+$")


class ManifestError(ValueError):
    pass


def parse_option_value(typ: str, raw: str, name: str) -> Any:
    """Parse a value the way lightningd parses a config-file or command-line value."""
    if typ in ("string", "string-conceal"):
        return raw
    if typ == "int":
        try:
            return int(raw, 10)
        except ValueError:
            raise ManifestError(f"{name}: '{raw}' is not a number") from None
    if typ == "bool":
        low = raw.lower()
        if low in ("true", "1", "yes", "on"):
            return True
        if low in ("false", "0", "no", "off"):
            return False
        raise ManifestError(f"{name}: '{raw}' is not a bool (true or false)")
    if typ == "flag":
        if raw in ("", "true"):
            return True
        raise ManifestError(f"{name}: flag takes no value")
    raise ManifestError(f"{name}: unknown option type {typ}")


@dataclass
class OptionSpec:
    name: str
    type: str
    description: str
    default: Any = None
    multi: bool = False
    dynamic: bool = False
    deprecated: bool = False

    def coerce(self, value: Any) -> Any:
        """Turn a configured value (string from a config line, or native JSON) into
        the typed JSON value lightningd sends in `init`."""
        if isinstance(value, str):
            return parse_option_value(self.type, value, self.name)
        if self.type == "int" and isinstance(value, int) and not isinstance(value, bool):
            return value
        if self.type in ("bool", "flag") and isinstance(value, bool):
            if self.type == "flag" and not value:
                raise ManifestError(f"{self.name}: flag takes no value")
            return value
        if self.type in ("string", "string-conceal") and isinstance(value, (int, float)):
            return str(value)
        raise ManifestError(f"{self.name}: {value!r} is not a valid {self.type}")


@dataclass
class HookSpec:
    name: str
    before: list[str] = field(default_factory=list)
    after: list[str] = field(default_factory=list)
    filters: list[Any] | None = None


@dataclass
class Manifest:
    options: list[OptionSpec]
    rpcmethods: dict[str, str]  # name -> usage
    subscriptions: list[str]
    hooks: list[HookSpec]
    notifications: list[str]
    featurebits: dict[str, str]
    custommessages: list[int]
    dynamic: bool
    nonnumericids: bool
    cancheck: bool
    disable: str | None


def _str_list(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ManifestError(f"{what} must be an array of strings")
    return list(value)


def _parse_option(obj: Any) -> OptionSpec:
    if not isinstance(obj, dict):
        raise ManifestError("each option must be an object")
    name = obj.get("name")
    if not isinstance(name, str) or not _OPTION_NAME.match(name):
        raise ManifestError(f"option name {name!r} must be made of a-z, 0-9, '_' and '-'")
    typ = obj.get("type")
    if typ not in OPTION_TYPES:
        raise ManifestError(f"option {name}: type {typ!r} is not one of {', '.join(OPTION_TYPES)}")
    desc = obj.get("description")
    if not isinstance(desc, str):
        raise ManifestError(f"option {name}: a description is required")
    multi = bool(obj.get("multi", False))
    if multi and typ in ("bool", "flag"):
        raise ManifestError(f"option {name}: {typ} options cannot be multi")
    spec = OptionSpec(
        name=name,
        type=typ,
        description=desc,
        multi=multi,
        dynamic=bool(obj.get("dynamic", False)),
        deprecated=bool(obj.get("deprecated", False)),
    )
    if "default" in obj and obj["default"] is not None:
        default = obj["default"]
        if typ == "flag" and default is not False:
            raise ManifestError(f"option {name}: a flag's default may only be false")
        if typ == "flag":
            spec.default = None
        else:
            try:
                spec.default = spec.coerce(default)
            except ManifestError as exc:
                raise ManifestError(f"option {name}: default does not parse: {exc}") from None
    return spec


def _parse_hook(obj: Any) -> HookSpec:
    if isinstance(obj, str):
        obj = {"name": obj}
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
        raise ManifestError("each hook must be a name or an object with a name")
    name = obj["name"]
    if name not in KNOWN_HOOKS:
        raise ManifestError(f"Unknown hook name {name}")
    filters = obj.get("filters")
    if filters is not None:
        if name not in FILTERABLE_HOOKS:
            raise ManifestError(f"hook {name} does not take filters")
        if not isinstance(filters, list):
            raise ManifestError(f"hook {name}: filters must be an array")
        want = int if name == "custommsg" else str
        if not all(isinstance(f, want) and not isinstance(f, bool) for f in filters):
            raise ManifestError(f"hook {name}: filters must be {want.__name__}s")
    return HookSpec(
        name=name,
        before=_str_list(obj.get("before") or [], f"hook {name} before"),
        after=_str_list(obj.get("after") or [], f"hook {name} after"),
        filters=filters,
    )


def parse_manifest(result: Any) -> Manifest:
    if not isinstance(result, dict):
        raise ManifestError("getmanifest result must be an object")
    if "options" not in result or not isinstance(result["options"], list):
        raise ManifestError("getmanifest result needs an 'options' array")
    if "rpcmethods" not in result or not isinstance(result["rpcmethods"], list):
        raise ManifestError("getmanifest result needs an 'rpcmethods' array")
    options: list[OptionSpec] = []
    seen: set[str] = set()
    for raw in result["options"]:
        opt = _parse_option(raw)
        if opt.name in seen:
            raise ManifestError(f"option {opt.name} is declared twice")
        seen.add(opt.name)
        options.append(opt)
    methods: dict[str, str] = {}
    for m in result["rpcmethods"]:
        if not isinstance(m, dict) or not isinstance(m.get("name"), str):
            raise ManifestError("each rpcmethod must be an object with a name")
        if not isinstance(m.get("usage"), str):
            raise ManifestError(f"rpcmethod {m['name']}: 'usage' must be a string")
        if m["name"] in methods:
            raise ManifestError(f"rpcmethod {m['name']} is registered twice")
        methods[m["name"]] = m["usage"]
    subs = _str_list(result.get("subscriptions", []), "subscriptions")
    hooks = [_parse_hook(h) for h in result.get("hooks", [])]
    names = [h.name for h in hooks]
    for name in names:
        if names.count(name) > 1:
            raise ManifestError(f"hook {name} is registered twice")
    notifications: list[str] = []
    for n in result.get("notifications", []):
        topic = n.get("method") if isinstance(n, dict) else None
        if not isinstance(topic, str):
            raise ManifestError("each notification must be an object with a 'method'")
        if topic in NATIVE_TOPICS:
            raise ManifestError(f"plugin attempted to register a native notification topic {topic}")
        notifications.append(topic)
    featurebits = result.get("featurebits") or {}
    if not isinstance(featurebits, dict):
        raise ManifestError("featurebits must be an object")
    custom = result.get("custommessages") or []
    if not isinstance(custom, list) or not all(
        isinstance(t, int) and 0 <= t <= 0xFFFF for t in custom
    ):
        raise ManifestError("custommessages must be an array of u16 message types")
    if "nonnumericids" in result and result["nonnumericids"] is not True:
        raise ManifestError("nonnumericids must be true if present")
    dynamic = bool(result.get("dynamic", True))
    if featurebits and any(featurebits.values()) and dynamic:
        raise ManifestError("featurebits are only allowed for non-dynamic plugins")
    disable = result.get("disable")
    return Manifest(
        options=options,
        rpcmethods=methods,
        subscriptions=subs,
        hooks=hooks,
        notifications=notifications,
        featurebits={k: v for k, v in featurebits.items() if isinstance(v, str)},
        custommessages=list(custom),
        dynamic=dynamic,
        nonnumericids=bool(result.get("nonnumericids", False)),
        cancheck=bool(result.get("cancheck", False)),
        disable=disable if isinstance(disable, str) else None,
    )
