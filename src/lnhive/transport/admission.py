"""Admitting an envelope: comms spec §1 steps 2-5 in order.

Step 1 (throttle, transport enabled) and the REST rune belong to the ingress; steps 6
onwards (credential, validation, scoring, scope, policy) to :mod:`lnhive.manage`.
:func:`admit_envelope` does them in one call. The comms pipeline
(:class:`lnhive.manage.pipeline.Pipeline`) runs the same steps in the same order itself
(:func:`~lnhive.transport.envelope.verify_envelope`, then the nonce inside the request's
transaction) so that the nonce commits together with the request's receipt.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from lnhive.transport.envelope import DEFAULT_MAX_SKEW_S, Envelope, verify_envelope
from lnhive.transport.nonces import NonceRegistry


def admit_envelope(
    raw: str | bytes | Mapping[str, Any] | Envelope,
    *,
    recipient: str,
    now: float,
    nonces: NonceRegistry,
    max_skew_s: float = DEFAULT_MAX_SKEW_S,
    sender_allowed: Callable[[str], bool] | None = None,
) -> Envelope:
    """Structure, clock, authentication, then the nonce (consumed atomically).

    ``raw`` may be an :class:`Envelope` already parsed by :func:`parse_envelope` (the
    ingress parses it to match the sender): it is not parsed again.

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
