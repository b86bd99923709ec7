"""QBO fault shapes (qbo-api.md §2).

Every Error carries a string `code`, because python-quickbooks does `int(code)` on the first Error and
crashes on a missing one. The 401 answer uses Intuit's other, lowercase envelope
(cassette error/401.yml) and the 429 answer exists in a JSON and an XML rendering (§1).
"""

from __future__ import annotations

import datetime as dt
from xml.sax.saxutils import escape

INACTIVE_DETAIL = (
    "Object Not Found : Something you're trying to use has been made inactive. "
    "Check the fields with accounts, customers, items, vendors or employees."
)
DELETED_DETAIL = "Object Not Found : Another user has deleted this transaction."
THROTTLE_MESSAGE = "message=ThrottleExceeded; errorCode=003001; statusCode=429"
THROTTLE_DETAIL = "The request limit was reached.  Try again later"


class QboFault(Exception):
    """A fault the API answers with; raised anywhere below the request handler."""

    def __init__(
        self,
        code: str,
        message: str,
        detail: str,
        *,
        element: str = "",
        status: int = 400,
        fault_type: str = "ValidationFault",
    ) -> None:
        super().__init__(f"{code} {message}: {detail}")
        self.code = code
        self.message = message
        self.detail = detail
        self.element = element
        self.status = status
        self.fault_type = fault_type

    def fault(self) -> dict:
        error = {"Message": self.message, "Detail": self.detail, "code": self.code}
        error["element"] = self.element
        return {"Error": [error], "type": self.fault_type}


def fault_envelope(fault: QboFault, time: str) -> dict:
    return {"Fault": fault.fault(), "time": time}


def stale_object(entity: str) -> QboFault:
    # Detail text as in cassette batch/basic.yml (user name replaced by a neutral one).
    return QboFault(
        "5010",
        "Stale Object Error",
        "Stale Object Error : You and Sandbox User were working on this at the same time. "
        f"Sandbox User finished before you did, so your work was not saved. Entity={entity}",
    )


def inactive_reference() -> QboFault:
    return QboFault("610", "Object Not Found", INACTIVE_DETAIL)


def deleted_object() -> QboFault:
    return QboFault("610", "Object Not Found", DELETED_DETAIL)


def invalid_reference(entity: str, value: str) -> QboFault:
    return QboFault(
        "2500",
        "Invalid Reference Id",
        f"Invalid Reference Id : {entity} assigned to this transaction has been deleted or does "
        f"not exist (Id={value}).",
    )


def required_missing(name: str) -> QboFault:
    return QboFault(
        "2020",
        "Required param missing, need to supply the required value for the API",
        f"Required parameter {name} is missing in the request",
        element=name,
    )


def invalid_id(value: object) -> QboFault:
    # Cassette error/500.yml (second interaction): element "Id".
    return QboFault(
        "2030", "Invalid ID", f"Id should be a valid number. Supplied value:{value}", element="Id"
    )


def too_long(field: str, limit: int) -> QboFault:
    # quickbooks-ruby fixture fault.xml: "Length exceeds limit", element = the field.
    return QboFault(
        "2050",
        "Length exceeds limit",
        f"Length of the field exceeds {limit} chars",
        element=field,
    )


def unknown_property(entity: str, name: str, known: frozenset[str]) -> QboFault:
    # Shape of cassette error/400_json.yml.
    listed = ", ".join(f'"{k}"' for k in sorted(known))
    return QboFault(
        "2010",
        "Request has invalid or unsupported property",
        f'Property Name:Unrecognized field "{name}" (class com.intuit.schema.finance.v3.{entity}), '
        f"not marked as ignorable ({len(known)} known properties: {listed}])\n "
        "specified is unsupported or invalid",
    )


def duplicate_name() -> QboFault:
    # Cassette error/validation.yml.
    return QboFault(
        "6240", "Duplicate Name Exists Error", "The name supplied already exists. : null"
    )


def duplicate_doc_number() -> QboFault:
    return QboFault(
        "6140",
        "Duplicate Document Number Error",
        "Duplicate Document Number Error : You must specify a different number. "
        "This number has already been used.",
    )


def period_closed() -> QboFault:
    return QboFault(
        "6210",
        "Account Period Closed",
        "The account period has closed and the account books cannot be updated through the QBO "
        "Services API. Please use the QBO website to make these changes.",
    )


def business_rule(detail: str) -> QboFault:
    return QboFault(
        "6000",
        "A business validation error has occurred while processing your request",
        f"Business Validation Error: {detail}",
    )


def unsupported_operation(path: str) -> QboFault:
    # Cassette error/500.yml: an unknown URL path answers code 500 with HTTP 400.
    return QboFault(
        "500",
        "Unsupported Operation",
        f"Operation Could not find resource for relative : {path} of full path: "
        f"https://sandbox.qbo.intuit.com/qbo50{path} is not supported.",
    )


def bad_query(detail: str) -> QboFault:
    return QboFault("4000", "Error parsing query", f"QueryParserError: {detail}")


def invalid_query(detail: str) -> QboFault:
    # Cassette error/400.yml.
    return QboFault("4001", "Invalid query", f"QueryValidationError: {detail}")


def unauthorized_envelope(token: str) -> dict:
    """The lowercase 401 body (cassette error/401.yml); `time` is epoch millis there."""
    return {
        "warnings": None,
        "intuitObject": None,
        "fault": {
            "error": [
                {
                    "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                    "detail": f"Token expired: {token[:50]}",
                    "code": "3200",
                    "element": None,
                }
            ],
            "type": "AUTHENTICATION",
        },
        "report": None,
        "queryResponse": None,
        "batchItemResponse": [],
        "attachableResponse": [],
        "syncErrorResponse": None,
        "requestId": None,
        "time": int(dt.datetime.now(dt.UTC).timestamp() * 1000),
        "status": None,
        "cdcresponse": [],
    }


def throttle_json(time: str) -> dict:
    fault = QboFault("3001", THROTTLE_MESSAGE, THROTTLE_DETAIL, status=429, fault_type="SERVICE")
    body = fault.fault()
    del body["Error"][0]["element"]
    return {"Fault": body, "time": time}


def throttle_xml(time: str) -> str:
    # quickbooks-ruby spec/fixtures/too_many_requests_error.xml, byte for byte apart from the time.
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<IntuitResponse time="{escape(time)}" xmlns="http://schema.intuit.com/finance/v3">\n'
        '  <Fault type="SERVICE">\n'
        '    <Error code="3001">\n'
        f"      <Message>{THROTTLE_MESSAGE}</Message>\n"
        f"      <Detail>{THROTTLE_DETAIL}</Detail>\n"
        "    </Error>\n"
        "  </Fault>\n"
        "</IntuitResponse>\n"
    )


def server_error(time: str) -> dict:
    # quickbooks-ruby generic_error.xml rendered as JSON: SystemFault 10000.
    fault = QboFault(
        "10000",
        "An application error has occurred while processing your request",
        "System Failure Error: An unexpected error occurred while accessing or saving your data.",
        status=500,
        fault_type="SystemFault",
    )
    return fault_envelope(fault, time)
