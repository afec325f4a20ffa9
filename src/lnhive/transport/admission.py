"""Admitting an envelope: comms spec §1 steps 2-5 in order.

Step 1 (throttle, transport enabled) and the REST rune belong to the ingress; steps 6
onwards (credential, validation, scoring, scope, policy) to :mod:`lnhive.manage`.
Both the REST method ``hive-comms-rpc`` and the Nostr DM handler call
:func:`admit_envelope` with the raw envelope they received.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from lnhive.transport.envelope import DEFAULT_MAX_SKEW_S, Envelope, verify_envelope
from lnhive.transport.nonces import NonceRegistry


def admit_envelope(
    raw: str | bytes | Mapping[str, Any],
    *,
    recipient: str,
    now: float,
    nonces: NonceRegistry,
    max_skew_s: float = DEFAULT_MAX_SKEW_S,
    sender_allowed: Callable[[str], bool] | None = None,
) -> Envelope:
    """Structure, clock, authentication, then the nonce (consumed atomically).

    Raises, in this order of checks: ``invalid_request`` / ``payload_too_large``
    (structure), ``clock_skew``, ``unauthorized`` (unknown sender, wrong recipient, bad
    signature), ``replay``. Only after this returns is the sender authenticated: refusals
    from here on get a reply and a receipt (see :mod:`lnhive.transport.codes`).
    """
    env = verify_envelope(
        raw, recipient=recipient, now=now, max_skew_s=max_skew_s, sender_allowed=sender_allowed
    )
    nonces.consume(env.sender, env.nonce, now=now, request_hash=env.request_hash())
    return env
