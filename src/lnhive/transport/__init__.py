"""cl-hive-comms transport: the management envelope, replay nonces and replies.

Pure domain code for the envelope, nonces and replies; the Nostr client lives in
:mod:`lnhive.transport.nostr_client`. REST ingress (``hive-comms-rpc``) and Nostr DMs
reach :class:`lnhive.manage.pipeline.Pipeline`, which parses an envelope once and runs
:func:`lnhive.transport.admission.admit_envelope` on it (raw text or the parsed
:class:`~lnhive.transport.envelope.Envelope`), and replies with what
:mod:`lnhive.transport.reply` builds. See ``docs/transport.md``.
"""
