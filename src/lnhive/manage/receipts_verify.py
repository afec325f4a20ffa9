"""Verifying a receipt chain, online (the store) or offline (a JSON Lines export).

The verifier walks the chain from seq 1 in order. Each receipt is re-hashed from its
canonical body and must carry the expected ``seq`` and the previous ``receipt_hash`` as
``prev_hash``; with ``full=True`` its signature is checked too. Every checkpoint's
signature is checked; a checkpoint whose receipts are present must match their Merkle
root and last hash; a checkpoint whose receipts are absent (pruned, or left out of a
filtered export) stands for its segment and anchors the next receipt's ``prev_hash``.
A *redacted* entry ``{seq, prev_hash, receipt_hash}`` (another advisor's receipt in a
filtered export) keeps the links and Merkle roots checkable without its content.

The result names the first bad sequence number — by position, so a tampered ``seq``
field still names the place where the chain broke — and why.

Export format (one JCS object per line, ``\\n`` after each): a header
``{"header": {...}}`` signed by the receipt key, then, segment by segment in seq order,
``{"receipt": {...}}`` or ``{"redacted": {...}}`` lines followed by the segment's
``{"checkpoint": {...}}`` line (a segment whose receipts are absent is its checkpoint
line alone), then the receipts after the last checkpoint. See ``docs/receipts.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lnhive.core import bip340
from lnhive.core.canonical import canonical_hash, canonical_json, without
from lnhive.core.errors import InvalidInput
from lnhive.core.hashing import sha256_hex
from lnhive.manage.receipts import (
    ZERO_HASH,
    body_problem,
    checkpoint_problem,
    is_hash_hex,
    is_sig_hex,
    loads_strict,
    merkle_root_hex,
)
from lnhive.manage.receipts_key import attestation_problem

EXPORT_FORMAT = "lnhive-receipts"
EXPORT_VERSION = 1
HEADER_FIELDS: tuple[str, ...] = (
    "format",
    "v",
    "attestation",
    "to_seq",
    "to_hash",
    "exported_at",
    "filters",
    "sig",
)
REDACTED_FIELDS: tuple[str, ...] = ("seq", "prev_hash", "receipt_hash")


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    """Receipts whose hash was recomputed (redacted and pruned ones are not counted)."""
    first_bad_seq: int | None
    reason: str | None
    receipt_key: str | None = None
    node_id: str | None = None
    to_seq: int = 0
    """Last sequence number the chain accounts for."""

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "first_bad_seq": self.first_bad_seq,
            "reason": self.reason,
        }


class ChainBroken(Exception):
    def __init__(self, seq: int | None, reason: str) -> None:
        super().__init__(reason)
        self.seq = seq
        self.reason = reason


def signed_digest(obj: Mapping[str, Any]) -> bytes:
    """SHA-256(JCS(obj without ``sig``)): what checkpoints and export headers sign."""
    return canonical_hash(without(obj, "sig"))


def check_sig(pubkey_hex: str, digest: bytes, sig_hex: object) -> bool:
    if not is_sig_hex(sig_hex):
        return False
    assert isinstance(sig_hex, str)
    return bip340.verify(bytes.fromhex(pubkey_hex), digest, bytes.fromhex(sig_hex))


class ChainVerifier:
    """Feed the chain in order (:meth:`receipt`, :meth:`redacted`, :meth:`checkpoint`),
    then :meth:`finish`. Each feed raises :class:`ChainBroken` at the first defect."""

    def __init__(self, receipt_key: str, *, full: bool = False) -> None:
        self.receipt_key = receipt_key
        self.full = full
        self.expected = 1
        self.prev = ZERO_HASH
        self.prev_redacted = False
        self.segment_start = 1
        self.leaves: list[str] = []
        self.checked = 0

    def receipt(self, body_bytes: bytes, receipt_hash: object, sig: object) -> None:
        """A receipt given as its stored canonical body bytes, hash and signature."""
        seq = self.expected
        try:
            body = loads_strict(body_bytes.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ChainBroken(seq, f"receipt {seq} does not parse: {exc}") from None
        if not isinstance(body, dict):
            raise ChainBroken(seq, f"receipt {seq} is not an object")
        problem = body_problem(body)
        if problem is not None:
            raise ChainBroken(seq, f"receipt {seq} is malformed: {problem}")
        if body["seq"] != seq:
            raise ChainBroken(seq, f"expected receipt {seq}, found seq {body['seq']}")
        if not is_hash_hex(receipt_hash) or sha256_hex(body_bytes) != receipt_hash:
            raise ChainBroken(seq, f"receipt {seq}: receipt_hash does not match its content")
        assert isinstance(receipt_hash, str)
        self._link(seq, body["prev_hash"])
        if self.full and not check_sig(self.receipt_key, bytes.fromhex(receipt_hash), sig):
            raise ChainBroken(seq, f"receipt {seq}: bad signature")
        if not self.full and not is_sig_hex(sig):
            raise ChainBroken(seq, f"receipt {seq}: sig is not 128 lowercase hex")
        self.checked += 1
        self._advance(receipt_hash, redacted=False)

    def receipt_object(self, receipt: object) -> None:
        """A whole receipt object (as exported): its body is re-canonicalised."""
        seq = self.expected
        if not isinstance(receipt, dict):
            raise ChainBroken(seq, f"receipt {seq} is not an object")
        body = without(receipt, "receipt_hash", "sig")
        if "receipt_hash" not in receipt or "sig" not in receipt:
            raise ChainBroken(seq, f"receipt {seq} lacks receipt_hash or sig")
        try:
            body_bytes = canonical_json(body)
        except InvalidInput as exc:
            raise ChainBroken(
                seq, f"receipt {seq} cannot be canonicalised: {exc.message}"
            ) from None
        self.receipt(body_bytes, receipt["receipt_hash"], receipt["sig"])

    def redacted(self, entry: object) -> None:
        seq = self.expected
        if not isinstance(entry, dict) or sorted(entry) != sorted(REDACTED_FIELDS):
            raise ChainBroken(seq, f"redacted entry {seq} is malformed")
        if entry["seq"] != seq or type(entry["seq"]) is not int:
            raise ChainBroken(seq, f"expected receipt {seq}, found redacted seq {entry['seq']}")
        if not is_hash_hex(entry["prev_hash"]) or not is_hash_hex(entry["receipt_hash"]):
            raise ChainBroken(seq, f"redacted entry {seq} has malformed hashes")
        self._link(seq, entry["prev_hash"])
        self._advance(entry["receipt_hash"], redacted=True)

    def _link(self, seq: int, prev_hash: str) -> None:
        if prev_hash != self.prev:
            if self.prev_redacted:
                raise ChainBroken(
                    seq - 1,
                    f"redacted receipt {seq - 1}: its hash is not receipt {seq}'s prev_hash",
                )
            raise ChainBroken(seq, f"receipt {seq}: prev_hash does not match receipt {seq - 1}")

    def _advance(self, receipt_hash: str, *, redacted: bool) -> None:
        self.leaves.append(receipt_hash)
        self.prev = receipt_hash
        self.prev_redacted = redacted
        self.expected += 1

    def checkpoint(self, cp: object, *, absent_ok: bool) -> None:
        """A checkpoint; ``absent_ok`` says whether its receipts may be absent (pruned or
        filtered out) when none of them was fed."""
        start = self.segment_start
        if not isinstance(cp, dict):
            raise ChainBroken(start, "checkpoint is not an object")
        problem = checkpoint_problem(cp)
        if problem is not None:
            raise ChainBroken(start, f"checkpoint from {start} is malformed: {problem}")
        span = f"checkpoint {cp['from_seq']}..{cp['to_seq']}"
        if cp["from_seq"] != start:
            raise ChainBroken(start, f"{span} should start at {start}")
        if not check_sig(self.receipt_key, signed_digest(cp), cp["sig"]):
            raise ChainBroken(start, f"{span}: bad signature")
        if self.leaves:
            if self.expected - 1 < cp["to_seq"]:
                raise ChainBroken(self.expected, f"receipt {self.expected} missing ({span})")
            if self.expected - 1 > cp["to_seq"]:
                raise ChainBroken(start, f"{span} ends before receipt {self.expected - 1}")
            if merkle_root_hex(self.leaves) != cp["merkle_root"]:
                raise ChainBroken(start, f"{span}: merkle root does not match its receipts")
            if cp["last_receipt_hash"] != self.prev:
                raise ChainBroken(start, f"{span}: last_receipt_hash does not match")
        else:
            if not absent_ok:
                raise ChainBroken(start, f"receipts {span} missing (not pruned)")
            self.prev = cp["last_receipt_hash"]
            self.prev_redacted = False
            self.expected = cp["to_seq"] + 1
        self.segment_start = cp["to_seq"] + 1
        self.leaves = []

    def finish(self, to_seq: int, to_hash: str | None = None) -> None:
        """The chain must account for every seq up to ``to_seq`` and, when given, end with
        the hash ``to_hash``."""
        if self.expected - 1 < to_seq:
            raise ChainBroken(
                self.expected, f"receipt {self.expected} missing (chain ends at {to_seq})"
            )
        if self.expected - 1 > to_seq:
            raise ChainBroken(to_seq + 1, f"receipts after {to_seq} were not expected")
        if to_hash is not None and self.prev != to_hash:
            raise ChainBroken(to_seq, f"receipt {to_seq}: hash differs from the header's to_hash")


def verify_export(
    lines: str | bytes | Iterable[str],
    *,
    node_id: str | None = None,
    receipt_key: str | None = None,
    full: bool = False,
) -> VerifyResult:
    """Verify an export offline against the node id and/or the attested receipt key.

    ``node_id`` (66 hex): the header's attestation must be signed by that node.
    ``receipt_key`` (64 hex): the attested receipt key must be this one. At least one is
    required; without ``full`` receipt signatures are not checked (checkpoint and header
    signatures always are). Every line must be exactly the JCS form of its object.
    """
    if node_id is None and receipt_key is None:
        raise InvalidInput("verify_export needs the node id or the receipt key to trust")
    items: list[str | bytes]
    if isinstance(lines, str | bytes):
        newline = "\n" if isinstance(lines, str) else b"\n"
        if not lines.endswith(newline):  # type: ignore[arg-type]
            return VerifyResult(False, 0, None, "export does not end with a newline")
        items = list(lines[:-1].split(newline))  # type: ignore[arg-type]
    else:
        items = [line[:-1] if line.endswith("\n") else line for line in lines]
    if not items:
        return VerifyResult(False, 0, None, "export is empty")
    header = _parse_line(items[0])
    if header is None or list(header) != ["header"]:
        return VerifyResult(False, 0, None, "first line is not a canonical header")
    problem = _header_problem(header["header"], node_id, receipt_key)
    if problem is not None:
        return VerifyResult(False, 0, None, problem)
    hdr = header["header"]
    key = str(hdr["attestation"]["receipt_key"])
    nid = str(hdr["attestation"]["node_id"])
    verifier = ChainVerifier(key, full=full)
    try:
        for text in items[1:]:
            line = _parse_line(text)
            if line is None or len(line) != 1:
                raise ChainBroken(*_damaged_line(verifier, text))
            ((kind, value),) = line.items()
            if kind == "receipt":
                verifier.receipt_object(value)
            elif kind == "redacted":
                verifier.redacted(value)
            elif kind == "checkpoint":
                verifier.checkpoint(value, absent_ok=True)
            else:
                raise ChainBroken(*_damaged_line(verifier, text))
        verifier.finish(int(hdr["to_seq"]), str(hdr["to_hash"]))
    except ChainBroken as bad:
        return VerifyResult(
            False, verifier.checked, bad.seq, bad.reason, key, nid, verifier.expected - 1
        )
    return VerifyResult(True, verifier.checked, None, None, key, nid, verifier.expected - 1)


_CHECKPOINT_MARKERS = ('"from_seq":', '"merkle_root":', '"last_receipt_hash":')


def _damaged_line(verifier: ChainVerifier, line: str | bytes) -> tuple[int, str]:
    """Where to blame a line that does not parse as an export line.

    What the line was meant to be is a guess (a diagnostic only): one that starts as a
    checkpoint line, or does not start as a receipt line but still holds two of a
    checkpoint's keys, is taken for the checkpoint of the current segment; anything else
    for the next receipt."""
    text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
    looks_like_receipt = text.startswith(('{"receipt":', '{"redacted":'))
    if text.startswith('{"checkpoint":') or (
        not looks_like_receipt and sum(marker in text for marker in _CHECKPOINT_MARKERS) >= 2
    ):
        start = verifier.segment_start
        return start, f"checkpoint line from {start} is damaged (not a canonical export line)"
    seq = verifier.expected
    return seq, f"line of receipt {seq} is damaged (not a canonical export line)"


def _parse_line(line: str | bytes) -> dict[str, Any] | None:
    """The object on a line if the line is exactly its JCS form (UTF-8), else ``None``."""
    try:
        text = line.decode("utf-8") if isinstance(line, bytes) else line
        obj = loads_strict(text)
        if not isinstance(obj, dict) or canonical_json(obj).decode("utf-8") != text:
            return None
    except (ValueError, InvalidInput):  # UnicodeDecodeError is a ValueError
        return None
    return obj


def _header_problem(hdr: object, node_id: str | None, receipt_key: str | None) -> str | None:
    if not isinstance(hdr, dict) or sorted(hdr) != sorted(HEADER_FIELDS):
        return "header fields differ"
    if hdr["format"] != EXPORT_FORMAT or hdr["v"] != EXPORT_VERSION:
        return f"not an {EXPORT_FORMAT} v{EXPORT_VERSION} export"
    if type(hdr["to_seq"]) is not int or hdr["to_seq"] < 0:
        return "header to_seq must be a non-negative integer"
    if not is_hash_hex(hdr["to_hash"]):
        return "header to_hash must be 64 lowercase hex"
    problem = attestation_problem(hdr["attestation"], node_id)
    if problem is not None:
        return problem
    key = hdr["attestation"]["receipt_key"]
    if receipt_key is not None and key != receipt_key:
        return f"export is signed by receipt key {key}, not {receipt_key}"
    if not check_sig(key, signed_digest(hdr), hdr["sig"]):
        return "header: bad signature"
    return None


def main(argv: list[str] | None = None) -> int:
    """``python -m lnhive.manage.receipts_verify EXPORT --node-id ID [--full]``: verify an
    export file offline; prints the result as JSON; exit status 0 when it verifies."""
    import argparse
    import json
    import sys
    from pathlib import Path

    parser = argparse.ArgumentParser(description="Verify an lnhive receipt export offline.")
    parser.add_argument("export", type=Path)
    parser.add_argument("--node-id", help="the node id (66 hex) that must attest the key")
    parser.add_argument("--receipt-key", help="the receipt key (64 hex) to require")
    parser.add_argument("--full", action="store_true", help="check every receipt signature")
    args = parser.parse_args(argv)
    if args.node_id is None and args.receipt_key is None:
        parser.error("give --node-id or --receipt-key")
    result = verify_export(
        args.export.read_bytes(),
        node_id=args.node_id,
        receipt_key=args.receipt_key,
        full=args.full,
    )
    out = dict(result.to_json(), receipt_key=result.receipt_key, node_id=result.node_id)
    out["to_seq"] = result.to_seq
    sys.stdout.write(json.dumps(out) + "\n")
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
