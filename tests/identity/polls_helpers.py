"""Hand-made keys, polls and votes for the poll tests (no node needed)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from coincurve import PrivateKey

from lnhive.core.signmessage import sign_message
from lnhive.identity.polls import Poll, Vote, make_poll, make_vote

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
SECRETS = [bytes([i + 1]) * 32 for i in range(5)]


def node_id(secret: bytes) -> str:
    out: str = PrivateKey(secret).public_key.format(compressed=True).hex()
    return out


IDS = [node_id(s) for s in SECRETS]
BY_ID = dict(zip(IDS, SECRETS, strict=True))


def signer(secret: bytes) -> Callable[[str], str]:
    return lambda text: sign_message(secret, text).zbase


def poll(
    creator: int = 0,
    eligible: list[str] | None = None,
    options: list[str] | None = None,
    deadline: int = T0 + 3600,
    nonce: str = "00" * 16,
    **kw: Any,
) -> Poll:
    return make_poll(
        signer(SECRETS[creator]),
        creator=IDS[creator],
        poll_type=kw.get("poll_type", "expansion"),
        title=kw.get("title", "Open a channel to ACINQ?"),
        options=options or ["yes", "no"],
        metadata=kw.get("metadata", {}),
        eligible=eligible if eligible is not None else IDS[:4],
        created_at=T0,
        deadline=deadline,
        nonce=nonce,
    )


def vote(p: Poll, voter: int, choice: str, at: int = T0 + 60, reason: str = "") -> Vote:
    return make_vote(
        signer(SECRETS[voter]), p, voter=IDS[voter], choice=choice, reason=reason, voted_at=at
    )
