"""Invitation tickets (spec §1.3, in our envelope).

A ticket is a ``fleet.ticket`` envelope signed by the member who issued it::

    body = {"hive_id": "hive_…", "tier": "neophyte",
            "requirements": <bitmask>, "expires_at": <unix s>}

and travels as text: base64url (no padding) of the envelope's JCS bytes, at most
:data:`MAX_TICKET_CHARS`. ``ts`` is the issue time. A ticket admits to the
``neophyte`` tier only. ``requirements`` is a bitmask of features the joiner must
announce in its ``fleet.attest`` (:data:`REQUIREMENT_FEATURES`).

Whether a ticket is *valid* also depends on the acceptor's roster (the issuer must be a
member of that hive); :func:`check_ticket` does the parts that need only the node (the
signature) and the clock.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from lnhive.cln.api import NodeApi
from lnhive.core.errors import InvalidInput
from lnhive.fleet.envelope import (
    BadSignature,
    Envelope,
    MalformedEnvelope,
    check_signature,
    new_envelope,
    parse_envelope,
)
from lnhive.fleet.roster import NEOPHYTE, check_hive_id

TICKET_TYPE = "fleet.ticket"
MAX_TICKET_CHARS = 10_240
DEFAULT_VALID_HOURS = 24
MAX_VALID_HOURS = 24 * 365

REQUIREMENT_FEATURES: dict[int, str] = {1: "splice", 2: "dual-fund", 4: "anchor", 8: "onion-msg"}
"""Requirement bits and the feature names a joiner announces for them."""
ALL_REQUIREMENTS = sum(REQUIREMENT_FEATURES)


class BadTicket(InvalidInput):
    """A ticket that cannot be decoded, is malformed, expired or not signed by its issuer."""


@dataclass(frozen=True)
class Ticket:
    envelope: Envelope
    hive_id: str
    requirements: int
    expires_at: int
    tier: str

    @property
    def issuer(self) -> str:
        return self.envelope.sender

    @property
    def issued_at(self) -> int:
        return self.envelope.ts

    def encode(self) -> str:
        return encode_ticket(self.envelope)

    def required_features(self) -> list[str]:
        return required_features(self.requirements)


def required_features(requirements: int) -> list[str]:
    """The feature names the bitmask ``requirements`` asks for."""
    return [name for bit, name in sorted(REQUIREMENT_FEATURES.items()) if requirements & bit]


def check_requirements(value: object) -> int:
    if type(value) is not int or not 0 <= value <= ALL_REQUIREMENTS:
        raise InvalidInput(
            f"requirements must be an integer bitmask 0..{ALL_REQUIREMENTS} "
            "(splice 1, dual-fund 2, anchor 4, onion-msg 8)"
        )
    return value


def issue_ticket(
    node: NodeApi,
    issuer: str,
    hive_id: str,
    now: float,
    *,
    valid_hours: int = DEFAULT_VALID_HOURS,
    requirements: int = 0,
) -> Ticket:
    """Sign a ticket for ``hive_id`` valid ``valid_hours`` from ``now``."""
    if type(valid_hours) is not int or not 1 <= valid_hours <= MAX_VALID_HOURS:
        raise InvalidInput(f"valid_hours must be an integer 1..{MAX_VALID_HOURS}")
    body: dict[str, Any] = {
        "hive_id": check_hive_id(hive_id),
        "tier": NEOPHYTE,
        "requirements": check_requirements(requirements),
        "expires_at": int(now) + valid_hours * 3600,
    }
    env = new_envelope(node, issuer, TICKET_TYPE, body, now)
    return _ticket(env)


def encode_ticket(env: Envelope) -> str:
    return base64.urlsafe_b64encode(env.canonical()).decode().rstrip("=")


def _ticket(env: Envelope) -> Ticket:
    if env.type != TICKET_TYPE:
        raise BadTicket(f"a ticket is a {TICKET_TYPE} envelope, got {env.type}")
    body = env.body
    if set(body) != {"hive_id", "tier", "requirements", "expires_at"}:
        raise BadTicket("ticket body must have exactly hive_id, tier, requirements, expires_at")
    try:
        hive_id = check_hive_id(body["hive_id"])
        requirements = check_requirements(body["requirements"])
    except InvalidInput as exc:
        raise BadTicket(f"ticket: {exc.message}") from None
    if body["tier"] != NEOPHYTE:
        raise BadTicket("a ticket admits to the neophyte tier only")
    expires_at = body["expires_at"]
    if type(expires_at) is not int or expires_at <= env.ts:
        raise BadTicket("ticket expires_at must be an integer after its issue time")
    return Ticket(env, hive_id, requirements, expires_at, NEOPHYTE)


def decode_ticket(text: object) -> Ticket:
    """Parse a ticket's text (structure only; see :func:`check_ticket`)."""
    if not isinstance(text, str) or not text:
        raise BadTicket("ticket must be a non-empty string (the text hive-invite printed)")
    if len(text) > MAX_TICKET_CHARS:
        raise BadTicket(f"ticket is {len(text)} characters, over {MAX_TICKET_CHARS}")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        obj = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError):
        raise BadTicket("ticket is not base64url-encoded JSON; copy it whole") from None
    try:
        env = parse_envelope(obj)
    except MalformedEnvelope as exc:
        raise BadTicket(f"ticket: {exc.message}") from None
    return _ticket(env)


def ticket_from_envelope(obj: object) -> Ticket:
    """A ticket carried as an envelope object (inside ``fleet.hello``)."""
    try:
        env = parse_envelope(obj)
    except MalformedEnvelope as exc:
        raise BadTicket(f"ticket: {exc.message}") from None
    return _ticket(env)


def check_ticket(node: NodeApi, ticket: Ticket, now: float) -> Ticket:
    """Raise :class:`BadTicket` unless ``ticket`` is unexpired and signed by its issuer."""
    if now >= ticket.expires_at:
        raise BadTicket(f"ticket expired at {ticket.expires_at}; ask a member for a new one")
    if ticket.issued_at > now + 300:
        raise BadTicket("ticket is issued in the future (check the clocks)")
    try:
        check_signature(node, ticket.envelope)
    except BadSignature as exc:
        raise BadTicket(f"ticket signature does not verify: {exc.message}") from None
    return ticket
