"""cl-hive's domain code: fleet membership, the signed wire protocol, shared state.

Wire protocol layer (ARCHITECTURE decision 8):

- :mod:`lnhive.fleet.envelope`: the signed envelope (build, parse, verify, evidence);
- :mod:`lnhive.fleet.wire`: the frame in custom message type 34865, size limits, relay;
- :mod:`lnhive.fleet.dedupe`: ``msg_id``\\ s already seen, persisted;
- :mod:`lnhive.fleet.outbox`: reliable delivery with ``fleet.ack``, backoff and give-up;
- :mod:`lnhive.fleet.ratelimit`: per-sender token buckets.

Nothing here imports pyln, ``lnhive.sim`` or ``lnhive.plugins``: the node is a
:class:`~lnhive.cln.api.NodeApi` and time a :class:`~lnhive.core.clock.Clock` or a number.
"""

from __future__ import annotations


def wire_migrations() -> list[str]:
    """The wire layer's migrations in their fixed order (seen messages, then outbox).

    The cl-hive store's migration list starts with these; later tables are appended.
    """
    from lnhive.fleet import dedupe, outbox

    return [*dedupe.migrations(), *outbox.migrations()]
