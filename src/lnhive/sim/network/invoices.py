"""Invoices: real BOLT11 (regtest ``lnbcrt``) encoded and signed with the ``bolt11`` package.

Encoding and decoding cost milliseconds, so every invoice this process encodes is
remembered by its string and ``decode`` keeps a bounded cache: payment loops never
decode twice. Status (unpaid/paid/expired) is evaluated from timestamps.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import bolt11
from bolt11 import Bolt11, MilliSatoshi, TagChar, Tags
from bolt11.models.features import Feature, Features, FeatureState

from lnhive.core.hashing import sha256
from lnhive.sim.errors import RpcError

if TYPE_CHECKING:
    from lnhive.sim.network.model import Network

INVOICE_LABEL_ALREADY_EXISTS = 900
INVOICE_PREIMAGE_ALREADY_EXISTS = 901
INVOICE_EXPIRED_DURING_WAIT = 903
INVOICE_WAIT_TIMED_OUT = 904
INVOICE_NOT_FOUND = 905

DEFAULT_EXPIRY = 604_800  # CLN: one week
DEFAULT_CLTV = 18  # CLN: cltv-final


@dataclass(frozen=True, slots=True)
class Decoded:
    """The fields of a BOLT11 invoice the model needs (and decode's answer)."""

    bolt11: str
    currency: str
    created_at: int
    expiry: int
    payee: str
    amount_msat: int | None
    payment_hash: str
    payment_secret: str | None
    description: str | None
    description_hash: str | None
    min_final_cltv_expiry: int
    features: str | None
    signature: str

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "bolt11 invoice",
            "valid": True,
            "currency": self.currency,
            "created_at": self.created_at,
            "expiry": self.expiry,
            "payee": self.payee,
        }
        if self.amount_msat is not None:
            out["amount_msat"] = self.amount_msat
        out["payment_hash"] = self.payment_hash
        out["signature"] = self.signature
        if self.description is not None:
            out["description"] = self.description
        if self.description_hash is not None:
            out["description_hash"] = self.description_hash
        out["min_final_cltv_expiry"] = self.min_final_cltv_expiry
        if self.payment_secret is not None:
            out["payment_secret"] = self.payment_secret
        if self.features is not None:
            out["features"] = self.features
        return out


_CACHE: OrderedDict[str, Decoded] = OrderedDict()
_CACHE_SIZE = 4096


def _remember(d: Decoded) -> Decoded:
    _CACHE[d.bolt11] = d
    _CACHE.move_to_end(d.bolt11)
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return d


def _der_signature(raw: bytes) -> str:
    """CLN prints the signature as DER hex; build DER from the 64-byte compact r‖s."""

    def _int(b: bytes) -> bytes:
        b = b.lstrip(b"\x00") or b"\x00"
        if b[0] & 0x80:
            b = b"\x00" + b
        return b"\x02" + bytes([len(b)]) + b

    body = _int(raw[:32]) + _int(raw[32:64])
    return (b"\x30" + bytes([len(body)]) + body).hex()


def _feature_hex(bits: Any) -> str:
    length = (int(bits.len) + 7) // 8
    return int(bits.uint).to_bytes(length, "big").hex() if length else ""


def decode(invstring: str, *, full: bool = False) -> Decoded:
    """Decode (and check the signature of) a BOLT11 string; cached. Raises ValueError.

    Invoices this process encoded are cached without their printed signature; ``full``
    asks for it (``decode`` RPC), at the price of a real decode.
    """
    s = invstring.strip().lower()
    if s.startswith("lightning:"):
        s = s[len("lightning:") :]
    hit = _CACHE.get(s)
    if hit is not None and (hit.signature or not full):
        return hit
    try:
        inv = bolt11.decode(s)
    except Exception as exc:  # the package raises many kinds of errors
        raise ValueError(f"Invalid bolt11: {exc}") from exc
    sig = inv.signature
    feats = inv.features
    return _remember(
        Decoded(
            bolt11=s,
            currency=inv.currency,
            created_at=int(inv.date),
            expiry=int(inv.expiry),
            payee=str(inv.payee),
            amount_msat=None if inv.amount_msat is None else int(inv.amount_msat),
            payment_hash=str(inv.payment_hash),
            payment_secret=inv.payment_secret,
            description=inv.description,
            description_hash=inv.description_hash,
            min_final_cltv_expiry=int(inv.min_final_cltv_expiry),
            features=None if feats is None else _feature_hex(feats.data),
            signature=_der_signature(sig.signature_data[:64]) if sig is not None else "",
        )
    )


def encode(
    secret: bytes,
    *,
    payment_hash: str,
    payment_secret: str,
    amount_msat: int | None,
    description: str,
    created_at: int,
    expiry: int,
    cltv: int,
) -> str:
    """Encode and sign a regtest invoice with the node's key."""
    tags = Tags()
    tags.add(TagChar.payment_hash, payment_hash)
    tags.add(TagChar.payment_secret, payment_secret)
    tags.add(TagChar.description, description)
    tags.add(TagChar.expire_time, expiry)
    tags.add(TagChar.min_final_cltv_expiry, cltv)
    tags.add(
        TagChar.features,
        Features.from_feature_list(
            {
                Feature.var_onion_optin: FeatureState.required,
                Feature.payment_secret: FeatureState.required,
                Feature.basic_mpp: FeatureState.supported,
            }
        ),
    )
    inv = Bolt11(
        currency="bcrt",
        date=created_at,
        tags=tags,
        amount_msat=None if amount_msat is None else MilliSatoshi(amount_msat),
    )
    text: str = bolt11.encode(inv, secret.hex())
    return text


@dataclass(slots=True)
class Invoice:
    label: str
    payment_hash: str
    preimage: str
    payment_secret: str
    amount_msat: int | None
    description: str
    created_at: int
    expires_at: int
    cltv: int
    created_index: int
    bolt11: str | None = None
    paid_at: int | None = None
    pay_index: int | None = None
    amount_received_msat: int | None = None
    updated_index: int | None = None
    waiters: list[Callable[[Invoice], None]] = field(default_factory=list)

    def status(self, now: float) -> str:
        if self.paid_at is not None:
            return "paid"
        if now >= self.expires_at:
            return "expired"
        return "unpaid"

    def to_json(self, now: float) -> dict[str, Any]:
        status = self.status(now)
        out: dict[str, Any] = {"label": self.label}
        if self.bolt11 is not None:
            out["bolt11"] = self.bolt11
        out["payment_hash"] = self.payment_hash
        if self.amount_msat is not None:
            out["amount_msat"] = self.amount_msat
        out["status"] = status
        out["description"] = self.description
        out["expires_at"] = self.expires_at
        out["created_index"] = self.created_index
        if self.updated_index is not None:
            out["updated_index"] = self.updated_index
        if status == "paid":
            out["pay_index"] = self.pay_index
            out["amount_received_msat"] = self.amount_received_msat
            out["paid_at"] = self.paid_at
            out["payment_preimage"] = self.preimage
        return out


@dataclass
class InvoiceBook:
    """One node's invoices, by label and by payment hash."""

    by_label: dict[str, Invoice] = field(default_factory=dict)
    by_hash: dict[str, Invoice] = field(default_factory=dict)
    created: int = 0
    updated: int = 0
    paid: int = 0

    def add(self, inv: Invoice) -> None:
        if inv.label in self.by_label:
            raise RpcError(INVOICE_LABEL_ALREADY_EXISTS, "Duplicate label")
        if inv.payment_hash in self.by_hash:
            raise RpcError(INVOICE_PREIMAGE_ALREADY_EXISTS, "preimage already used")
        self.by_label[inv.label] = inv
        self.by_hash[inv.payment_hash] = inv

    def next_created(self) -> int:
        self.created += 1
        return self.created

    def mark_paid(self, inv: Invoice, amount_msat: int, now: float) -> None:
        self.paid += 1
        self.updated += 1
        inv.paid_at = int(now)
        inv.pay_index = self.paid
        inv.amount_received_msat = amount_msat
        inv.updated_index = self.updated
        waiters, inv.waiters = inv.waiters, []
        for w in waiters:
            w(inv)

    def wait(self, label: str, callback: Callable[[Invoice], None]) -> Invoice:
        """Call ``callback(invoice)`` once ``label`` is paid (at once if it already is)."""
        inv = self.by_label.get(label)
        if inv is None:
            raise RpcError(INVOICE_NOT_FOUND, "Unknown invoice")
        if inv.paid_at is not None:
            callback(inv)
        else:
            inv.waiters.append(callback)
        return inv


def create_invoice(
    net: Network,
    node_id: str,
    *,
    amount_msat: int | None,
    label: str,
    description: str,
    expiry: int = DEFAULT_EXPIRY,
    preimage: str | None = None,
    cltv: int = DEFAULT_CLTV,
    encode_bolt11: bool = True,
) -> Invoice:
    """Create (and sign, unless ``encode_bolt11`` is false) an invoice at ``node_id``."""
    node = net.nodes[node_id]
    book = node.invoices
    if label in book.by_label:
        raise RpcError(INVOICE_LABEL_ALREADY_EXISTS, "Duplicate label")
    pre = preimage if preimage is not None else net.rng.randbytes(32).hex()
    payment_hash = sha256(bytes.fromhex(pre)).hex()
    if payment_hash in book.by_hash:
        raise RpcError(INVOICE_PREIMAGE_ALREADY_EXISTS, "preimage already used")
    secret = net.rng.randbytes(32).hex()
    now = int(net.clock.now())
    inv = Invoice(
        label=label,
        payment_hash=payment_hash,
        preimage=pre,
        payment_secret=secret,
        amount_msat=amount_msat,
        description=description,
        created_at=now,
        expires_at=now + expiry,
        cltv=cltv,
        created_index=book.next_created(),
    )
    if encode_bolt11:
        inv.bolt11 = encode(
            node.secret,
            payment_hash=payment_hash,
            payment_secret=secret,
            amount_msat=amount_msat,
            description=description,
            created_at=now,
            expiry=expiry,
            cltv=cltv,
        )
        _remember(
            Decoded(
                bolt11=inv.bolt11,
                currency="bcrt",
                created_at=now,
                expiry=expiry,
                payee=node_id,
                amount_msat=amount_msat,
                payment_hash=payment_hash,
                payment_secret=secret,
                description=description,
                description_hash=None,
                min_final_cltv_expiry=cltv,
                features="024100",
                signature="",
            )
        )
    book.add(inv)
    if net.has_subscribers:
        payload: dict[str, Any] = {"label": label, "preimage": pre}
        if amount_msat is not None:
            payload["msat"] = amount_msat
        net.emit(node_id, "invoice_creation", payload)
    return inv
