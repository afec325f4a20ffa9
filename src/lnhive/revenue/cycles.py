"""``revenue-cycle [subsystem]`` (spec revenue-ops §6.1): run loop work now.

The subsystems run in the loops' order: ``flow`` (flow analysis), ``fee`` (the fee cycle),
``rebalance`` (a rebalance cycle) and ``profitability`` (a fresh snapshot). One named
subsystem runs alone and its failure is the call's error; without a name all four run and a
failing one is reported under ``errors`` while the rest still run. The fee cycle's
``adjustments`` and ``skip_reasons`` are repeated at the top level, as ``revenue-fee-cycle``
returns them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from lnhive.core.errors import InvalidInput, LnhiveError

SUBSYSTEMS = ("flow", "fee", "rebalance", "profitability")

Job = Callable[[], dict[str, Any]]


def parse_subsystem(value: object) -> tuple[str, ...]:
    """The subsystems to run: all of them for None, else the one named."""
    if value is None:
        return SUBSYSTEMS
    if not isinstance(value, str) or value.strip().lower() not in SUBSYSTEMS:
        raise InvalidInput(
            f"subsystem {value!r} is not valid; valid values: {', '.join(SUBSYSTEMS)} "
            "(or none for all of them)"
        )
    return (value.strip().lower(),)


def run(jobs: Mapping[str, Job], subsystem: object) -> dict[str, Any]:
    names = parse_subsystem(subsystem)
    results: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name in names:
        if len(names) == 1:
            results[name] = jobs[name]()
            continue
        try:
            results[name] = jobs[name]()
        except LnhiveError as err:
            errors[name] = err.rpc_message()
        except Exception as exc:  # one failing subsystem never stops the others
            errors[name] = f"internal: {type(exc).__name__}: {exc}"
    fee = results.get("fee", {})
    return {
        "ran": [n for n in names if n in results],
        "results": results,
        "errors": errors,
        "adjustments": fee.get("adjustments", []),
        "skip_reasons": fee.get("skip_reasons", {}),
    }
