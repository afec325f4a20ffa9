"""Identity: the node's did:key, verifiable credentials and key bindings (cl-hive-archon).

Domain code only: no pyln, no plugins. See docs/archon.md.
"""
