"""Advisor credentials (comms spec §3.1, §3.3; ARCHITECTURE decisions 3-5, §8.3).

A credential is issued locally by the operator and signed by the node: the
signature is CLN ``signmessage`` over ``lnhive:credential:v1:`` + hex SHA-256 of the
RFC 8785 JCS of the credential without ``signature`` and ``revoked_at`` (decision 5,
domain ``credential``), checked against ``issuer_id``. Domain code does not call the
node: it is handed a :data:`Signer` (the plugin's wraps ``signmessage``;
:func:`local_signer` signs with a secret key, as the stand-in does).

The envelope's credential mode is ``bip340`` only in v1 (§8.3): the advisor, named
``agent_id = "nostr:<64-hex x-only key>"``, authenticates each request with a
BIP-340 signature of that key.
"""

from __future__ import annotations

import functools
import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from lnhive.core.canonical import canonical_json, without
from lnhive.core.errors import CredentialInvalid, InvalidInput, Unsupported
from lnhive.core.hashing import sha256_hex
from lnhive.core.signmessage import ZbaseError, sign_message, verify_message
from lnhive.manage.constraints import Constraints, parse_constraints
from lnhive.manage.danger import Tier
from lnhive.manage.patterns import pattern_is_known

SIGNING_DOMAIN = "lnhive:credential:v1:"
UNSIGNED_FIELDS = ("signature", "revoked_at")
MAX_ID_CHARS = 64
MAX_PATTERNS = 100
MAX_PATTERN_BYTES = 4096
MAX_VALIDITY_S = 730 * 86_400
TRIAL_DAYS = (1, 90)
TRIAL_MAX_TIER = Tier.STANDARD
TRIAL_PERMISSIONS = frozenset({"monitor", "fee_policy"})
TRIAL_SCHEMAS = ("hive:monitor/v1", "hive:fee-policy/v1")

PERMISSIONS: tuple[str, ...] = (
    "monitor",
    "fee_policy",
    "rebalance",
    "config_tune",
    "channel_open",
    "channel_close",
    "splice",
    "peer",
    "payment",
    "wallet",
    "plugin",
    "backup",
    "emergency",
    "htlc",
)
"""Permission flags; the first seven are the spec's, the rest name the other families."""

_NODE_ID = re.compile(r"0[23][0-9a-f]{64}")
_NOSTR = re.compile(r"nostr:([0-9a-f]{64})")
_ACTION_KEY = re.compile(r"hive:[a-z0-9-]+/v[0-9]+#[a-z0-9_]+")
FIELDS = (
    "credential_id",
    "issuer_id",
    "agent_id",
    "node_id",
    "tier",
    "permissions",
    "allowed_schemas",
    "allowed_actions",
    "constraints",
    "compensation",
    "trial",
    "valid_from",
    "valid_until",
    "signature",
)

Signer = Callable[[str], str]
"""Signs a text as CLN ``signmessage`` does and returns the ``zbase`` signature."""


def local_signer(node_secret: bytes) -> Signer:
    """A :data:`Signer` over the node's secret key (tests, the stand-in)."""

    def sign(message: str) -> str:
        return sign_message(node_secret, message).zbase

    return sign


@dataclass(frozen=True)
class Credential:
    credential_id: str
    issuer_id: str
    agent_id: str
    node_id: str
    tier: Tier
    permissions: Mapping[str, bool]
    allowed_schemas: tuple[str, ...]
    allowed_actions: tuple[str, ...] | None
    constraints: Constraints
    valid_from: int
    valid_until: int
    compensation: Mapping[str, Any] | None = None
    trial_ends_at: int | None = None
    signature: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)
    _signing_text: str | None = field(default=None, init=False, compare=False, repr=False)
    """Cached :meth:`signing_text` (``dataclasses.replace`` never copies it)."""

    @property
    def advisor_key(self) -> str:
        """The advisor's 64-hex x-only Nostr key."""
        m = _NOSTR.fullmatch(self.agent_id)
        assert m is not None
        return m.group(1)

    @property
    def is_trial(self) -> bool:
        return self.trial_ends_at is not None

    @property
    def effective_until(self) -> int:
        """The end of validity, a trial's end included."""
        if self.trial_ends_at is None:
            return self.valid_until
        return min(self.valid_until, self.trial_ends_at)

    def has_permission(self, name: str) -> bool:
        if self.is_trial and name not in TRIAL_PERMISSIONS:
            return False
        return bool(self.permissions.get(name, False))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "credential_id": self.credential_id,
            "issuer_id": self.issuer_id,
            "agent_id": self.agent_id,
            "node_id": self.node_id,
            "tier": self.tier.label,
            "permissions": dict(self.permissions),
            "allowed_schemas": list(self.allowed_schemas),
            "allowed_actions": None if self.allowed_actions is None else list(self.allowed_actions),
            "constraints": dict(self.constraints.raw),
            "compensation": None if self.compensation is None else dict(self.compensation),
            "trial": None if self.trial_ends_at is None else {"ends_at": self.trial_ends_at},
            "valid_from": self.valid_from,
            "valid_until": self.valid_until,
        }
        if self.signature:
            out["signature"] = self.signature
        return out

    def signing_text(self) -> str:
        if self._signing_text is None:
            object.__setattr__(self, "_signing_text", signing_text(self.to_json()))
        assert self._signing_text is not None
        return self._signing_text


def signing_text(credential_json: Mapping[str, Any]) -> str:
    """``lnhive:credential:v1:<hex sha256 of JCS without signature and revoked_at>``."""
    return SIGNING_DOMAIN + sha256_hex(canonical_json(without(credential_json, *UNSIGNED_FIELDS)))


def _int(value: Any, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidInput(f"{name} must be a non-negative integer")
    return value


def _parse_agent(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidInput("agent_id must be a string")
    if _NOSTR.fullmatch(value):
        return value
    if value.startswith(("node:", "did:")):
        raise Unsupported("v1 credentials name advisors by Nostr key only (agent_id nostr:<64hex>)")
    raise InvalidInput("agent_id must be nostr:<64 lower-case hex>")


def _parse_permissions(value: Any) -> dict[str, bool]:
    if not isinstance(value, Mapping):
        raise InvalidInput("permissions must be an object of booleans")
    unknown = sorted(set(value) - set(PERMISSIONS))
    if unknown:
        raise InvalidInput(f"unknown permissions {unknown}; known: {list(PERMISSIONS)}")
    if not all(isinstance(v, bool) for v in value.values()):
        raise InvalidInput("permissions must be booleans")
    return dict(value)


def _parse_patterns(value: Any, schema_ids: Iterable[str]) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(p, str) and p for p in value):
        raise InvalidInput("allowed_schemas must be a list of patterns")
    if len(value) > MAX_PATTERNS:
        raise InvalidInput(f"allowed_schemas may hold at most {MAX_PATTERNS} patterns")
    if len(json.dumps(value, separators=(",", ":")).encode()) > MAX_PATTERN_BYTES:
        raise InvalidInput(f"allowed_schemas may be at most {MAX_PATTERN_BYTES} bytes")
    known = tuple(schema_ids)
    for p in value:
        if not pattern_is_known(p, known):
            raise InvalidInput(f"pattern {p!r} matches no known schema")
    return tuple(dict.fromkeys(value))


def _parse_actions(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > MAX_PATTERNS:
        raise InvalidInput(
            f"allowed_actions must be null or a list of <= {MAX_PATTERNS} schema#action"
        )
    for a in value:
        if not isinstance(a, str) or not _ACTION_KEY.fullmatch(a):
            raise InvalidInput(f"allowed_actions entry {a!r} is not schema#action")
    return tuple(dict.fromkeys(value))


def parse_credential(obj: Any, schema_ids: Iterable[str]) -> Credential:
    """A :class:`Credential` from its JSON form, every field checked (§3.1 limits)."""
    if not isinstance(obj, Mapping):
        raise InvalidInput("credential must be an object")
    unknown = sorted(set(obj) - set(FIELDS) - {"revoked_at"})
    if unknown:
        raise InvalidInput(f"unknown credential fields {unknown}")
    cid = obj.get("credential_id")
    if not isinstance(cid, str) or not 0 < len(cid) <= MAX_ID_CHARS:
        raise InvalidInput(f"credential_id must be 1-{MAX_ID_CHARS} characters")
    issuer, node = obj.get("issuer_id"), obj.get("node_id")
    for name, v in (("issuer_id", issuer), ("node_id", node)):
        if not isinstance(v, str) or not _NODE_ID.fullmatch(v):
            raise InvalidInput(f"{name} must be a 66-hex node id")
    assert isinstance(issuer, str) and isinstance(node, str)
    agent = _parse_agent(obj.get("agent_id"))
    if agent[len("nostr:") :] in (issuer, issuer[2:]):
        raise InvalidInput("issuer and agent must differ")
    valid_from = _int(obj.get("valid_from"), "valid_from")
    valid_until = _int(obj.get("valid_until"), "valid_until")
    if valid_until <= valid_from:
        raise InvalidInput("valid_until must be after valid_from")
    if valid_until - valid_from > MAX_VALIDITY_S:
        raise InvalidInput("validity may be at most 730 days")
    tier = Tier.parse(obj.get("tier"))
    trial = obj.get("trial")
    trial_ends: int | None = None
    if trial is not None:
        if not isinstance(trial, Mapping) or set(trial) != {"ends_at"}:
            raise InvalidInput('trial must be null or {"ends_at"}')
        trial_ends = _int(trial["ends_at"], "trial.ends_at")
        days = (trial_ends - valid_from) / 86_400
        if not TRIAL_DAYS[0] <= days <= TRIAL_DAYS[1]:
            raise InvalidInput("a trial lasts 1-90 days")
        if tier > TRIAL_MAX_TIER:
            raise InvalidInput("a trial credential is at most tier standard")
    compensation = obj.get("compensation")
    if compensation is not None and not isinstance(compensation, Mapping):
        raise InvalidInput("compensation must be null or an object")
    signature = obj.get("signature", "")
    if not isinstance(signature, str):
        raise InvalidInput("signature must be a zbase string")
    return Credential(
        credential_id=cid,
        issuer_id=issuer,
        agent_id=agent,
        node_id=node,
        tier=tier,
        permissions=_parse_permissions(obj.get("permissions", {})),
        allowed_schemas=_parse_patterns(obj.get("allowed_schemas"), schema_ids),
        allowed_actions=_parse_actions(obj.get("allowed_actions")),
        constraints=parse_constraints(obj.get("constraints")),
        valid_from=valid_from,
        valid_until=valid_until,
        compensation=None if compensation is None else dict(compensation),
        trial_ends_at=trial_ends,
        signature=signature,
    )


def sign_credential(credential: Credential, signer: Signer) -> Credential:
    """``credential`` with its node signature."""
    unsigned = replace(credential, signature="")
    return replace(credential, signature=signer(unsigned.signing_text()))


def signature_valid(credential: Credential) -> bool:
    """Whether the signature is the issuer's over the credential (never raises).

    The check itself is cached by its exact inputs (the signed text, which hashes every
    signed field, the signature and the issuer): a pure function, so a cached answer is
    the answer. Revocation and supersession are never cached (stage 6 reads them from
    the store on every request)."""
    if not credential.signature:
        return False
    return _message_valid(credential.signing_text(), credential.signature, credential.issuer_id)


@functools.lru_cache(maxsize=4096)
def _message_valid(text: str, signature: str, issuer_id: str) -> bool:
    try:
        return verify_message(text, signature, bytes.fromhex(issuer_id))
    except (ZbaseError, ValueError):
        return False


def check_credential(credential: Credential, *, node_id: str, now: float, revoked: bool) -> None:
    """Flow stage 6: issuer signature, ``node_id`` = us, validity window, not revoked.

    Raises :class:`CredentialInvalid` with ``details["reason"]`` one of ``bad_signature``,
    ``wrong_node``, ``revoked``, ``not_yet_valid``, ``expired``.
    """

    def fail(reason: str, text: str) -> CredentialInvalid:
        return CredentialInvalid(text, details={"reason": reason})

    if not signature_valid(credential):
        raise fail("bad_signature", "credential signature does not verify")
    if credential.node_id != node_id or credential.issuer_id != node_id:
        raise fail("wrong_node", "credential was issued for another node")
    if revoked:
        raise fail("revoked", "credential is revoked")
    if now < credential.valid_from:
        raise fail("not_yet_valid", "credential is not yet valid")
    if now >= credential.effective_until:
        ended = "trial ended" if credential.effective_until != credential.valid_until else "expired"
        raise fail("expired", f"credential has expired ({ended})")


def new_credential_id() -> str:
    return str(uuid.uuid4())
