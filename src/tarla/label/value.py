"""The label as one value: a drug's rows of one version, grouped by table, with a content hash.

Source: the row tables of this package (label-facts.md, version US-PI-2025-11) for the built-in
label (:func:`current_label`); a later version arrives as data, a revision file naming its base
version and the rows it changes, adds and removes (:func:`load_label_revision`), never as an
edit in place (label-facts §8). A site signs off rows of one version *and content hash*
(label-facts §9): the hash pins the signature to the exact rows the signer read.

Each row is a :class:`LabelRow`: what every table row has (``rule_id``, ``tag``, ``text``), the
table it belongs to (the module that defines it: ``monitoring``, ``toxicity`` ...) and the rest
of its fields as canonical JSON, so two versions compare field by field (:func:`diff`) and hash
the same way on every run. The course engine still computes with the typed rows of the modules;
these values are what is registered, compared and signed.

Pure: no I/O (the caller reads a revision file and passes its text), no clock, no module state.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from enum import Enum
from types import MappingProxyType
from typing import Any

from tarla.domain.errors import InvalidInput
from tarla.label import LABEL_SOURCE, LABEL_VERSION, all_rules
from tarla.label import toxicity as _toxicity
from tarla.label.rows import Provenance, RuleRow

__all__ = ["DRUG", "REVISION_FORMAT", "LABEL_FORMAT", "load_label", "LabelRow", "LabelTable",
           "Label", "RowChange", "LabelDiff", "current_label", "label_from_rows", "load_label_revision",
           "revision_base", "diff", "content_hash_of", "canonical_json"]

#: The drug every row of this package describes.
DRUG = "tarlatamab"
#: The ``format`` a revision file declares (bumped if the file's shape ever changes).
REVISION_FORMAT = "tarla-label-revision/1"
#: The ``format`` of a whole label file (every row of one version of a drug's label).
LABEL_FORMAT = "tarla-label/1"

_COMMON = ("rule_id", "tag", "text")
_RULE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_VERSION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
_HASH = re.compile(r"[0-9a-f]{64}")
_TABLE = re.compile(r"[a-z][a-z0-9_]{0,31}")
_TEXT_MAX = 4000
_TAGS = ", ".join(t.value for t in Provenance)


def canonical_json(value: Any) -> str:
    """The one serialisation hashed and stored: sorted keys, no spaces, UTF-8 text as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


# --------------------------------------------------------------------------- the value


@dataclass(frozen=True, slots=True)
class LabelRow:
    """One cited row of a label version, as data. ``fields_json`` is the canonical JSON object
    of the table-specific fields (everything but rule id, tag and text)."""

    rule_id: str
    tag: Provenance
    text: str
    table: str
    fields_json: str = "{}"

    def __post_init__(self) -> None:
        parsed = json.loads(self.fields_json)
        if not isinstance(parsed, dict) or canonical_json(parsed) != self.fields_json:
            raise ValueError(f"{self.rule_id}: fields_json is not a canonical JSON object")
        if not isinstance(self.tag, Provenance):
            raise ValueError(f"{self.rule_id}: tag {self.tag!r} is not a Provenance")

    @classmethod
    def of(cls, rule_id: str, tag: Provenance, text: str, table: str,
           fields: Mapping[str, Any] | None = None) -> LabelRow:
        return cls(rule_id, tag, text, table, canonical_json(dict(fields or {})))

    @property
    def fields(self) -> Mapping[str, Any]:
        """The table-specific fields (a read-only view of a fresh copy)."""
        return MappingProxyType(json.loads(self.fields_json))

    def canonical(self) -> dict[str, Any]:
        return {"rule_id": self.rule_id, "table": self.table, "tag": self.tag.value,
                "text": self.text, "fields": json.loads(self.fields_json)}


@dataclass(frozen=True, slots=True)
class LabelTable:
    name: str
    rows: tuple[LabelRow, ...]


def content_hash_of(rows: Iterable[LabelRow]) -> str:
    """sha256 (hex) of the canonical JSON list of every row, rule ids sorted."""
    body = [r.canonical() for r in sorted(rows, key=lambda r: r.rule_id)]
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Label:
    """One version of a drug's label: its rows grouped by table, and their content hash."""

    drug: str
    version: str
    source: str
    tables: tuple[LabelTable, ...]
    base_version: str | None = None  # the version a revision was made from
    content_hash: str = field(init=False, default="")

    def __post_init__(self) -> None:
        if not self.drug or not self.version:
            raise ValueError("a label needs a drug and a version id")
        seen: set[str] = set()
        names: set[str] = set()
        for table in self.tables:
            if table.name in names:
                raise ValueError(f"table {table.name!r} appears twice")
            names.add(table.name)
            for row in table.rows:
                if row.table != table.name:
                    raise ValueError(f"{row.rule_id} says table {row.table!r}, is in "
                                     f"{table.name!r}")
                if row.rule_id in seen:
                    raise ValueError(f"rule id {row.rule_id} appears twice")
                seen.add(row.rule_id)
        object.__setattr__(self, "content_hash", content_hash_of(self.rows))

    @property
    def rows(self) -> tuple[LabelRow, ...]:
        return tuple(r for t in self.tables for r in t.rows)

    @property
    def rule_ids(self) -> frozenset[str]:
        return frozenset(r.rule_id for t in self.tables for r in t.rows)

    @property
    def table_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tables)

    def row(self, rule_id: str) -> LabelRow:
        for t in self.tables:
            for r in t.rows:
                if r.rule_id == rule_id:
                    return r
        raise KeyError(rule_id)


def label_from_rows(*, drug: str, version: str, source: str, rows: Iterable[LabelRow],
                    base_version: str | None = None) -> Label:
    """A label from rows in any order (e.g. read back from storage): tables in the order their
    first row comes, rows in the order given."""
    grouped: dict[str, list[LabelRow]] = {}
    for row in rows:
        grouped.setdefault(row.table, []).append(row)
    return Label(drug, version, source,
                 tuple(LabelTable(name, tuple(rs)) for name, rs in grouped.items()),
                 base_version)


# --------------------------------------------------------------------------- the built-in label


def _duration(value: timedelta) -> str:
    """ISO 8601 duration (``PT4H``, ``P7D``, ``PT1H30M``)."""
    total = int(value.total_seconds())
    if total != value.total_seconds() or total < 0:
        raise ValueError(f"duration {value!r} is not a whole, non-negative number of seconds")
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    clock = "".join(f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M"), (seconds, "S"))
                    if n)
    if not (days or clock):
        return "PT0S"
    return "P" + (f"{days}D" if days else "") + (f"T{clock}" if clock else "")


def _plain(value: Any) -> Any:
    """A row field as a JSON value (enums by value, decimals as text, durations ISO 8601)."""
    if isinstance(value, Enum):
        return _plain(value.value)
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} has no JSON form")
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, timedelta):
        return _duration(value)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    raise TypeError(f"no canonical form for {type(value).__name__} {value!r}")


def _fields_of(row: RuleRow) -> dict[str, Any]:
    if not dataclasses.is_dataclass(row) or isinstance(row, type):
        raise TypeError(f"{row.rule_id} is not a dataclass row")
    return {f.name: _plain(getattr(row, f.name)) for f in dataclasses.fields(row)
            if f.name not in _COMMON}


def _table_of(row: RuleRow) -> str:
    return type(row).__module__.rsplit(".", 1)[-1]


def current_label() -> Label:
    """The built-in label (US-PI-2025-11), built from the row tables of this package on each
    call. Its rows are :func:`tarla.label.all_rules`; a row cited under one id by two tables
    (the ANC and platelet thresholds are a toxicity rule and a lab threshold) is one row
    carrying the fields of both."""
    order: list[str] = []
    tables: dict[str, str] = {}
    heads: dict[str, RuleRow] = {}
    fields: dict[str, dict[str, Any]] = {}
    for row in (*all_rules(), *_toxicity.LAB_THRESHOLDS):
        rid, own = row.rule_id, _fields_of(row)
        if rid not in heads:
            order.append(rid)
            tables[rid], heads[rid], fields[rid] = _table_of(row), row, own
            continue
        head = heads[rid]
        if (head.tag, head.text) != (row.tag, row.text):
            raise ValueError(f"{rid} is cited with two tags or texts")
        for name, value in own.items():
            if fields[rid].setdefault(name, value) != value:
                raise ValueError(f"{rid}.{name} has two values")
    rows = (LabelRow.of(rid, heads[rid].tag, heads[rid].text, tables[rid], fields[rid])
            for rid in order)
    return label_from_rows(drug=DRUG, version=LABEL_VERSION, source=LABEL_SOURCE, rows=rows)


# --------------------------------------------------------------------------- revisions


def _document(text: str) -> dict[str, Any]:
    if not isinstance(text, str):
        raise InvalidInput("revision", "must be the text of a revision file")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput("revision", f"is not JSON (line {exc.lineno}, column {exc.colno}: "
                                       f"{exc.msg})") from None
    if not isinstance(doc, dict):
        raise InvalidInput("revision", "must be a JSON object")
    return doc


def _text(obj: Mapping[str, Any], key: str, where: str, *, pattern: re.Pattern[str] | None = None,
          what: str = "text", limit: int = _TEXT_MAX) -> str:
    value = obj.get(key)
    if value is None:
        raise InvalidInput(where, "is missing")
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(where, f"must be non-empty {what}")
    if len(value) > limit:
        raise InvalidInput(where, f"is too long ({limit} characters at most)")
    if pattern is not None and not pattern.fullmatch(value):
        raise InvalidInput(where, f"{value!r} is not a valid {what}")
    return value


def _only(obj: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    extra = sorted(set(obj) - set(allowed))
    if extra:
        prefix = f"{where}." if where else ""
        raise InvalidInput(f"{prefix}{extra[0]}", f"is not a key of a revision "
                                                  f"{'row' if where else 'file'} (keys: "
                                                  f"{', '.join(sorted(allowed))})")


def revision_base(text: str) -> str:
    """The version a revision file names as its base (to fetch it before loading)."""
    return _text(_document(text), "base_version", "base_version", pattern=_VERSION_ID,
                 what="version id", limit=32)


def _tag(obj: Mapping[str, Any], where: str) -> Provenance:
    value = obj.get("tag")
    if value is None or value == "":
        raise InvalidInput(f"{where}.tag", f"is missing: every row carries a provenance tag "
                                           f"({_TAGS})")
    if not isinstance(value, str):
        raise InvalidInput(f"{where}.tag", f"must be one of {_TAGS}")
    try:
        return Provenance(value)
    except ValueError:
        raise InvalidInput(f"{where}.tag", f"{value!r} is not a provenance tag ({_TAGS})"
                           ) from None


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "null"


def _fields(obj: Mapping[str, Any], where: str) -> dict[str, Any]:
    value = obj.get("fields", {})
    if not isinstance(value, dict):
        raise InvalidInput(f"{where}.fields", "must be a JSON object of field: value")
    for name, v in value.items():
        if name in _COMMON or name == "table":
            raise InvalidInput(f"{where}.fields.{name}", f"{name} is given beside the fields, "
                                                         "not among them")
        try:
            canonical_json(v)
        except ValueError:
            raise InvalidInput(f"{where}.fields.{name}", "is not a finite JSON value") from None
    return dict(value)


_ROW_KEYS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "change": ("op", "rule_id", "tag", "text", "fields"),
    "add": ("op", "rule_id", "table", "tag", "text", "fields"),
    "remove": ("op", "rule_id", "tag", "text")})
_FILE_KEYS = ("format", "drug", "base_version", "base_content_hash", "version", "source",
              "note", "rows", "content_hash")


def _changed(base: LabelRow, obj: Mapping[str, Any], where: str) -> LabelRow:
    tag = _tag(obj, where)
    text = _text(obj, "text", f"{where}.text")
    fields = dict(base.fields)
    for name, value in _fields(obj, where).items():
        if name not in fields:
            known = ", ".join(sorted(fields)) or "none"
            raise InvalidInput(f"{where}.fields.{name}", f"is not a field of {base.rule_id} "
                                                         f"(its fields: {known})")
        old = fields[name]
        if None not in (old, value) and _kind(old) != _kind(value):
            raise InvalidInput(f"{where}.fields.{name}", f"must be {_kind(old)}, like the "
                                                         f"base row's value")
        fields[name] = value
    row = LabelRow.of(base.rule_id, tag, text, base.table, fields)
    if row == base:
        raise InvalidInput(where, f"changes nothing in {base.rule_id}")
    return row


def _removed(base: LabelRow, obj: Mapping[str, Any], where: str) -> None:
    """A removal may repeat the row's tag and text; if it does they must be the row's."""
    if "tag" in obj and _tag(obj, where) is not base.tag:
        raise InvalidInput(f"{where}.tag", f"is not the tag of the row being removed "
                                           f"({base.tag.value})")
    if "text" in obj and _text(obj, "text", f"{where}.text") != base.text:
        raise InvalidInput(f"{where}.text", "is not the text of the row being removed")


def load_label_revision(text: str, base: Label) -> Label:
    """The label a revision file describes, built on ``base``; refuses (``InvalidInput``
    naming the key, e.g. ``rows[3].rule_id``) anything that is not exactly right, so that
    nothing is loaded from a file with one mistake in it."""
    doc = _document(text)
    _only(doc, _FILE_KEYS, "")
    fmt = doc.get("format")
    if fmt != REVISION_FORMAT:
        raise InvalidInput("format", f"must be {REVISION_FORMAT!r}")
    drug = _text(doc, "drug", "drug")
    if drug != base.drug:
        raise InvalidInput("drug", f"{drug!r} is not the drug of the base label ({base.drug})")
    base_version = revision_base(text)
    if base_version != base.version:
        raise InvalidInput("base_version", f"{base_version} is not the base given "
                                           f"({base.version})")
    if "base_content_hash" in doc:
        given = _text(doc, "base_content_hash", "base_content_hash", pattern=_HASH,
                      what="sha256 hex digest", limit=64)
        if given != base.content_hash:
            raise InvalidInput("base_content_hash", f"{base.version} here has content hash "
                                                    f"{base.content_hash}, not {given}: the "
                                                    "revision was made from other rows")
    version = _text(doc, "version", "version", pattern=_VERSION_ID, what="version id",
                    limit=32)
    if version == base.version:
        raise InvalidInput("version", "a revision needs a version id of its own")
    source = _text(doc, "source", "source")
    if "note" in doc:
        _text(doc, "note", "note")
    expected = _text(doc, "content_hash", "content_hash", pattern=_HASH,
                     what="sha256 hex digest", limit=64)
    items = doc.get("rows")
    if not isinstance(items, list) or not items:
        raise InvalidInput("rows", "must list at least one row to change, add or remove")

    rows: dict[str, LabelRow | None] = {r.rule_id: r for r in base.rows}
    added: list[LabelRow] = []
    first_at: dict[str, int] = {}
    for i, obj in enumerate(items):
        where = f"rows[{i}]"
        if not isinstance(obj, dict):
            raise InvalidInput(where, "must be a JSON object")
        op = obj.get("op")
        if not isinstance(op, str) or op not in _ROW_KEYS:
            raise InvalidInput(f"{where}.op", "must be change, add or remove")
        _only(obj, _ROW_KEYS[op], where)
        rid = _text(obj, "rule_id", f"{where}.rule_id", pattern=_RULE_ID, what="rule id",
                    limit=64)
        if rid in first_at:
            raise InvalidInput(f"{where}.rule_id", f"{rid} is listed twice (rows[{first_at[rid]}]"
                                                   f" and {where})")
        first_at[rid] = i
        current = rows.get(rid)
        if op == "add":
            if rid in rows:
                raise InvalidInput(f"{where}.rule_id", f"{rid} is already a row of "
                                                       f"{base.version}: change it instead")
            table = _text(obj, "table", f"{where}.table", pattern=_TABLE, what="table name",
                          limit=32)
            if table not in base.table_names:
                raise InvalidInput(f"{where}.table", f"{table!r} is not a table of "
                                                     f"{base.version} ({', '.join(base.table_names)})")
            added.append(LabelRow.of(rid, _tag(obj, where), _text(obj, "text", f"{where}.text"),
                                     table, _fields(obj, where)))
            continue
        if current is None:
            raise InvalidInput(f"{where}.rule_id", f"{rid} is not a row of {base.version}")
        if op == "remove":
            _removed(current, obj, where)
            rows[rid] = None
        else:
            rows[rid] = _changed(current, obj, where)

    kept = [r for r in rows.values() if r is not None]
    by_table = {name: [r for r in kept if r.table == name] for name in base.table_names}
    for row in added:
        by_table[row.table].append(row)
    label = Label(base.drug, version, source,
                  tuple(LabelTable(name, tuple(rs)) for name, rs in by_table.items() if rs),
                  base.version)
    if label.content_hash != expected:
        raise InvalidInput("content_hash", f"the rows of this revision hash to "
                                           f"{label.content_hash}, the file says {expected}: "
                                           "the rows are not the ones the hash was taken of")
    return label


# --------------------------------------------------------------------------- whole labels


_LABEL_KEYS = ("format", "drug", "version", "source", "note", "rows", "content_hash")
_LABEL_ROW_KEYS = ("rule_id", "table", "tag", "text", "fields")


def load_label(text: str) -> Label:
    """A whole label (e.g. another drug's) from the text of a label file: every row with its
    table, rule id, tag, text and fields, and the content hash of those rows. Refuses
    (``InvalidInput`` naming the key, e.g. ``rows[3].tag``) a duplicate rule id, an untagged
    row or a hash that does not match; nothing is loaded from a file with one mistake in it.
    Whether the engine can compute with the rows is :func:`tarla.label.rules.rules_of`'s check.
    """
    doc = _document(text)
    _only(doc, _LABEL_KEYS, "")
    if doc.get("format") != LABEL_FORMAT:
        raise InvalidInput("format", f"must be {LABEL_FORMAT!r}")
    drug = _text(doc, "drug", "drug", pattern=_VERSION_ID, what="drug name", limit=32)
    version = _text(doc, "version", "version", pattern=_VERSION_ID, what="version id", limit=32)
    source = _text(doc, "source", "source")
    if "note" in doc:
        _text(doc, "note", "note")
    expected = _text(doc, "content_hash", "content_hash", pattern=_HASH,
                     what="sha256 hex digest", limit=64)
    items = doc.get("rows")
    if not isinstance(items, list) or not items:
        raise InvalidInput("rows", "must list the label's rows")
    rows: list[LabelRow] = []
    first_at: dict[str, int] = {}
    for i, obj in enumerate(items):
        where = f"rows[{i}]"
        if not isinstance(obj, dict):
            raise InvalidInput(where, "must be a JSON object")
        _only(obj, _LABEL_ROW_KEYS, where)
        rid = _text(obj, "rule_id", f"{where}.rule_id", pattern=_RULE_ID, what="rule id",
                    limit=64)
        if rid in first_at:
            raise InvalidInput(f"{where}.rule_id", f"{rid} is listed twice (rows[{first_at[rid]}]"
                                                   f" and {where})")
        first_at[rid] = i
        table = _text(obj, "table", f"{where}.table", pattern=_TABLE, what="table name",
                      limit=32)
        rows.append(LabelRow.of(rid, _tag(obj, where), _text(obj, "text", f"{where}.text"),
                                table, _fields(obj, where)))
    label = label_from_rows(drug=drug, version=version, source=source, rows=rows)
    if label.content_hash != expected:
        raise InvalidInput("content_hash", f"the rows of this file hash to "
                                           f"{label.content_hash}, the file says {expected}: "
                                           "the rows are not the ones the hash was taken of")
    return label


# --------------------------------------------------------------------------- comparing


@dataclass(frozen=True, slots=True)
class RowChange:
    rule_id: str
    before: LabelRow
    after: LabelRow
    changed: tuple[str, ...]  # "table", "tag", "text", "fields.<name>"


@dataclass(frozen=True, slots=True)
class LabelDiff:
    """What ``b`` does to ``a``, rule by rule (each tuple in rule id order)."""

    a: str
    b: str
    added: tuple[LabelRow, ...]
    removed: tuple[LabelRow, ...]
    changed: tuple[RowChange, ...]

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def _what_changed(x: LabelRow, y: LabelRow) -> tuple[str, ...]:
    out = [name for name in ("table", "tag", "text") if getattr(x, name) != getattr(y, name)]
    fx, fy = x.fields, y.fields
    out += [f"fields.{n}" for n in sorted(set(fx) | set(fy)) if fx.get(n, ...) != fy.get(n, ...)]
    return tuple(out)


def diff(a: Label, b: Label) -> LabelDiff:
    """Rows added in ``b``, removed from ``a``, and changed (with the fields that changed)."""
    rows_a = {r.rule_id: r for r in a.rows}
    rows_b = {r.rule_id: r for r in b.rows}
    changed = tuple(RowChange(rid, rows_a[rid], rows_b[rid], _what_changed(rows_a[rid],
                                                                          rows_b[rid]))
                    for rid in sorted(rows_a.keys() & rows_b.keys())
                    if rows_a[rid] != rows_b[rid])
    return LabelDiff(a.version, b.version,
                     tuple(rows_b[r] for r in sorted(rows_b.keys() - rows_a.keys())),
                     tuple(rows_a[r] for r in sorted(rows_a.keys() - rows_b.keys())),
                     changed)
