"""Per-peer policies and the ``revenue-policy`` RPC (spec revenue-ops §5, §6.1, §7 tests 11, 26).

A :class:`PeerPolicy` overrides how the fee controller and the rebalancer treat one peer.
Without one, or once it has expired, a peer is ``dynamic``/``enabled``. Expiry reverts
the *settings* (strategy, rebalance mode, fee target, multipliers); tags are labels and
stay. A ``set`` replaces the expiry: without ``expires_in_hours`` the policy is
permanent (so cl-hive's ``strategy=hive`` never inherits a temporary anchor's expiry).

Writes are rate-limited to 10 per minute per peer (counted from ``policy_changes``);
``action=batch`` is exempt, takes at most 100 updates and applies them in one
transaction, all or nothing. Bad input raises :class:`InvalidInput` (the 11th write in a
minute :class:`RateLimited`) before anything is written.
"""

from __future__ import annotations

import contextlib
import enum
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from lnhive.core.errors import InvalidInput, RateLimited
from lnhive.revenue.store import RevenueStore, StoredPolicy


class Strategy(enum.StrEnum):
    DYNAMIC = "dynamic"
    STATIC = "static"
    PASSIVE = "passive"
    HIVE = "hive"


class RebalanceMode(enum.StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"
    SOURCE_ONLY = "source_only"
    SINK_ONLY = "sink_only"


MAX_FEE_PPM = 100_000
MULTIPLIER_BOUNDS = (0.1, 5.0)
MAX_EXPIRES_HOURS = 720
"""30 days."""
RATE_LIMIT_WRITES = 10
RATE_LIMIT_WINDOW_S = 60.0
MAX_BATCH = 100
MAX_TAGS = 32
SETTINGS = ("strategy", "rebalance", "fee_ppm", "fee_multiplier_min", "fee_multiplier_max")
ACTION_PARAMS: dict[str, tuple[str, ...]] = {
    "list": (),
    "get": ("peer_id",),
    "set": ("peer_id", *SETTINGS, "expires_in_hours"),
    "delete": ("peer_id",),
    "tag": ("peer_id", "tag"),
    "untag": ("peer_id", "tag"),
    "find": ("tag", "strategy", "rebalance"),
    "changes": ("since",),
    "batch": ("updates",),
}
"""Each action and the parameters it takes."""
WRITE_ACTIONS = ("set", "delete", "tag", "untag")
"""The actions a batch update may carry (``action`` defaults to ``set``)."""

_PEER_ID = re.compile(r"0[23][0-9a-f]{64}")
_HEX = re.compile(r"[0-9a-fA-F]*")
_TAG = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_INT = re.compile(r"[+-]?[0-9]+")


@dataclass(frozen=True, slots=True)
class PeerPolicy:
    peer_id: str
    strategy: Strategy = Strategy.DYNAMIC
    rebalance_mode: RebalanceMode = RebalanceMode.ENABLED
    fee_ppm_target: int | None = None
    tags: tuple[str, ...] = ()
    fee_multiplier_min: float | None = None
    fee_multiplier_max: float | None = None
    expires_at: float | None = None
    updated_at: float | None = None

    @property
    def has_settings(self) -> bool:
        """Does it differ from the default in anything but its tags?"""
        return (
            self.strategy is not Strategy.DYNAMIC
            or self.rebalance_mode is not RebalanceMode.ENABLED
            or self.fee_ppm_target is not None
            or self.fee_multiplier_min is not None
            or self.fee_multiplier_max is not None
            or self.expires_at is not None
        )

    @property
    def is_default(self) -> bool:
        return not self.has_settings and not self.tags

    def is_expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def effective(self, now: float) -> PeerPolicy:
        """This policy, or once expired the default settings with its tags."""
        if not self.is_expired(now):
            return self
        return PeerPolicy(self.peer_id, tags=self.tags, updated_at=self.updated_at)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(
            strategy=str(self.strategy),
            rebalance_mode=str(self.rebalance_mode),
            tags=list(self.tags),
        )
        return out

    def to_stored(self, now: float) -> StoredPolicy:
        fields = asdict(self)
        fields.update(
            strategy=str(self.strategy), rebalance_mode=str(self.rebalance_mode), updated_at=now
        )
        return StoredPolicy(**fields)

    @classmethod
    def from_stored(cls, s: StoredPolicy) -> PeerPolicy:
        fields = asdict(s)
        fields.update(strategy=Strategy(s.strategy), rebalance_mode=RebalanceMode(s.rebalance_mode))
        return cls(**fields)


# -- validation ------------------------------------------------------------------
def _valid_values(values: type[enum.StrEnum] | tuple[str, ...]) -> str:
    return ", ".join(str(v) for v in values)


def _describe(value: object) -> str:
    kinds = ((bool, "boolean"), (int | float, "number"), (dict, "object"), (list, "array"))
    for kind, name in (*kinds, (str, "string")):
        if isinstance(value, kind):
            return f"a JSON {name}"
    return "null" if value is None else f"a {type(value).__name__}"


def validate_peer_id(value: object) -> str:
    """A node id: 66 hex characters, ``02``/``03`` prefix; returned in lower case."""
    if not isinstance(value, str):
        raise InvalidInput(f"peer_id must be a 66-character hex public key, got {_describe(value)}")
    if len(value) != 66:
        raise InvalidInput(
            f"peer_id must be a 66-character hex public key, got {len(value)} characters"
        )
    if not _HEX.fullmatch(value):
        raise InvalidInput("peer_id must be a 66-character hex public key, got non-hex characters")
    lowered = value.lower()
    if not _PEER_ID.fullmatch(lowered):
        raise InvalidInput("peer_id must be a compressed public key starting with 02 or 03")
    return lowered


def _choice(name: str, value: object, kind: type[enum.StrEnum]) -> str:
    if not isinstance(value, str) or value not in {str(v) for v in kind}:
        raise InvalidInput(f"{name} {value!r} is not valid; valid values: {_valid_values(kind)}")
    return value


def validate_strategy(value: object) -> Strategy:
    return Strategy(_choice("strategy", value, Strategy))


def validate_rebalance(value: object) -> RebalanceMode:
    return RebalanceMode(_choice("rebalance", value, RebalanceMode))


def _number(name: str, value: object, rule: str, ok: Callable[[float], bool]) -> float:
    """A finite number (or numeric string) for which ``ok`` holds, else ``name must be rule``."""
    x = math.nan
    if isinstance(value, int | float) and not isinstance(value, bool):
        x = float(value)
    elif isinstance(value, str):
        with contextlib.suppress(ValueError):
            x = float(value.strip())
    if not math.isfinite(x) or not ok(x):
        raise InvalidInput(f"{name} must be {rule}, got {value!r}")
    return x


def validate_fee_ppm(value: object) -> int:
    n = value
    if isinstance(value, str) and _INT.fullmatch(value.strip()):
        n = int(value)
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_FEE_PPM:
        raise InvalidInput(f"fee_ppm must be an integer from 0 to {MAX_FEE_PPM}, got {value!r}")
    return n


def validate_multiplier(name: str, value: object) -> float:
    lo, hi = MULTIPLIER_BOUNDS
    return _number(name, value, f"a number from {lo} to {hi}", lambda x: lo <= x <= hi)


def validate_expires_in_hours(value: object) -> float:
    rule = f"a number of hours above 0 and at most {MAX_EXPIRES_HOURS} (30 days)"
    return _number("expires_in_hours", value, rule, lambda h: 0 < h <= MAX_EXPIRES_HOURS)


def validate_tag(value: object) -> str:
    if not isinstance(value, str) or not _TAG.fullmatch(value):
        raise InvalidInput(
            f"tag must be 1-64 characters of letters, digits, '_', '.', ':' or '-', got {value!r}"
        )
    return value


def _since(value: object) -> float:
    return _number("since", value, "a UNIX time in seconds", lambda t: t >= 0)


def _given(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


def _check_params(action: str, given: Mapping[str, Any]) -> None:
    allowed = ACTION_PARAMS[action]
    for key in given:
        if key not in allowed:
            takes = ", ".join(allowed) if allowed else "no parameters"
            raise InvalidInput(
                f"parameter {key!r} does not apply to action={action}; "
                f"action={action} takes: {takes}"
            )


def _require_peer(action: str, given: Mapping[str, Any]) -> str:
    if "peer_id" not in given:
        raise InvalidInput(f"peer_id is required for action={action}")
    return validate_peer_id(given["peer_id"])


# -- the service -----------------------------------------------------------------
class PolicyService:
    """``revenue-policy`` over a :class:`RevenueStore`; ``on_change(peer_id)`` after a commit."""

    def __init__(
        self,
        store: RevenueStore,
        *,
        on_change: Callable[[str], None] | None = None,
        listed: Callable[[str], str | None] | None = None,
    ) -> None:
        self.store = store
        self.on_change = on_change
        self.listed = listed
        """``listed(peer_id)``: ``ignored``/``banned`` (see :mod:`.peer_lists`) or None."""

    def stored(self, peer_id: str) -> PeerPolicy | None:
        s = self.store.get_policy(peer_id)
        return None if s is None else PeerPolicy.from_stored(s)

    def effective(self, peer_id: str, now: float) -> PeerPolicy:
        """What applies to ``peer_id`` at ``now``: its policy, or the default; an ignored or
        banned peer is passive with rebalancing disabled whatever its stored policy says."""
        p = self.stored(peer_id)
        eff = PeerPolicy(peer_id) if p is None else p.effective(now)
        if self.listed is not None and self.listed(peer_id) is not None:
            eff = replace(eff, strategy=Strategy.PASSIVE, rebalance_mode=RebalanceMode.DISABLED)
        return eff

    def handle(self, action: object, params: Mapping[str, Any], now: float) -> dict[str, Any]:
        """One ``revenue-policy`` call; a JSON-ready result or :class:`InvalidInput`."""
        if not isinstance(action, str) or action not in ACTION_PARAMS:
            raise InvalidInput(
                f"action {action!r} is not valid; valid values: {_valid_values(tuple(ACTION_PARAMS))}"
            )
        given = _given(params)
        _check_params(action, given)
        if action == "list":
            return self._listing(now, lambda p: True)
        if action == "find":
            return self._find(given, now)
        if action == "changes":
            return self._changes(_since(given.get("since", 0)))
        if action == "batch":
            return self._batch(given.get("updates"), now)
        peer_id = _require_peer(action, given)
        if action == "get":
            p = self.stored(peer_id)
            source = "default" if p is None else "expired" if p.is_expired(now) else "stored"
            eff = self.effective(peer_id, now)
            listed = None if self.listed is None else self.listed(peer_id)
            return {
                "policy": eff.to_json(),
                "source": source if listed is None else str(listed),
                "is_default": eff.is_default,
            }
        with self.store.transaction():
            self._check_rate(peer_id, now)
            result = self._apply(action, peer_id, given, now, via_batch=False)
        self._notify([peer_id] if result.get("changed", True) else [])
        return result

    def purge_expired(self, now: float) -> list[str]:
        """Revert every expired policy for good (tags kept), recording ``expire`` changes."""
        peers: list[str] = []
        with self.store.transaction():
            for s in self.store.list_policies():
                p = PeerPolicy.from_stored(s)
                if not p.is_expired(now):
                    continue
                eff = p.effective(now)
                if eff.tags:
                    self.store.put_policy(eff.to_stored(now))
                else:
                    self.store.delete_policy(p.peer_id)
                self.store.record_policy_change(p.peer_id, "expire", now, self._snapshot(eff, now))
                peers.append(p.peer_id)
        self._notify(peers)
        return peers

    # -- reads -------------------------------------------------------------------
    def _listing(self, now: float, keep: Callable[[PeerPolicy], bool]) -> dict[str, Any]:
        out = []
        for s in self.store.list_policies():
            eff = PeerPolicy.from_stored(s).effective(now)
            if not eff.is_default and keep(eff):
                out.append(eff.to_json())
        return {"policies": out, "count": len(out)}

    def _find(self, given: Mapping[str, Any], now: float) -> dict[str, Any]:
        if not given:
            raise InvalidInput("find needs at least one of tag, strategy, rebalance")
        tag = validate_tag(given["tag"]) if "tag" in given else None
        strategy = validate_strategy(given["strategy"]) if "strategy" in given else None
        mode = validate_rebalance(given["rebalance"]) if "rebalance" in given else None
        return self._listing(
            now,
            lambda p: (
                (tag is None or tag in p.tags)
                and (strategy is None or p.strategy is strategy)
                and (mode is None or p.rebalance_mode is mode)
            ),
        )

    def _changes(self, since: float) -> dict[str, Any]:
        rows = self.store.policy_changes_since(since)
        changes = [asdict(c) for c in rows]
        latest = max((c.timestamp for c in rows), default=since)
        return {"since": since, "changes": changes, "count": len(changes), "latest": latest}

    # -- writes ------------------------------------------------------------------
    def _check_rate(self, peer_id: str, now: float) -> None:
        recent = self.store.count_policy_writes(peer_id, now - RATE_LIMIT_WINDOW_S)
        if recent >= RATE_LIMIT_WRITES:
            raise RateLimited(
                f"peer {peer_id} already had {recent} policy changes in the last "
                f"{RATE_LIMIT_WINDOW_S:.0f} s; the limit is {RATE_LIMIT_WRITES} per minute per "
                "peer (action=batch is exempt)",
                details={"peer_id": peer_id, "limit": RATE_LIMIT_WRITES},
            )

    def _apply(
        self, action: str, peer_id: str, given: Mapping[str, Any], now: float, *, via_batch: bool
    ) -> dict[str, Any]:
        """Validate, write and record one change inside the caller's transaction."""
        current = self.stored(peer_id)
        base = PeerPolicy(peer_id) if current is None else current.effective(now)
        if action == "delete":
            deleted = self.store.delete_policy(peer_id)
            if deleted:
                self.store.record_policy_change(peer_id, "delete", now, None, via_batch=via_batch)
            return {
                "peer_id": peer_id,
                "deleted": deleted,
                "changed": deleted,
                "policy": PeerPolicy(peer_id).to_json(),
            }
        if action in ("tag", "untag"):
            if "tag" not in given:
                raise InvalidInput(f"tag is required for action={action}")
            tag = validate_tag(given["tag"])
            if action == "tag":
                tags = base.tags if tag in base.tags else (*base.tags, tag)
                if len(tags) > MAX_TAGS:
                    raise InvalidInput(f"a peer may have at most {MAX_TAGS} tags")
            else:
                tags = tuple(t for t in base.tags if t != tag)
            if tags == base.tags:
                return {"peer_id": peer_id, "changed": False, "policy": base.to_json()}
            new = replace(base, tags=tags)
        else:
            new = self._merge(base, given, now)
        if new.is_default:
            self.store.delete_policy(peer_id)
            new = PeerPolicy(peer_id)
        else:
            self.store.put_policy(new.to_stored(now))
            new = replace(new, updated_at=now)
        self.store.record_policy_change(
            peer_id, action, now, self._snapshot(new, now), via_batch=via_batch
        )
        return {
            "peer_id": peer_id,
            "changed": True,
            "policy": new.to_json(),
            "previous": base.to_json(),
        }

    @staticmethod
    def _merge(base: PeerPolicy, given: Mapping[str, Any], now: float) -> PeerPolicy:
        if not any(k in given for k in (*SETTINGS, "expires_in_hours")):
            raise InvalidInput(
                "set needs at least one of " + ", ".join((*SETTINGS, "expires_in_hours"))
            )
        new = replace(base, expires_at=None)
        if "strategy" in given:
            new = replace(new, strategy=validate_strategy(given["strategy"]))
        if "rebalance" in given:
            new = replace(new, rebalance_mode=validate_rebalance(given["rebalance"]))
        if "fee_ppm" in given:
            new = replace(new, fee_ppm_target=validate_fee_ppm(given["fee_ppm"]))
        if "fee_multiplier_min" in given:
            lo = validate_multiplier("fee_multiplier_min", given["fee_multiplier_min"])
            new = replace(new, fee_multiplier_min=lo)
        if "fee_multiplier_max" in given:
            hi = validate_multiplier("fee_multiplier_max", given["fee_multiplier_max"])
            new = replace(new, fee_multiplier_max=hi)
        low, high = new.fee_multiplier_min, new.fee_multiplier_max
        if low is not None and high is not None and low > high:
            raise InvalidInput(
                f"fee_multiplier_min {low} must not exceed fee_multiplier_max {high}"
            )
        if "expires_in_hours" in given:
            hours = validate_expires_in_hours(given["expires_in_hours"])
            new = replace(new, expires_at=now + hours * 3600.0)
        if new.strategy is Strategy.STATIC and new.fee_ppm_target is None:
            raise InvalidInput("strategy static needs fee_ppm (the fee to hold)")
        return new

    def _batch(self, updates: object, now: float) -> dict[str, Any]:
        if isinstance(updates, str):
            try:
                updates = json.loads(updates)
            except ValueError:
                raise InvalidInput(
                    "updates must be a JSON array of policy updates, got a string that is not JSON"
                ) from None
        if not isinstance(updates, list):
            raise InvalidInput(
                f"updates must be a JSON array of policy updates, got {_describe(updates)}"
            )
        if len(updates) > MAX_BATCH:
            raise InvalidInput(f"updates may hold at most {MAX_BATCH} entries, got {len(updates)}")
        results: list[dict[str, Any]] = []
        touched: list[str] = []
        with self.store.transaction():
            for i, update in enumerate(updates):
                where = f"updates[{i}]: "
                try:
                    if not isinstance(update, Mapping):
                        raise InvalidInput(
                            f"each update must be an object, got {_describe(update)}"
                        )
                    fields = _given(update)
                    action = fields.pop("action", "set")
                    if action not in WRITE_ACTIONS:
                        raise InvalidInput(
                            f"action {action!r} is not valid in a batch; valid values: "
                            + _valid_values(WRITE_ACTIONS)
                        )
                    _check_params(action, fields)
                    peer_id = _require_peer(action, fields)
                    result = self._apply(action, peer_id, fields, now, via_batch=True)
                except InvalidInput as exc:
                    raise InvalidInput(where + exc.message, details={"index": i}) from None
                results.append(result)
                if result.get("changed", True):
                    touched.append(peer_id)
        self._notify(touched)
        return {"applied": len(results), "results": results}

    @staticmethod
    def _snapshot(p: PeerPolicy, now: float) -> dict[str, Any]:
        return replace(p, updated_at=now).to_json()

    def _notify(self, peers: list[str]) -> None:
        if self.on_change is not None:
            for peer_id in dict.fromkeys(peers):
                self.on_change(peer_id)
