"""A plain HTML view of the QBO side, for people (the brief's "HTML view").

Deep links mirror QBO's (`https://app.qbo.intuit.com/app/invoice?txnId=ID`) plus `realm=R`, so the app
can link to `/app/invoice?txnId=ID&realm=R`. Writes go through the same entity rules as the API, so an
edit here bumps SyncToken, moves balances and fires webhooks exactly like an API write. Local tool:
no CSRF, but every value is escaped.
"""

from __future__ import annotations

from html import escape
from urllib.parse import parse_qs, urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from qbo_sandbox import errors
from qbo_sandbox.context import Sandbox
from qbo_sandbox.entities.base import Writer
from qbo_sandbox.entities.registry import RULES
from qbo_sandbox.store import Realm

STYLE = (
    "body{font-family:sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse}"
    "td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}.err{color:#b00}"
    "form.inline{display:inline}"
)
LIST_PAGES = {"Invoice": "invoice", "CreditMemo": "creditmemo", "Payment": "recvpayment"}


def routes(bind) -> list[Route]:
    return [
        Route("/", bind(home)),
        Route("/app/homepage", bind(realm_page)),
        Route("/app/invoice", bind(invoice_page)),
        Route("/app/creditmemo", bind(txn_page)),
        Route("/app/recvpayment", bind(txn_page)),
        Route("/app/customerdetail", bind(customer_page)),
        Route("/app/invoice/{action}", bind(invoice_action), methods=["POST"]),
    ]


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><p><a href='/'>QBO sandbox</a></p>"
        f"<h1>{escape(title)}</h1>{body}</body></html>",
        status_code=status,
    )


def _link(path: str, realm: Realm, **params: str) -> str:
    return f"{path}?{urlencode({**params, 'realm': realm.realm_id})}"


def _realm(sandbox: Sandbox, request: Request) -> Realm | None:
    return sandbox.realm(request.query_params.get("realm", ""))


def _not_found() -> HTMLResponse:
    return _page("Not found", "<p>No such company or record.</p>", status=404)


def home(sandbox: Sandbox, _request: Request) -> Response:
    rows = "".join(
        f"<tr><td><a href='{escape(_link('/app/homepage', r))}'>{escape(r.settings.name)}</a></td>"
        f"<td>{escape(r.realm_id)}</td><td>{escape(r.settings.country)}</td></tr>"
        for r in sandbox.state.realms.values()
    )
    return _page(
        "Sandbox companies",
        f"<table><tr><th>Company</th><th>Realm</th><th>Country</th></tr>{rows}</table>",
    )


def realm_page(sandbox: Sandbox, request: Request) -> Response:
    realm = _realm(sandbox, request)
    if realm is None:
        return _not_found()
    parts = [_customers_table(realm)]
    for entity, page in LIST_PAGES.items():
        parts.append(_txn_table(realm, entity, page))
    return _page(f"{realm.settings.name} ({realm.realm_id})", "".join(parts))


def _customers_table(realm: Realm) -> str:
    rows = "".join(
        f"<tr><td><a href='{escape(_link('/app/customerdetail', realm, nameId=c['Id']))}'>"
        f"{escape(c['DisplayName'])}</a></td><td>{escape(str(c.get('Active')))}</td>"
        f"<td>{c.get('Balance', 0):.2f}</td></tr>"
        for c in sorted(realm.table("Customer").values(), key=lambda c: c["DisplayName"].casefold())
    )
    return (
        "<h2>Customers</h2><table><tr><th>Name</th><th>Active</th><th>Balance</th></tr>"
        f"{rows}</table>"
    )


def _txn_table(realm: Realm, entity: str, page: str, customer_id: str | None = None) -> str:
    records = [
        r
        for r in realm.table(entity).values()
        if customer_id is None or r["CustomerRef"]["value"] == customer_id
    ]
    rows = "".join(
        f"<tr><td><a href='{escape(_link('/app/' + page, realm, txnId=r['Id']))}'>"
        f"{escape(r.get('DocNumber') or '#' + r['Id'])}</a></td><td>{escape(r.get('TxnDate', ''))}</td>"
        f"<td>{escape(r['CustomerRef'].get('name', ''))}</td><td>{r.get('TotalAmt', 0):.2f}</td>"
        f"<td>{_open_amount(r):.2f}</td></tr>"
        for r in sorted(records, key=lambda r: int(r["Id"]))
    )
    return (
        f"<h2>{escape(entity)}s</h2><table><tr><th>No.</th><th>Date</th><th>Customer</th>"
        f"<th>Total</th><th>Open</th></tr>{rows}</table>"
    )


def _open_amount(record: dict) -> float:
    for key in ("Balance", "RemainingCredit", "UnappliedAmt"):
        if key in record:
            return float(record[key])
    return 0.0


def customer_page(sandbox: Sandbox, request: Request) -> Response:
    realm = _realm(sandbox, request)
    customer = realm and realm.get("Customer", request.query_params.get("nameId", ""))
    if not customer:
        return _not_found()
    tables = "".join(_txn_table(realm, e, p, customer["Id"]) for e, p in LIST_PAGES.items())
    return _page(
        customer["DisplayName"],
        f"<p>Balance {customer.get('Balance', 0):.2f}</p>{_fields(customer)}{tables}",
    )


def txn_page(sandbox: Sandbox, request: Request) -> Response:
    realm = _realm(sandbox, request)
    entity = "CreditMemo" if request.url.path.endswith("creditmemo") else "Payment"
    record = realm and realm.get(entity, request.query_params.get("txnId", ""))
    if not record:
        return _not_found()
    return _page(f"{entity} {record.get('DocNumber') or record['Id']}", _fields(record))


def _fields(record: dict) -> str:
    rows = "".join(
        f"<tr><th>{escape(k)}</th><td>{escape(_text(v))}</td></tr>"
        for k, v in record.items()
        if k != "Line"
    )
    lines = "".join(f"<li>{escape(_text(line))}</li>" for line in record.get("Line", []))
    return f"<table>{rows}</table>" + (f"<h3>Lines</h3><ul>{lines}</ul>" if lines else "")


def _text(value: object) -> str:
    if isinstance(value, dict) and "value" in value:
        return f"{value.get('name', '')} ({value['value']})"
    return str(value)


def invoice_page(sandbox: Sandbox, request: Request, error: str = "") -> Response:
    realm = _realm(sandbox, request)
    invoice = realm and realm.get("Invoice", request.query_params.get("txnId", ""))
    if not invoice:
        return _not_found()
    notice = f"<p class='err'>{escape(error)}</p>" if error else ""
    body = notice + _invoice_forms(realm, invoice) + _fields(invoice)
    return _page(
        f"Invoice {invoice.get('DocNumber') or invoice['Id']}", body, status=400 if error else 200
    )


def _invoice_forms(realm: Realm, invoice: dict) -> str:
    def target(action: str) -> str:
        return escape(_link(f"/app/invoice/{action}", realm, txnId=invoice["Id"]))

    token = f"<input type='hidden' name='SyncToken' value='{escape(invoice['SyncToken'])}'>"
    lines = "".join(
        f"<p>Line {escape(line['Id'])}: <input name='line_{escape(line['Id'])}_description' "
        f"value='{escape(line.get('Description', ''))}'> amount <input name='line_{escape(line['Id'])}"
        f"_amount' value='{line['Amount']}'></p>"
        for line in invoice["Line"]
        if line.get("DetailType") == "SalesItemLineDetail"
    )
    memo = invoice.get("CustomerMemo", {}).get("value", "")
    return (
        f"<p>Total {invoice['TotalAmt']:.2f}, balance {invoice['Balance']:.2f}, "
        f"SyncToken {escape(invoice['SyncToken'])}</p>"
        f"<h2>Edit</h2><form method='post' action='{target('edit')}'>{token}"
        f"<p>Date <input type='date' name='TxnDate' value='{escape(invoice.get('TxnDate', ''))}'>"
        f"</p><p>Memo <input name='CustomerMemo' value='{escape(memo)}'></p>{lines}"
        "<button>Save</button></form>"
        f"<h2>Receive payment</h2><form method='post' action='{target('payment')}'>"
        f"<p>Amount <input name='amount' value='{invoice['Balance']}'> Date <input type='date' "
        "name='date'> Memo <input name='memo'></p><button>Record payment</button></form>"
        f"<h2>Void</h2><form method='post' action='{target('void')}'>{token}"
        "<button>Void invoice</button></form>"
    )


async def invoice_action(sandbox: Sandbox, request: Request) -> Response:
    realm = _realm(sandbox, request)
    invoice = realm and realm.get("Invoice", request.query_params.get("txnId", ""))
    if not invoice:
        return _not_found()
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
    writer = Writer(realm)
    action = request.path_params["action"]
    try:
        if action == "edit":
            writer.update(RULES["Invoice"], _edited_invoice(invoice, form))
        elif action == "void":
            writer.void(RULES["Invoice"], {"Id": invoice["Id"], "SyncToken": form.get("SyncToken")})
        elif action == "payment":
            writer.create(RULES["Payment"], _payment_for(invoice, form))
        else:
            return _not_found()
    except errors.QboFault as fault:
        return invoice_page(sandbox, request, error=f"{fault.code} {fault.message}: {fault.detail}")
    sandbox.record_changes(writer.changes)
    return RedirectResponse(_link("/app/invoice", realm, txnId=invoice["Id"]), status_code=303)


def _edited_invoice(invoice: dict, form: dict) -> dict:
    lines = []
    for line in invoice["Line"]:
        if line.get("DetailType") == "SubTotalLineDetail":
            continue
        line = dict(line)
        prefix = f"line_{line['Id']}_"
        if prefix + "amount" in form:
            line["Amount"] = form[prefix + "amount"]
            line.get("SalesItemLineDetail", {}).pop("UnitPrice", None)
            line.get("SalesItemLineDetail", {}).pop("Qty", None)
        if form.get(prefix + "description"):
            line["Description"] = form[prefix + "description"]
        lines.append(line)
    body = {"Id": invoice["Id"], "SyncToken": form.get("SyncToken"), "sparse": True, "Line": lines}
    if form.get("TxnDate"):
        body["TxnDate"] = form["TxnDate"]
    if "CustomerMemo" in form:
        body["CustomerMemo"] = {"value": form["CustomerMemo"]}
    return body


def _payment_for(invoice: dict, form: dict) -> dict:
    amount = form.get("amount") or invoice["Balance"]
    payment = {
        "CustomerRef": {"value": invoice["CustomerRef"]["value"]},
        "TotalAmt": amount,
        "Line": [{"Amount": amount, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}],
    }
    if form.get("date"):
        payment["TxnDate"] = form["date"]
    if form.get("memo"):
        payment["PrivateNote"] = form["memo"]
    return payment
