"""SHA-256 helpers."""

from __future__ import annotations

import hashlib


def sha256(data: bytes) -> bytes:
    """SHA-256 of ``data`` (32 bytes)."""
    return hashlib.sha256(data).digest()


def sha256d(data: bytes) -> bytes:
    """SHA-256 applied twice, as Bitcoin and CLN's ``signmessage`` use it."""
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def sha256_hex(data: bytes) -> str:
    """Lower-case hex SHA-256 of ``data`` (64 characters)."""
    return hashlib.sha256(data).hexdigest()


def tagged_hash(tag: str, data: bytes) -> bytes:
    """BIP-340 tagged hash: ``SHA256(SHA256(tag) || SHA256(tag) || data)``."""
    tag_digest = hashlib.sha256(tag.encode("utf-8")).digest()
    return hashlib.sha256(tag_digest + tag_digest + data).digest()
