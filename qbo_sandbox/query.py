"""The QBO query language as python-quickbooks emits it (qbo-api.md §4 "Query language").

`SELECT * | COUNT(*) | *, Sku | f1, f2 FROM Entity [WHERE a op v AND ...] [ORDER BY|ORDERBY f [ASC|DESC]]
[STARTPOSITION n] [MAXRESULTS n]`; keywords, entities and fields case-insensitive; ops = < > <= >= IN
LIKE; backslash-escaped quotes; Python-style booleans. The trailing clauses come in any order
(cassette all/customers.yml sends MAXRESULTS before STARTPOSITION).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from qbo_sandbox import errors
from qbo_sandbox.entities.common import COMMON_FIELDS
from qbo_sandbox.entities.registry import BY_LOWER_NAME
from qbo_sandbox.store import Realm

MAX_RESULTS = 1000
DEFAULT_RESULTS = 100
TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:\\.|[^'\\])*')
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<op><=|>=|!=|<>|=|<|>)
      | (?P<punct>[(),*])
      | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
    )""",
    re.VERBOSE,
)
EXTRA_QUERYABLE = frozenset({"metadata.createtime", "metadata.lastupdatedtime", "active"})


@dataclass
class Condition:
    field: str
    op: str
    values: list[object]


@dataclass
class Query:
    entity: str
    count: bool = False
    fields: list[str] = field(default_factory=list)
    conditions: list[Condition] = field(default_factory=list)
    order: list[tuple[str, bool]] = field(default_factory=list)
    start: int = 1
    limit: int = DEFAULT_RESULTS


def tokenize(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    text = text.strip().rstrip(";")
    while position < len(text):
        match = TOKEN.match(text, position)
        if match is None or match.end() == position:
            if text[position:].strip() == "":
                break
            raise errors.bad_query(f'Encountered " "{text[position]}" at column {position + 1}.')
        kind = match.lastgroup
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


class Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.position = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def next(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise errors.bad_query('Encountered "<EOF>". Was expecting more input.')
        self.position += 1
        return token

    def keyword(self, *words: str) -> bool:
        token = self.peek()
        if token and token[0] == "word" and token[1].upper() in words:
            self.position += 1
            return True
        return False

    def expect_keyword(self, word: str) -> None:
        if not self.keyword(word):
            found = self.peek()
            raise errors.bad_query(
                f'Encountered "{found[1] if found else "<EOF>"}". Was expecting {word}.'
            )

    def parse(self) -> Query:
        self.expect_keyword("SELECT")
        count, fields = self.parse_projection()
        self.expect_keyword("FROM")
        kind, entity = self.next()
        if kind != "word":
            raise errors.bad_query(f'Encountered "{entity}". Was expecting an entity.')
        query = Query(entity=entity, count=count, fields=fields)
        while self.peek() is not None:
            self.parse_clause(query)
        return query

    def parse_projection(self) -> tuple[bool, list[str]]:
        if self.keyword("COUNT"):
            if [self.next()[1] for _ in range(3)] != ["(", "*", ")"]:
                raise errors.bad_query("Encountered COUNT without (*).")
            return True, []
        fields = []
        while True:
            kind, value = self.next()
            if kind not in ("word", "punct") or value in ("(", ")", ","):
                raise errors.bad_query(f'Encountered "{value}". Was expecting a field.')
            fields.append(value)
            token = self.peek()
            if token != ("punct", ","):
                return False, ([] if "*" in fields else fields)
            self.position += 1

    def parse_clause(self, query: Query) -> None:
        if self.keyword("WHERE"):
            query.conditions.append(self.parse_condition())
            while self.keyword("AND"):
                query.conditions.append(self.parse_condition())
        elif self.keyword("ORDERBY") or (self.keyword("ORDER") and self.by()):
            query.order = self.parse_order()
        elif self.keyword("STARTPOSITION"):
            query.start = self.integer("STARTPOSITION")
        elif self.keyword("MAXRESULTS"):
            query.limit = self.integer("MAXRESULTS")
        else:
            raise errors.bad_query(f'Encountered "{self.peek()[1]}". Was expecting a clause.')

    def by(self) -> bool:
        self.expect_keyword("BY")
        return True

    def integer(self, clause: str) -> int:
        kind, value = self.next()
        if kind != "number" or not value.isdigit():
            raise errors.bad_query(f'Encountered "{value}" after {clause}.')
        return int(value)

    def parse_order(self) -> list[tuple[str, bool]]:
        order = []
        while True:
            kind, name = self.next()
            if kind != "word":
                raise errors.bad_query(f'Encountered "{name}" in ORDER BY.')
            descending = self.keyword("DESC")
            if not descending:
                self.keyword("ASC")
            order.append((name, descending))
            if self.peek() != ("punct", ","):
                return order
            self.position += 1

    def parse_condition(self) -> Condition:
        kind, name = self.next()
        if kind != "word":
            raise errors.bad_query(f'Encountered "{name}". Was expecting a property.')
        if self.keyword("IN"):
            return Condition(name, "IN", self.parse_list())
        if self.keyword("LIKE"):
            return Condition(name, "LIKE", [self.value()])
        kind, op = self.next()
        if kind != "op" or op in ("!=", "<>"):
            raise errors.bad_query(f'Encountered "{op}". Was expecting an operator.')
        return Condition(name, op, [self.value()])

    def parse_list(self) -> list[object]:
        if self.next() != ("punct", "("):
            raise errors.bad_query("IN needs a list in parentheses.")
        values = [self.value()]
        while self.peek() == ("punct", ","):
            self.position += 1
            values.append(self.value())
        if self.next() != ("punct", ")"):
            raise errors.bad_query("Unclosed IN list.")
        return values

    def value(self) -> object:
        kind, raw = self.next()
        if kind == "string":
            return re.sub(r"\\(.)", r"\1", raw[1:-1])
        if kind == "number":
            return float(raw) if "." in raw else int(raw)
        if kind == "word" and raw.lower() in ("true", "false"):
            return raw.lower() == "true"  # python-quickbooks writes Active = False
        raise errors.bad_query(f'Encountered "{raw}". Was expecting a value.')


def parse(text: str) -> Query:
    return Parser(text).parse()


def run(realm: Realm, text: str) -> tuple[str, dict]:
    """Execute a query; returns (entity name, QueryResponse body)."""
    query = parse(text)
    rules = BY_LOWER_NAME.get(query.entity.lower())
    if rules is None:
        raise errors.invalid_query(f"invalid context declaration: {query.entity}")
    if query.limit > MAX_RESULTS:
        raise errors.invalid_query(
            f"value {query.limit} is too large. Max allowed value is {MAX_RESULTS}"
        )
    for value in (query.start, query.limit):
        if value < 1:  # quickbooks-ruby fixture query_validation_error.xml
            raise errors.invalid_query(f"value {value} is too small. Min allowed value is 1")
    queryable = {k.lower() for k in rules.known | COMMON_FIELDS} | EXTRA_QUERYABLE
    for name in [c.field for c in query.conditions] + [o[0] for o in query.order]:
        if name.lower() not in queryable and name.split(".")[0].lower() not in queryable:
            raise errors.invalid_query(f"property '{name}' is not queryable")
    rows = [r for r in realm.table(rules.name).values() if _matches(r, query.conditions)]
    if rules.kind == "name" and not any(c.field.lower() == "active" for c in query.conditions):
        rows = [
            r for r in rows if r.get("Active", True)
        ]  # inactive ones are hidden (qbo-api.md §4)
    if query.count:
        return rules.name, {"totalCount": len(rows)}
    rows = _sorted(rows, query.order, rules.sort_key)
    page = rows[query.start - 1 : query.start - 1 + query.limit]
    if not page:
        return rules.name, {}
    if query.fields:
        page = [_project(r, query.fields) for r in page]
    return rules.name, {
        rules.name: page,
        "startPosition": query.start,
        "maxResults": len(page),
    }


def _lookup(record: dict, path: str) -> object:
    value: object = record
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        lowered = part.lower()
        value = next((v for k, v in value.items() if k.lower() == lowered), None)
    if isinstance(value, dict) and "value" in value:
        return value["value"]  # CustomerRef = '1' compares the ref's value
    return value


def _coerce(actual: object, wanted: object) -> tuple[object, object]:
    if isinstance(actual, bool):
        return actual, wanted if isinstance(wanted, bool) else str(wanted).lower() == "true"
    if isinstance(actual, int | float):
        try:
            return float(actual), float(wanted)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return str(actual), str(wanted)
    text, other = str(actual), str(wanted)
    if text.isdigit() and other.isdigit():
        return int(text), int(other)
    if "T" in text and len(text) > 10:
        moments = (_moment(text), _moment(other))
        if None not in moments:
            return moments
    return text, other


def _moment(text: str) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _compare(actual: object, op: str, values: list[object]) -> bool:
    if actual is None:
        return False
    if op == "IN":
        return any(_compare(actual, "=", [v]) for v in values)
    if op == "LIKE":
        pattern = "^" + ".*".join(re.escape(p) for p in str(values[0]).split("%")) + "$"
        return re.match(pattern, str(actual), re.IGNORECASE | re.DOTALL) is not None
    left, right = _coerce(actual, values[0])
    try:
        if op == "=":
            return left == right
        return {"<": left < right, ">": left > right, "<=": left <= right, ">=": left >= right}[op]
    except TypeError:
        return False


def _matches(record: dict, conditions: list[Condition]) -> bool:
    return all(_compare(_lookup(record, c.field), c.op, c.values) for c in conditions)


def _sorted(rows: list[dict], order: list[tuple[str, bool]], default_key) -> list[dict]:
    if not order:
        return sorted(rows, key=default_key)
    for name, descending in reversed(order):
        present = [r for r in rows if _lookup(r, name) is not None]
        missing = [r for r in rows if _lookup(r, name) is None]
        present.sort(key=lambda r: _sort_value(_lookup(r, name)), reverse=descending)
        rows = present + missing
    return rows


def _sort_value(value: object) -> tuple:
    if isinstance(value, bool | int | float):
        return (0, float(value), "")
    text = str(value)
    return (0, float(text), "") if text.isdigit() else (1, 0.0, text.casefold())


def _project(record: dict, fields: list[str]) -> dict:
    wanted = {f.lower() for f in fields} | {"id"}
    projected = {k: v for k, v in record.items() if k.lower() in wanted}
    projected.update({"domain": "QBO", "sparse": True})
    return projected
