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
    # 3: reputation credentials (ours and received), verified once at ingest: score and
    # evidence_strength are precomputed so aggregation never re-verifies a signature
    """
    CREATE TABLE archon_reputation (
        credential_id TEXT PRIMARY KEY,
        issuer TEXT NOT NULL,
        subject TEXT NOT NULL,
        domain TEXT NOT NULL,
        period_start INTEGER NOT NULL,
        period_end INTEGER NOT NULL,
        issued_at INTEGER NOT NULL,
        expires_at INTEGER,
        outcome TEXT NOT NULL,
        metrics_json TEXT NOT NULL,
        evidence_json TEXT NOT NULL,
        score REAL NOT NULL,
        evidence_strength REAL NOT NULL,
        vc_json TEXT NOT NULL,
        status_list_id TEXT,
        status_index INTEGER,
        received_from TEXT,
        revoked_at INTEGER,
        revocation_reason TEXT,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX archon_reputation_subject ON archon_reputation (subject, domain);
    CREATE INDEX archon_reputation_issuer ON archon_reputation (issuer, subject, domain);
    CREATE INDEX archon_reputation_domain ON archon_reputation (domain, issued_at);
    CREATE INDEX archon_reputation_status ON archon_reputation (status_list_id);
    CREATE TABLE archon_reputation_status_lists (
        list_id TEXT PRIMARY KEY,
        issuer TEXT NOT NULL,
        valid_from INTEGER NOT NULL,
        vc_json TEXT NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE TABLE archon_principals (
        did TEXT NOT NULL,
        binding_type TEXT NOT NULL,
        subject TEXT NOT NULL,
        binding_json TEXT NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (did, binding_type)
    );
    CREATE INDEX archon_principals_subject ON archon_principals (subject);
    """,
    # 4: governance tier, fleet polls and votes (signed objects kept verbatim), the
    # did:cid alias and the gateway outbox
    """
    CREATE TABLE archon_tier (
        singleton_id INTEGER PRIMARY KEY CHECK (singleton_id = 1),
        governance_tier TEXT NOT NULL,
        bond_sats INTEGER NOT NULL,
        balance_sats INTEGER,
        updated_at INTEGER NOT NULL
    );
    CREATE TABLE archon_tier_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        from_tier TEXT NOT NULL,
        to_tier TEXT NOT NULL,
        bond_sats INTEGER NOT NULL,
        balance_sats INTEGER,
        at INTEGER NOT NULL
    );
    CREATE TABLE archon_polls (
        poll_id TEXT PRIMARY KEY,
        poll_type TEXT NOT NULL,
        title TEXT NOT NULL,
        creator TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        deadline INTEGER NOT NULL,
        poll_json TEXT NOT NULL,
        received_from TEXT,
        stored_at INTEGER NOT NULL
    );
    CREATE INDEX archon_polls_deadline ON archon_polls (deadline);
    CREATE TABLE archon_votes (
        vote_id TEXT PRIMARY KEY,
        poll_id TEXT NOT NULL REFERENCES archon_polls (poll_id) ON DELETE CASCADE,
        voter TEXT NOT NULL,
        choice TEXT NOT NULL,
        voted_at INTEGER NOT NULL,
        vote_json TEXT NOT NULL,
        received_from TEXT,
        stored_at INTEGER NOT NULL,
        UNIQUE (poll_id, voter)
    );
    CREATE INDEX archon_votes_voter ON archon_votes (voter, voted_at);
    CREATE TABLE archon_alias (
        singleton_id INTEGER PRIMARY KEY CHECK (singleton_id = 1),
        did_cid TEXT NOT NULL,
        gateway_url TEXT NOT NULL,
        registered_at INTEGER NOT NULL
    );
    CREATE TABLE archon_outbox (
        entry_id TEXT PRIMARY KEY,
        operation TEXT NOT NULL,
        payload_json TEXT NOT NULL,
        status TEXT NOT NULL,
        retry_count INTEGER NOT NULL DEFAULT 0,
        max_retries INTEGER NOT NULL DEFAULT 5,
        created_at INTEGER NOT NULL,
        next_retry_at INTEGER NOT NULL,
        last_error TEXT NOT NULL DEFAULT '',
        result_json TEXT
    );
    CREATE INDEX archon_outbox_due ON archon_outbox (status, next_retry_at);
    """,
    # 5: revoked key bindings, each with its revocation document (signed by both keys);
    # a revoked binding leaves archon_bindings in the same transaction
    """
    CREATE TABLE archon_binding_revocations (
        binding_id TEXT NOT NULL,
        did TEXT NOT NULL,
        binding_type TEXT NOT NULL,
        subject TEXT NOT NULL,
        binding_created_at INTEGER NOT NULL,
        revoked_at INTEGER NOT NULL,
        reason TEXT NOT NULL,
        binding_json TEXT NOT NULL,
        revocation_json TEXT NOT NULL,
        PRIMARY KEY (binding_id, revoked_at)
    );
    CREATE INDEX archon_binding_revocations_did
        ON archon_binding_revocations (did, revoked_at);
    """,
)


def open_archon_store(path: str | os.PathLike[str]) -> Store:
    return Store(path, MIGRATIONS, busy_timeout_ms=30000)
