"""Fixtures of the transport tests: a real nostr-relay on 127.0.0.1."""

from tests.transport.nostr_relay import nostr_relay

__all__ = ["nostr_relay"]
