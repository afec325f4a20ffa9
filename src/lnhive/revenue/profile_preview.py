"""``revenue-profile-preview [profile]`` (spec revenue-ops §6.1, §2.2): what each fee profile
would decide for every channel now, changing nothing.

For each profile (or the one named) a throwaway controller with that ``fee-profile`` and the
running controller's Vegas state asks :meth:`FeeController.fee_debug` per channel: the same
decision a cycle would take now, with a fixed random seed, nothing persisted or sent. The
preview does not see wake-ups the running controller has queued (policy changes, manual
fees) for its next cycle.
"""

from __future__ import annotations

import random
from dataclasses import asdict, replace
from typing import Any

from lnhive.core.errors import InvalidInput
from lnhive.revenue.controller import FeeController
from lnhive.revenue.profiles import PROFILES


def parse_profiles(value: object) -> tuple[str, ...]:
    if value is None:
        return tuple(PROFILES)
    if not isinstance(value, str) or value.strip() not in PROFILES:
        raise InvalidInput(
            f"profile {value!r} is not valid; valid values: {', '.join(PROFILES)} "
            "(or none for all of them)"
        )
    return (value.strip(),)


def preview(running: FeeController, profile: object = None) -> dict[str, Any]:
    names = parse_profiles(profile)
    channels = [c["channel_id"] for c in running.analyze()["channels"]]
    out: dict[str, Any] = {}
    for name in names:
        ctl = FeeController(
            running.node,
            running.store,
            running.policies,
            replace(running.config, fee_profile=name),
            running.clock,
            random.Random(0),
        )
        ctl.vegas_state = running.vegas_state  # frozen: shared, never changed here
        rows = []
        for scid in channels:
            d = ctl.fee_debug(scid)
            rows.append(
                {
                    "channel_id": scid,
                    "peer_id": d["peer_id"],
                    "current_fee_ppm": d["current_fee_ppm"],
                    "would_apply": d["decision"]["apply"],
                    "new_fee_ppm": d["decision"]["new_fee_ppm"],
                    "reason": d["decision"]["reason"],
                }
            )
        out[name] = {
            "settings": asdict(PROFILES[name]),
            "channels": rows,
            "changes": sum(1 for r in rows if r["would_apply"]),
        }
    return {"current_profile": running.config.fee_profile, "profiles": out, "applied": False}
