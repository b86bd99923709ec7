"""Sales-form documents: `POST /{entity}/{id}/send[?sendTo=]` and `GET /{entity}/{id}/pdf` (qbo-api.md §4).

The sandbox sends no e-mail: `send` records what QBO records (EmailStatus, DeliveryInfo, BillEmail)
and `pdf` answers a one-page PDF that names the document.
"""

from __future__ import annotations

from qbo_sandbox import clock, errors
from qbo_sandbox.entities.base import Writer
from qbo_sandbox.entities.registry import RULES
from qbo_sandbox.store import Realm

SENDABLE = ("Invoice", "CreditMemo")


def send_document(
    realm: Realm, entity: str, record: dict, send_to: str | None
) -> tuple[dict, Writer]:
    if entity not in SENDABLE:
        raise errors.unsupported_operation(f"/v3/company/{realm.realm_id}/{entity.lower()}/send")
    address = send_to or record.get("BillEmail", {}).get("Address")
    if not address:
        raise errors.business_rule("Missing Email Address: enter an email address to send to.")
    updated = {k: v for k, v in record.items() if k not in ("SyncToken", "MetaData")}
    updated["EmailStatus"] = "EmailSent"
    updated["BillEmail"] = {"Address": address}
    updated["DeliveryInfo"] = {
        "DeliveryType": "Email",
        "DeliveryTime": clock.meta_time(realm.now()),
    }
    writer = Writer(realm)
    sent = writer.commit_update(RULES[entity], record, updated, "Emailed", side_effects=False)
    return sent, writer


def pdf_bytes(entity: str, record: dict) -> bytes:
    """A minimal valid single-page PDF naming the document."""
    title = f"{entity} {record.get('DocNumber') or record['Id']} total {record.get('TotalAmt', 0)}"
    text = title.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    stream = f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)
