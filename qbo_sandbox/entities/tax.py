"""Tax codes per country and the tax on a sales form.

US companies use the pseudo codes TAX/NON on lines (qbo-api.md §4 TaxCode); UK and AU companies use
numeric ids whose names carry the rate ("20.0% S", "GST"). The sandbox computes tax only for UK/AU
and treats US lines as non-taxable (automated sales tax is not emulated).
"""

from __future__ import annotations

from qbo_sandbox.entities.common import add, money
from qbo_sandbox.store import Realm

# code id -> (name, description, rate id, percent)
TAX_CODES: dict[str, dict[str, tuple[str, str, str | None, float]]] = {
    "US": {
        "TAX": ("TAX", "TAX", None, 0.0),
        "NON": ("NON", "NON", None, 0.0),
    },
    "UK": {
        "2": ("20.0% S", "Standard rated sales", "3", 20.0),
        "4": ("5.0% R", "Reduced rated sales", "5", 5.0),
        "6": ("0.0% Z", "Zero rated sales", "7", 0.0),
        "8": ("Exempt", "Exempt sales", "9", 0.0),
    },
    "AU": {
        "4": ("GST", "GST", "5", 10.0),
        "6": ("FRE", "GST free", "7", 0.0),
        "8": ("EXPORT", "Export sales", "9", 0.0),
    },
}


def tax_code_records(country: str) -> list[dict]:
    records = []
    for code_id, (name, description, rate_id, _percent) in TAX_CODES[country].items():
        record = {
            "Name": name,
            "Description": description,
            "Active": True,
            "Taxable": rate_id is not None or code_id == "TAX",
            "TaxGroup": False,
            "Id": code_id,
        }
        if rate_id is not None:
            record["SalesTaxRateList"] = {
                "TaxRateDetail": [
                    {
                        "TaxRateRef": {"value": rate_id, "name": name},
                        "TaxTypeApplicable": "TaxOnAmount",
                        "TaxOrder": 0,
                    }
                ]
            }
            record["PurchaseTaxRateList"] = {"TaxRateDetail": []}
        records.append(record)
    return records


def _us_tax_detail(data: dict, lines: list[dict]) -> tuple[dict, float, bool]:
    """US companies on manual sales tax: the tax amount the caller states on the form.

    QBO takes an explicit TxnTaxDetail.TotalTax (with its TxnTaxCodeRef) on a form that has
    taxable ("TAX") lines; without one, or without taxable lines, the form carries no tax. This
    sandbox does not emulate automated sales tax (AST), which computes the amount from addresses.
    """
    detail = data.get("TxnTaxDetail") or {}
    taxable = any(
        (line.get("SalesItemLineDetail") or {}).get("TaxCodeRef", {}).get("value") == "TAX"
        for line in lines
    )
    stated = money(float(detail.get("TotalTax") or 0))
    if not taxable or stated <= 0:
        return {"TotalTax": 0}, 0.0, False
    kept = {"TotalTax": stated}
    if detail.get("TxnTaxCodeRef"):
        kept["TxnTaxCodeRef"] = detail["TxnTaxCodeRef"]
    return kept, stated, False


def tax_detail(
    realm: Realm, data: dict, lines: list[dict], subtotal: float
) -> tuple[dict, float, bool]:
    """(TxnTaxDetail, total tax, amounts-include-tax) for a sales form."""
    country = realm.settings.country
    if country == "US":
        return _us_tax_detail(data, lines)
    mode = data.get("GlobalTaxCalculation") or "TaxExcluded"
    if mode == "NotApplicable":
        return {"TotalTax": 0}, 0.0, False
    inclusive = mode == "TaxInclusive"
    by_code: dict[str, float] = {}
    for line in lines:
        detail = line.get("SalesItemLineDetail")
        if detail and "TaxCodeRef" in detail:
            code = detail["TaxCodeRef"]["value"]
            by_code[code] = add(by_code.get(code, 0), line["Amount"])
    tax_lines, total_tax = [], 0.0
    for code, base in by_code.items():
        _name, _desc, rate_id, percent = TAX_CODES[country].get(code, ("", "", None, 0.0))
        if rate_id is None:
            continue
        amount = money(base * percent / (100 + percent) if inclusive else base * percent / 100)
        total_tax = add(total_tax, amount)
        tax_lines.append(
            {
                "Amount": amount,
                "DetailType": "TaxLineDetail",
                "TaxLineDetail": {
                    "TaxRateRef": {"value": rate_id},
                    "PercentBased": True,
                    "TaxPercent": percent,
                    "NetAmountTaxable": money(base - amount if inclusive else base),
                },
            }
        )
    return {"TotalTax": total_tax, "TaxLine": tax_lines}, total_tax, inclusive
