"""cl-hive-comms transport: the management envelope, replay nonces and replies.

Pure domain code (no pyln, no sockets): REST ingress (``hive-comms-rpc``) and the Nostr
client hand raw envelopes to :func:`lnhive.transport.admission.admit_envelope` and send
back what :mod:`lnhive.transport.reply` builds. See ``docs/transport.md``.
"""
