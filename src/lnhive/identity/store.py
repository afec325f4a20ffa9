"""cl-hive-archon's SQLite file (ARCHITECTURE decision 10): ``lnhive-cl-hive-archon.sqlite3``.

No key material is stored: the DID key is derived again from ``makesecret`` at start-up.
"""

from __future__ import annotations

import os

from lnhive.core.store import Migration, Store

DB_NAME = "lnhive-cl-hive-archon.sqlite3"

MIGRATIONS: tuple[Migration, ...] = (
    """
    CREATE TABLE archon_identity (
        singleton_id INTEGER PRIMARY KEY CHECK (singleton_id = 1),
        did TEXT NOT NULL,
        label TEXT NOT NULL,
        source TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE TABLE archon_bindings (
        binding_id TEXT PRIMARY KEY,
        did TEXT NOT NULL,
        binding_type TEXT NOT NULL,
        subject TEXT NOT NULL,
        binding_json TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        UNIQUE (binding_type, subject)
    );
    CREATE TABLE archon_credentials (
        credential_id TEXT PRIMARY KEY,
        issuer TEXT NOT NULL,
        subject TEXT NOT NULL,
        types_json TEXT NOT NULL,
        vc_json TEXT NOT NULL,
        issued_at INTEGER NOT NULL,
        valid_until INTEGER
    );
    CREATE INDEX archon_credentials_subject ON archon_credentials (subject, issued_at);
    CREATE INDEX archon_credentials_issued ON archon_credentials (issued_at);
    """,
    # 2: revocation through a W3C Bitstring Status List (one list per DID)
    """
    CREATE TABLE archon_status_lists (
        list_id TEXT PRIMARY KEY,
        did TEXT NOT NULL UNIQUE,
        status_purpose TEXT NOT NULL,
        size_bits INTEGER NOT NULL,
        next_index INTEGER NOT NULL,
        bits BLOB NOT NULL,
        vc_json TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    ALTER TABLE archon_credentials ADD COLUMN status_list_id TEXT;
    ALTER TABLE archon_credentials ADD COLUMN status_index INTEGER;
    ALTER TABLE archon_credentials ADD COLUMN revoked_at INTEGER;
    ALTER TABLE archon_credentials ADD COLUMN revocation_reason TEXT;
    CREATE UNIQUE INDEX archon_credentials_status
        ON archon_credentials (status_list_id, status_index);
    """,
)


def open_archon_store(path: str | os.PathLike[str]) -> Store:
    return Store(path, MIGRATIONS, busy_timeout_ms=30000)
