"""Fault bodies against the quickbooks-ruby XML fixtures (../shared/qbo-recordings/quickbooks-ruby).

No JSON 429 was ever recorded (qbo-api.md §1, SOURCE.md "Not covered"); too_many_requests_error.xml is
the one real throttle body, so the XML mode is compared element by element. generic_error.xml and
query_validation_error.xml give the server-error and query-range faults.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from . import cassettes
from .helpers import (  # noqa: F401
    RawApi,
    deadline_fixture,
    sandbox_process_fixture,
)

pytestmark = cassettes.recordings_required

# --- XML fixtures (quickbooks-ruby) ------------------------------------------------------------

_NS = "{http://schema.intuit.com/finance/v3}"


def test_it_throttles_with_the_recorded_xml_body(sandbox) -> None:
    """A 429 in XML mode has the shape of too_many_requests_error.xml (qbo-api.md §1)."""
    fixture = ET.parse(cassettes.XML_FIXTURES / "too_many_requests_error.xml").getroot()  # noqa: S314
    api = RawApi.for_new_realm(sandbox, retry_throttled=False)
    sandbox.control(
        "PUT", f"realms/{api.realm_id}/faults", {"throttle_burst": 1, "throttle_format": "xml"}
    )
    response = api.request(
        "GET", "/query", {"query": "SELECT * FROM Customer", "minorversion": "75"}
    )
    assert response.status_code == 429
    root = ET.fromstring(response.content)  # noqa: S314
    assert root.tag == fixture.tag == f"{_NS}IntuitResponse"
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d", root.attrib["time"]
    ), root.attrib
    want_fault, fault = fixture.find(f"{_NS}Fault"), root.find(f"{_NS}Fault")
    assert fault is not None and fault.attrib == want_fault.attrib == {"type": "SERVICE"}
    want_error, error = want_fault.find(f"{_NS}Error"), fault.find(f"{_NS}Error")
    assert error is not None and error.attrib == want_error.attrib == {"code": "3001"}
    for child in ("Message", "Detail"):
        assert error.findtext(f"{_NS}{child}") == want_error.findtext(f"{_NS}{child}")
    # The burst was one request: the next one goes through.
    after = api.request("GET", "/query", {"query": "SELECT * FROM Customer", "minorversion": "75"})
    assert after.status_code == 200


def test_it_throttles_with_the_documented_json_body(sandbox) -> None:
    """JSON mode renders the same fault in the JSON envelope (qbo-api.md §1, marked unverified)."""
    api = RawApi.for_new_realm(sandbox, retry_throttled=False)
    sandbox.control(
        "PUT", f"realms/{api.realm_id}/faults", {"throttle_burst": 1, "throttle_format": "json"}
    )
    response = api.request(
        "GET", "/query", {"query": "SELECT * FROM Customer", "minorversion": "75"}
    )
    assert response.status_code == 429
    body = response.json()
    assert set(body) == {"Fault", "time"}
    assert body["Fault"]["type"] == "SERVICE"
    (error,) = body["Fault"]["Error"]
    assert error["code"] == "3001"
    assert error["Message"] == "message=ThrottleExceeded; errorCode=003001; statusCode=429"
    assert error["Detail"] == "The request limit was reached.  Try again later"


def test_it_answers_a_server_error_as_a_system_fault(sandbox) -> None:
    """A 5xx fault carries generic_error.xml's SystemFault 10000 (qbo-api.md §2, code 10000)."""
    fixture = ET.parse(cassettes.XML_FIXTURES / "generic_error.xml").getroot()  # noqa: S314
    want = fixture.find(f"{_NS}Fault")
    api = RawApi.for_new_realm(sandbox)
    sandbox.control("PUT", f"realms/{api.realm_id}/faults", {"error_5xx_rate": 1})
    response = api.request("GET", "/query", {"query": "SELECT * FROM Customer"})
    assert 500 <= response.status_code <= 599
    if "json" in response.headers.get("Content-Type", ""):
        fault = response.json()["Fault"]
        assert fault["type"] == want.attrib["type"] == "SystemFault"
        assert [e["code"] for e in fault["Error"]] == ["10000"]
        assert fault["Error"][0]["Message"] == want.find(f"{_NS}Error").findtext(f"{_NS}Message")
    else:
        root = ET.fromstring(response.content)  # noqa: S314
        assert root.find(f"{_NS}Fault").attrib == want.attrib
    sandbox.control("PUT", f"realms/{api.realm_id}/faults", {"error_5xx_rate": 0})
    assert api.request("GET", "/query", {"query": "SELECT * FROM Customer"}).status_code == 200


@pytest.mark.parametrize("clause", ["STARTPOSITION 0", "MAXRESULTS 0"])
def test_it_rejects_a_zero_page_clause_like_the_fixture(sandbox, clause: str) -> None:
    """query_validation_error.xml: 4001 "Invalid query", value 0 below the minimum of 1.

    The fixture does not say which clause it came from; both are 1-based counts (qbo-api.md §1:
    STARTPOSITION is 1-based, MAXRESULTS 1..1000) and the message is the same range check the
    sandbox already applies to MAXRESULTS 1001.
    """
    fixture = ET.parse(cassettes.XML_FIXTURES / "query_validation_error.xml").getroot()  # noqa: S314
    want = fixture.find(f"{_NS}Fault/{_NS}Error")
    api = RawApi.for_new_realm(sandbox)
    response = api.request("GET", "/query", {"query": f"SELECT * FROM Customer {clause}"})
    assert response.status_code == 400
    (error,) = response.json()["Fault"]["Error"]
    assert error["code"] == want.attrib["code"] == "4001"
    assert error["Message"] == want.findtext(f"{_NS}Message") == "Invalid query"
    assert error["Detail"] == want.findtext(f"{_NS}Detail")


def test_it_rejects_more_than_1000_results_as_an_invalid_query(sandbox) -> None:
    """qbo-api.md §1: MAXRESULTS max 1000; same fault family as query_validation_error.xml."""
    api = RawApi.for_new_realm(sandbox)
    response = api.request("GET", "/query", {"query": "SELECT * FROM Customer MAXRESULTS 1001"})
    assert response.status_code == 400
    (error,) = response.json()["Fault"]["Error"]
    assert (error["code"], error["Message"]) == ("4001", "Invalid query")
    assert "1000" in error["Detail"]


def _children(name: str) -> list[str]:
    root = ET.parse(cassettes.XML_FIXTURES / name).getroot()  # noqa: S314
    return [child.tag for child in root]


def test_it_serves_preferences_with_the_fixture_groups(sandbox) -> None:
    """preferences.xml: the preference groups a company answers with, plus the flags this
    project reads (custom numbers, class tracking, currencies)."""
    api = RawApi.for_new_realm(sandbox)
    response = api.request("GET", "/preferences", {"minorversion": "75"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"Preferences", "time"}
    prefs = body["Preferences"]
    assert set(_children("preferences.xml")) <= set(prefs)
    assert prefs["domain"] == "QBO" and prefs["sparse"] is False
    assert {"CustomTxnNumbers", "AutoApplyCredit"} <= set(prefs["SalesFormsPrefs"])
    assert {"ClassTrackingPerTxn", "ClassTrackingPerTxnLine", "TrackDepartments"} <= set(
        prefs["AccountingInfoPrefs"]
    )
    assert set(prefs["CurrencyPrefs"]) == {"MultiCurrencyEnabled", "HomeCurrency"}


def test_it_serves_company_info_with_the_fixture_fields(sandbox) -> None:
    """company_info.xml: identity, names, addresses, start date, country, languages."""
    api = RawApi.for_new_realm(sandbox)
    response = api.request("GET", f"/companyinfo/{api.realm_id}", {"minorversion": "75"})
    assert response.status_code == 200
    info = response.json()["CompanyInfo"]
    wanted = {
        "Id",
        "SyncToken",
        "MetaData",
        "CompanyName",
        "LegalName",
        "CompanyAddr",
        "CompanyStartDate",
        "Country",
        "SupportedLanguages",
    }
    assert wanted <= set(_children("company_info.xml"))  # the expectation is the fixture's
    assert wanted <= set(info), wanted - set(info)
    assert info["Country"] == "US" and info["CompanyName"] == "Conformance Co"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", info["CompanyStartDate"])
    # The query form answers the same single row (company_info_query.xml).
    rows = api.query("SELECT * FROM CompanyInfo")["CompanyInfo"]
    assert [row["Id"] for row in rows] == [info["Id"]]
