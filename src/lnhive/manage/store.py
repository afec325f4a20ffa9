"""The management tables in the comms plugin's SQLite file (numbered migrations).

Credentials and their revocations, the per-advisor action log the counting rules
read, the confirmation queue and the policy document. Receipts and nonces live in
other packages' tables of the same file.
"""

from __future__ import annotations

import os

from lnhive.core.store import Migration, Store

MIGRATIONS: tuple[Migration, ...] = (
    """
    CREATE TABLE comms_credentials (
        credential_id TEXT PRIMARY KEY,
        agent_id TEXT NOT NULL,
        issued_at REAL NOT NULL,
        valid_from INTEGER NOT NULL,
        valid_until INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('active', 'superseded', 'revoked')),
        credential_json TEXT NOT NULL
    );
    CREATE INDEX comms_credentials_agent ON comms_credentials (agent_id, status);
    CREATE TABLE comms_revocations (
        credential_id TEXT PRIMARY KEY REFERENCES comms_credentials (credential_id),
        revoked_at REAL NOT NULL,
        reason TEXT NOT NULL
    );
    CREATE TABLE comms_action_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        advisor_id TEXT NOT NULL,
        at REAL NOT NULL,
        schema_id TEXT NOT NULL,
        action TEXT NOT NULL,
        danger INTEGER NOT NULL,
        effects TEXT NOT NULL,
        sats_out INTEGER NOT NULL DEFAULT 0,
        onchain_sats INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL DEFAULT 'done' CHECK (status IN ('pending', 'done', 'dropped'))
    );
    CREATE INDEX comms_action_log_advisor ON comms_action_log (advisor_id, at);
    CREATE INDEX comms_action_log_at ON comms_action_log (at);
    CREATE TABLE comms_fee_changes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        channel TEXT NOT NULL,
        at REAL NOT NULL,
        old_fee_ppm INTEGER NOT NULL,
        new_fee_ppm INTEGER NOT NULL,
        advisor_id TEXT NOT NULL
    );
    CREATE INDEX comms_fee_changes_channel ON comms_fee_changes (channel, at);
    CREATE TABLE comms_pending_actions (
        action_id TEXT PRIMARY KEY,
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL,
        advisor_id TEXT NOT NULL,
        credential_id TEXT NOT NULL,
        schema_id TEXT NOT NULL,
        action TEXT NOT NULL,
        params_json TEXT NOT NULL,
        envelope_json TEXT NOT NULL,
        request_hash TEXT NOT NULL,
        danger INTEGER NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('queue', 'confirm', 'multisig')),
        required_approvals INTEGER NOT NULL,
        approvals_json TEXT NOT NULL DEFAULT '[]',
        status TEXT NOT NULL,
        decided_at REAL,
        note TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX comms_pending_status ON comms_pending_actions (status, advisor_id);
    CREATE TABLE comms_policy (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        policy_json TEXT NOT NULL,
        updated_at REAL NOT NULL
    );
    """,
)

DEFAULT_FILENAME = "lnhive-cl-hive-comms.sqlite3"


def open_manage_store(path: str | os.PathLike[str]) -> Store:
    """The store with the management tables migrated in."""
    return Store(path, MIGRATIONS)
