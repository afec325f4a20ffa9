"""cl-revenue-ops' options (spec revenue-ops §6.2): the validated settings object.

:class:`RevenueOptions` holds every option without its ``revenue-ops-`` prefix (``-`` as
``_``; the intervals end in ``_s``). It is built once at init from the node's option
values (:meth:`RevenueOptions.from_options`) and again, through
:mod:`lnhive.revenue.config_overrides`, whenever ``revenue-config`` changes a dynamic one;
:meth:`RevenueOptions.validate` is the one place the ranges live.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from lnhive.core.errors import InvalidInput
from lnhive.revenue.controller import ControllerConfig
from lnhive.revenue.profiles import PROFILES
from lnhive.revenue.rebalancer import RebalanceConfig
from lnhive.revenue.store import DEFAULT_FILENAME

INTERVAL_FLOOR_S = 300
"""Smallest flow/fee interval outside developer mode."""
DEVELOPER_INTERVAL_FLOOR_S = 1
MAX_FEE_PPM = 100_000
REBALANCERS = ("native",)
"""Executors available (the spec's optional sling adapter is not built yet)."""
INTERVALS = ("flow_interval_s", "fee_interval_s", "rebalance_interval_s")


@dataclass(frozen=True)
class RevenueOptions(ControllerConfig, RebalanceConfig):
    """The plugin's options (``revenue-ops-`` prefix dropped, ``-`` as ``_``), validated.

    ``db_path`` empty means :data:`~lnhive.revenue.store.DEFAULT_FILENAME` in the node's
    network directory. The controller's and the rebalancer's settings are inherited from
    ``ControllerConfig`` and ``RebalanceConfig``, so the options are handed to each as its
    config. Float options may arrive as strings (pyln has no float option type).
    """

    db_path: str = ""
    developer: bool = False

    @classmethod
    def from_options(
        cls, options: Mapping[str, Any], *, network_dir: str, developer: bool
    ) -> RevenueOptions:
        """From option values keyed by option name without the prefix (``fee-interval``).

        Unset (``None``) values take the defaults; :class:`InvalidInput` names the first
        bad value. A relative ``db-path`` is taken relative to ``network_dir``.
        """
        values: dict[str, Any] = {}
        for key, value in options.items():
            name = field_name(key)
            if name is None:
                raise InvalidInput(f"unknown option revenue-ops-{key}")
            if value is not None:
                values[name] = _float(name, value) if name in FLOATS else value
        db_path = str(values.pop("db_path", "") or DEFAULT_FILENAME)
        db_path = os.path.join(network_dir, os.path.expanduser(db_path))
        opts = cls(db_path=db_path, developer=developer, **values)
        opts.validate()
        return opts

    def validate(self) -> None:
        """Raise :class:`InvalidInput` naming the option and the allowed values."""
        defaults = _DEFAULTS
        for f in fields(self):
            value, want = getattr(self, f.name), type(getattr(defaults, f.name))
            if isinstance(value, bool) != (want is bool) or not isinstance(value, want):
                raise InvalidInput(f"{_opt(f.name)} must be a {want.__name__}, got {value!r}")
        floor = DEVELOPER_INTERVAL_FLOOR_S if self.developer else INTERVAL_FLOOR_S
        for name in INTERVALS:
            if getattr(self, name) < floor:
                hint = "" if self.developer else " (1 s is allowed only in developer mode)"
                raise InvalidInput(
                    f"{_opt(name)} must be at least {floor} s{hint}, got {getattr(self, name)}"
                )
        _range("flow_window_days", self.flow_window_days, 1, 90)
        _range("min_fee_ppm", self.min_fee_ppm, 5, MAX_FEE_PPM)
        _range("min_fee_ppm_saturated", self.min_fee_ppm_saturated, 0, self.min_fee_ppm)
        _range("max_fee_ppm", self.max_fee_ppm, self.min_fee_ppm, MAX_FEE_PPM)
        _range("hive_fee_ppm", self.hive_fee_ppm, 0, MAX_FEE_PPM)
        _range("estimated_open_cost_sats", self.estimated_open_cost_sats, 0, 10_000_000)
        self._validate_rebalancer()
        if self.fee_profile not in PROFILES:
            raise InvalidInput(
                f"revenue-ops-fee-profile {self.fee_profile!r} is not valid; "
                f"valid values: {', '.join(PROFILES)}"
            )

    def _validate_rebalancer(self) -> None:
        _range("daily_budget_sats", self.daily_budget_sats, 0, 100_000_000)
        _range("weekly_budget_sats", self.weekly_budget_sats, 0, 700_000_000)
        _range("growth_budget_hard_ceiling_sats", self.growth_budget_hard_ceiling_sats, 0, 10**9)
        _range("min_wallet_reserve", self.min_wallet_reserve, 0, 21 * 10**14)
        _range("reservation_timeout_hours", self.reservation_timeout_hours, 1, 168)
        _range("pair_fee_cap_ppm", self.pair_fee_cap_ppm, 0, MAX_FEE_PPM)
        _range("rebalance_hold_margin", self.rebalance_hold_margin, -1_000_000, 1_000_000)
        _range("rebalance_chunk_sats", self.rebalance_chunk_sats, 1000, 100_000_000)
        _range("rebalance_min_amount", self.rebalance_min_amount, 1000, self.rebalance_chunk_sats)
        _range("rebalance_max_concurrent", self.rebalance_max_concurrent, 1, 20)
        _range("hive_rebalance_tolerance", self.hive_rebalance_tolerance, 0, 1_000_000)
        for name in (
            "growth_budget_earned_fraction",
            "rebalance_emergency_local_ratio",
            "rebalance_drift_override_ratio",
        ):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise InvalidInput(f"{_opt(name)} must be from 0 to 1, got {value}")
        if self.rebalancer not in REBALANCERS:
            raise InvalidInput(
                f"revenue-ops-rebalancer {self.rebalancer!r} is not valid; valid values: "
                f"{', '.join(REBALANCERS)} (the sling executor is not available yet)"
            )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


_DEFAULTS = RevenueOptions()
DEFAULTS = _DEFAULTS
"""Every option at its default (``db_path`` empty: the default file)."""
FLOATS = frozenset(
    f.name for f in fields(RevenueOptions) if isinstance(getattr(_DEFAULTS, f.name), float)
)
_RENAMES = {
    "fee_interval": "fee_interval_s",
    "flow_interval": "flow_interval_s",
    "rebalance_interval": "rebalance_interval_s",
}
_FIELDS = frozenset(f.name for f in fields(RevenueOptions)) - {"developer"}


def field_name(key: str) -> str | None:
    """The field of an option name without the prefix (``fee-interval`` or ``fee_interval``
    → ``fee_interval_s``); None if there is no such option."""
    name = key.removeprefix("revenue-ops-").replace("-", "_")
    name = _RENAMES.get(name, name)
    return name if name in _FIELDS else None


def option_name(name: str) -> str:
    """The option's name without the prefix: ``fee_interval_s`` → ``fee-interval``."""
    return name.removesuffix("_s").replace("_", "-")


def _float(name: str, value: object) -> object:
    """A float option from a number or its text (anything else is left for validate)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            raise InvalidInput(f"{_opt(name)} must be a number, got {value!r}") from None
    return value


def _opt(name: str) -> str:
    return "revenue-ops-" + option_name(name)


def _range(name: str, value: int, lo: int, hi: int) -> None:
    if not lo <= value <= hi:
        raise InvalidInput(f"{_opt(name)} must be from {lo} to {hi}, got {value}")
