"""The audit chain anchored to the clinical rows and to signed checkpoints (issue 13).

``tarla audit verify`` (:func:`verify_all`) checks three things in one read:

1. **The chain** (:func:`tarla.services.audit.check_chain`): every entry's hash, its link to
   the previous one, consecutive ids, the head row, and each entry's row states against the
   row hash it commits to.
2. **The rows**: every row of a clinical table is compared with its latest audited state
   (the last entry whose ``rows`` name it). A row that differs, a row no entry describes
   (above the baseline of rows written before anchoring began), and an audited row that is
   gone are each reported with the table, the id and what differs.
3. **The checkpoints** (outside the database, HMAC-SHA256 with the audit key): each one must
   verify, move forward, and still match the chain: the entry it sealed must exist with the
   hash it sealed. So a chain recomputed by someone without the key (after an edit, a
   deletion or a renumbering), and a chain truncated with its head rewound, no longer match
   the last checkpoint before the change.

What a checkpoint cannot prove: entries appended *after* the last checkpoint are vouched for
only by the chain itself, which anyone who can write the database can extend with correct
hashes. Verify flags such an entry when it is dated before the last checkpoint was written
(older than :data:`GRACE`, the allowance for a transaction in flight while the checkpoint was
taken) or dated in the future; an entry appended after the last checkpoint with a plausible
time is proven only once the next checkpoint seals it. The checkpoint log itself is trusted
to be append-only: someone who can delete its last lines widens the window to the checkpoint
before them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from tarla.domain.errors import InvalidInput
from tarla.services.audit import ChainReport, check_chain, jsonable
from tarla.services.ports import UnitOfWork
from tarla.services.records import AuditRecord

__all__ = ["GRACE", "ALGORITHM", "CheckpointLog", "RowProblem", "AuditReport", "sign",
           "key_id", "make_checkpoint", "write_checkpoint", "compare_rows", "check_checkpoints",
           "verify_all", "baseline_digest"]

#: How far an entry's time may precede the checkpoint that does not include it (a transaction
#: that read the clock before the checkpoint and committed after it).
GRACE = timedelta(minutes=5)
ALGORITHM = "HMAC-SHA256"
_MIN_KEY = 16


class CheckpointLog(Protocol):
    def append(self, checkpoint: dict[str, Any]) -> None: ...
    def read(self) -> list[dict[str, Any] | str]: ...


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def _check_key(key: bytes) -> None:
    if len(key) < _MIN_KEY:
        raise InvalidInput("TARLA_AUDIT_KEY", f"the audit key must be at least {_MIN_KEY} "
                                              "bytes")


def key_id(key: bytes) -> str:
    """Names the key in a checkpoint without revealing it."""
    return hashlib.sha256(b"tarla-audit-key-id:" + key).hexdigest()[:16]


def sign(body: dict[str, Any], key: bytes) -> str:
    _check_key(key)
    return hmac.new(key, _canonical(body), hashlib.sha256).hexdigest()


def baseline_digest(baseline: dict[str, int]) -> str:
    return hashlib.sha256(_canonical(dict(sorted(baseline.items())))).hexdigest()


def make_checkpoint(*, head: tuple[int, str], baseline: dict[str, int], key: bytes,
                    now: datetime) -> dict[str, Any]:
    """A signed checkpoint of the chain head (a plain dict, one line of the log)."""
    if now.tzinfo is None:
        raise InvalidInput("now", "naive timestamp")
    body = {"v": 1, "alg": ALGORITHM, "key_id": key_id(key), "written_at": jsonable(now),
            "head_id": head[0], "head_hash": head[1], "baseline": baseline_digest(baseline)}
    return {**body, "mac": sign(body, key)}


def write_checkpoint(uow: UnitOfWork, log: CheckpointLog, *, key: bytes,
                     now: datetime) -> dict[str, Any]:
    """Use case: seal the current chain head in the checkpoint log (outside the database)."""
    _check_key(key)
    with uow.readonly():
        head = uow.audit.head()
        baseline = uow.audit.baseline()
    checkpoint = make_checkpoint(head=head, baseline=baseline, key=key, now=now)
    log.append(checkpoint)
    return checkpoint


@dataclass(frozen=True, slots=True)
class RowProblem:
    table: str
    id: int
    problem: str
    entry_id: int | None = None
    #: (column, audited value, value now)
    differences: tuple[tuple[str, Any, Any], ...] = ()

    def describe(self) -> str:
        text = f"{self.table} {self.id}: {self.problem}"
        if self.differences:
            text += "; " + "; ".join(f"{c}: audited {a!r}, now {n!r}"
                                     for c, a, n in self.differences)
        return text

    def to_json(self) -> dict[str, Any]:
        return {"table": self.table, "id": self.id, "problem": self.problem,
                "entry_id": self.entry_id,
                "differences": [{"column": c, "audited": a, "now": n}
                                for c, a, n in self.differences]}


def compare_rows(latest: dict[tuple[str, int], tuple[int, dict[str, Any] | None]],
                 current: Iterable[tuple[str, int, dict[str, Any]]],
                 baseline: dict[str, int]) -> tuple[list[RowProblem], int]:
    """Each current row against its latest audited state: (problems, rows not anchored
    because they were written before anchoring began)."""
    pending = dict(latest)
    problems: list[RowProblem] = []
    unanchored = 0
    for table, ident, state in current:
        audited = pending.pop((table, ident), None)
        if audited is None:
            if ident <= baseline.get(table, 0):
                unanchored += 1
            else:
                problems.append(RowProblem(table, ident, "no audit entry describes this row "
                                           "(written behind the application's back?)"))
            continue
        entry_id, was = audited
        if was is None:
            problems.append(RowProblem(table, ident, f"deleted by entry {entry_id} but present",
                                       entry_id))
        elif was != state:
            diffs = tuple((c, was.get(c), state.get(c)) for c in sorted(set(was) | set(state))
                          if was.get(c) != state.get(c))
            problems.append(RowProblem(table, ident, f"differs from its audited state (entry "
                                       f"{entry_id})", entry_id, diffs))
    for (table, ident), (entry_id, was) in sorted(pending.items()):
        if was is not None:
            problems.append(RowProblem(table, ident, f"missing: deleted behind the "
                                       f"application's back (last audited by entry "
                                       f"{entry_id})", entry_id))
    return problems, unanchored


def _when(text: Any) -> datetime | None:
    try:
        value = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def check_checkpoints(checkpoints: list[dict[str, Any] | str], key: bytes | None, *,
                      sealed: dict[int, str], last_id: int, baseline: str,
                      later: list[tuple[int, datetime]], now: datetime
                      ) -> tuple[list[str], int, dict[str, Any] | None]:
    """(problems, checkpoints verified, the last verified one). ``sealed``: the hash of each
    entry a checkpoint names (as the chain holds it now); ``last_id``: the last entry in the
    chain; ``later``: (id, time) of the entries after the lowest head a checkpoint names."""
    problems: list[str] = []
    if not checkpoints:
        return problems, 0, None
    if key is None:
        return [f"{len(checkpoints)} checkpoint(s) cannot be checked without the audit key "
                "(TARLA_AUDIT_KEY or TARLA_AUDIT_KEY_FILE)"], 0, None
    good: list[tuple[int, dict[str, Any]]] = []
    for n, cp in enumerate(checkpoints, 1):
        if not isinstance(cp, dict) or not isinstance(cp.get("mac"), str):
            problems.append(f"checkpoint {n}: unreadable line in the checkpoint log")
            continue
        body = {k: v for k, v in cp.items() if k != "mac"}
        if not hmac.compare_digest(sign(body, key), cp["mac"]):
            problems.append(f"checkpoint {n}: signature does not verify (forged, edited, or "
                            "signed with another key)")
            continue
        good.append((n, cp))
    previous: tuple[int, dict[str, Any]] | None = None
    for n, cp in good:
        head_id, written = int(cp["head_id"]), cp["written_at"]
        if previous is not None and head_id < int(previous[1]["head_id"]):
            problems.append(f"checkpoint {n}: goes back from entry {previous[1]['head_id']} "
                            f"to entry {head_id} (checkpoint log reordered?)")
        previous = (n, cp)
        if head_id > last_id:
            problems.append(f"checkpoint {n} (written {written}) sealed entry {head_id} but "
                            f"the chain ends at entry {last_id}: entries deleted and the head "
                            "rewound (truncation)")
        elif head_id > 0 and sealed.get(head_id) != cp["head_hash"]:
            problems.append(f"checkpoint {n} (written {written}): entry {head_id} no longer "
                            "has the hash it sealed: the chain was rewritten after it "
                            "(entry edited, deleted or renumbered and the hashes recomputed)")
        if cp.get("baseline") != baseline:
            problems.append(f"checkpoint {n}: the anchoring baseline (audit_baseline) differs "
                            "from the one it sealed")
    last = good[-1][1] if good else None
    if last is not None:
        written_at = _when(last["written_at"])
        for ident, at in later:
            if ident <= int(last["head_id"]):
                continue
            if written_at is not None and at < written_at - GRACE:
                problems.append(f"entry {ident}: dated {jsonable(at)}, before the last "
                                f"checkpoint (written {last['written_at']}, sealing entry "
                                f"{last['head_id']}) that does not include it: appended "
                                "after the checkpoint and backdated (forged append?)")
    for ident, at in later:
        if at > now + GRACE:
            problems.append(f"entry {ident}: dated {jsonable(at)}, in the future")
    return problems, len(good), last


@dataclass
class AuditReport:
    chain: ChainReport
    checkpoint_problems: list[str] = field(default_factory=list)
    row_problems: list[RowProblem] = field(default_factory=list)
    checkpoints: int = 0
    last_checkpoint: dict[str, Any] | None = None
    unanchored_rows: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return self.chain.intact and not self.checkpoint_problems and not self.row_problems

    def problems(self) -> list[str]:
        out = [] if self.chain.problem is None else [self.chain.problem]
        return out + self.checkpoint_problems + [p.describe() for p in self.row_problems]

    def to_json(self) -> dict[str, Any]:
        return {"intact": self.intact, "entries": self.chain.entries,
                "problem": self.chain.problem, "entry_id": self.chain.entry_id,
                "problems": self.problems(),
                "rows": [p.to_json() for p in self.row_problems],
                "checkpoints": self.checkpoints,
                "last_checkpoint": None if self.last_checkpoint is None else {
                    k: self.last_checkpoint[k] for k in ("written_at", "head_id")},
                "unanchored_entries": self.chain.unanchored,
                "unanchored_rows": self.unanchored_rows, "notes": self.notes}


class _Watch:
    """Streams the entries to the chain check while keeping what the other checks need."""

    def __init__(self, entries: Iterator[AuditRecord], wanted: set[int], after: int) -> None:
        self.entries = entries
        self.wanted, self.after = wanted, after
        self.sealed: dict[int, str] = {}
        self.later: list[tuple[int, datetime]] = []
        self.latest: dict[tuple[str, int], tuple[int, dict[str, Any] | None]] = {}
        self.last_id = 0

    def __iter__(self) -> Iterator[AuditRecord]:
        for e in self.entries:
            self.last_id = max(self.last_id, e.id)
            if e.id in self.wanted:
                self.sealed[e.id] = e.hash
            if e.id > self.after:
                self.later.append((e.id, e.at))
            if isinstance(e.rows, list):
                for r in e.rows:
                    if isinstance(r, dict) and isinstance(r.get("id"), int):
                        self.latest[(str(r.get("table")), r["id"])] = (e.id, r.get("state"))
            yield e


def verify_all(uow: UnitOfWork, *, checkpoints: list[dict[str, Any] | str],
               key: bytes | None, now: datetime) -> AuditReport:
    """Use case (read-only): the chain, every clinical row, and the checkpoints."""
    heads = [int(c["head_id"]) for c in checkpoints
             if isinstance(c, dict) and isinstance(c.get("head_id"), int)]
    with uow.readonly():
        head = uow.audit.head()
        baseline = uow.audit.baseline()
        watch = _Watch(uow.audit.entries(), set(heads), min(heads, default=head[0]))
        walker = iter(watch)
        chain = check_chain(walker, head)
        for _ in walker:  # the other checks need every entry even past a broken link
            pass
        rows, unanchored_rows = compare_rows(watch.latest, uow.audit.current_rows(), baseline)
    cp_problems, verified, last = check_checkpoints(
        checkpoints, key, sealed=watch.sealed, last_id=watch.last_id,
        baseline=baseline_digest(baseline), later=watch.later, now=now.astimezone(UTC))
    report = AuditReport(chain, cp_problems, rows, verified, last, unanchored_rows)
    if not checkpoints:
        report.notes.append("no checkpoint yet: the chain head is anchored only inside the "
                            "database (run `tarla audit checkpoint`)")
    elif last is not None and int(last["head_id"]) < watch.last_id:
        report.notes.append(f"entries {int(last['head_id']) + 1}–{watch.last_id} came after the "
                            f"last checkpoint ({last['written_at']}): vouched for by the chain "
                            "only until the next checkpoint")
    if chain.unanchored:
        report.notes.append(f"{chain.unanchored} entries written before anchoring began: not "
                            "anchored to a row")
    if unanchored_rows:
        report.notes.append(f"{unanchored_rows} rows written before anchoring began: not "
                            "anchored to an entry")
    return report
