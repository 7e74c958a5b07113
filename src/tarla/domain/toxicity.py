"""Toxicity's say on the next dose: hold, discontinue, or extended monitoring.

Applies the dose-modification rows of the course's label (:attr:`CourseInput.rules`; the
built-in rows are :mod:`tarla.label.toxicity`, label-facts §6) to the
adverse events and labs of a :class:`~tarla.domain.course.CourseInput`. Toxicity decides
*whether* the next dose is given; the course engine and Table 4 decide *which* dose.

Readings (documented because the label leaves them open):
- an event is ongoing while ``resolved_at`` is empty or later than ``as_of``; for the
  "until grade 1 or less / baseline" rules ``resolved_at`` is when it got there;
- "recurs" means a second, separate event of the same type at that grade;
- the labs that count for a dose are the most recent value of each test drawn after the
  previous dose started and no later than ``as_of``;
- extended monitoring applies to the first dose after the event (no dose started since its onset).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime, timezone, tzinfo
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple
from zoneinfo import ZoneInfo

# course.py imports this module only inside ``evaluate``, so this import is not circular.
from tarla.domain.course import AdverseEvent, Warning
from tarla.domain.errors import InvalidInput
from tarla.domain.grading import LabGrade, grade_lab, to_e9_per_l
from tarla.domain.timestamps import aware as _aware
from tarla.label import labs as lab_rules
from tarla.label.rows import Citation, cite, cite_later
from tarla.label.toxicity import (
    EventType,
    HepaticGradeRule,
    LabThreshold,
    ToxAction,
    ToxicityRule,
)

if TYPE_CHECKING:
    from tarla.domain.course import CourseInput, GivenDose

__all__ = ["Assessment", "assess", "GRADED_TESTS"]

#: Tests the CTCAE grader knows; other tests are accepted and stored but not graded.
GRADED_TESTS = frozenset({"ANC", "platelets", "hemoglobin", "lymphocytes", "ALT", "AST",
                          "bilirubin", "sodium"})
_COUNT_TESTS = frozenset({"ANC", "platelets", "lymphocytes"})


class GradedLab(NamedTuple):
    """One lab of the input with its CTCAE grade (a NamedTuple: built for every lab of every
    evaluation)."""

    input_index: int
    test: str
    collected_at: datetime
    value: float
    unit: str
    grade: LabGrade | None  # None: not a graded test, or the grade needs more (see ``note``)
    counts: bool  # drawn after the previous dose and not after as_of
    value_si: float | None  # 10^9/L for counts, as the grader converts
    note: str | None = None


class _Refused(NamedTuple):
    field: str
    message: str


# The core's one memo, and the only one tests/test_architecture.py allows. It is safe to share
# between threads (FastAPI runs evaluations in a thread pool):
# - ``grade_lab`` is a pure function of these arguments, so a memoised answer is the answer;
# - what is kept is immutable (a frozen ``LabGrade`` of tuples and strings, or a ``_Refused``
#   tuple); the exception each caller gets is built afresh, never a shared object;
# - CPython's ``lru_cache`` keeps its table coherent under concurrent calls (its bookkeeping
#   runs under the GIL; the keys here are str/float/int/None, whose hash and equality never
#   run Python code); at worst two threads compute the same grade once each;
# - ``typed=True`` keeps ``True``, ``1`` and ``1.0`` apart (a bool limit is refused, an int
#   one is not).
# It keeps the worklist fast: a clinic's lab values repeat, and grading one costs ~12 us.
@lru_cache(maxsize=8192, typed=True)
def _grade_memo(test: str, value: float, unit: str, uln: float | None, lln: float | None,
                baseline: float | None) -> LabGrade | _Refused:
    try:
        return grade_lab(test, value, unit, uln=uln, lln=lln, baseline=baseline)
    except InvalidInput as exc:
        return _Refused(exc.field, exc.message)


def _grade(test: str, value: float, unit: str, uln: float | None, lln: float | None,
           baseline: float | None) -> LabGrade | InvalidInput:
    """``grade_lab``'s answer, or the input error it raised (a new exception on every call)."""
    result = _grade_memo(test, value, unit, uln, lln, baseline)
    if isinstance(result, _Refused):
        return InvalidInput(result.field, result.message)
    return result


#: Missing facts that only separate grade 0 from grade 1 (or 2 from 3 for sodium); the dose
#: rules of the label never need them, so such a lab is kept with an undetermined grade.
_UNDETERMINED_FIELDS = frozenset({"lln", "symptomatic"})


class Assessment(NamedTuple):
    """What toxicity says about the next dose (a NamedTuple: built on every evaluation)."""

    discontinue: tuple[Citation, ...]
    hold: tuple[Citation, ...]
    extended_monitoring: tuple[Citation, ...]
    notes: tuple[Citation, ...]
    warnings: tuple[Warning, ...]
    lab_grades: tuple[GradedLab, ...]
    present_tests: frozenset[str]

    def missing_labs(self, required: Sequence[str]) -> tuple[str, ...]:
        """The tests of ``required`` ("CBC": its counts) with no lab that counts."""
        present = self.present_tests
        return tuple([name for name in required
                      if not present.issuperset(lab_rules.CBC_TESTS if name == "CBC" else
                                                (name,))])


def _fmt(moment: datetime, zone: tzinfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


# Citation texts, formatted only when read (``cite_later``): each takes immutable values.


def _what(ev: AdverseEvent, zone: tzinfo, ongoing: bool) -> str:
    """How an event is named in a citation: type, grade, onset and whether it resolved."""
    what = f"{ev.type.value} grade {ev.grade} (onset {_fmt(ev.onset, zone)}"
    if ongoing or ev.resolved_at is None:
        return what + ", ongoing)"
    return what + f", resolved {_fmt(ev.resolved_at, zone)})"


def _event_text(rule: ToxicityRule, ev: AdverseEvent, zone: tzinfo, ongoing: bool,
                after: str) -> str:
    return f"{rule.text}: {_what(ev, zone, ongoing)}{after}"


def _hold_text(rule: ToxicityRule, ev: AdverseEvent, zone: tzinfo, ongoing: bool) -> str:
    until = rule.resume.value if rule.resume else ""
    return f"Hold {until}: {_what(ev, zone, ongoing)}. {rule.text}"


def _lab_text(before: str, lab: GradedLab, zone: tzinfo, after: str) -> str:
    return f"{before}{lab.test} {lab.value:g} {lab.unit} on {_fmt(lab.collected_at, zone)}{after}"


def _threshold_text(row: LabThreshold, lab: GradedLab, zone: tzinfo) -> str:
    return _lab_text("Hold: ", lab, zone, f". {row.text}")


def _hepatic_text(row: HepaticGradeRule, lab: GradedLab, zone: tzinfo, grade: int) -> str:
    return _lab_text(f"{row.text}: ", lab, zone, f" is CTCAE grade {grade}")


def _hys_text(text: str, test: str, x: float, bili_x: float) -> str:
    return (f"{text}: {test} {x:.1f} x ULN with bilirubin {bili_x:.1f} x ULN. If another cause "
            "is documented, a physician may override.")


def _validate_events(inp: CourseInput) -> None:
    for i, ev in enumerate(inp.adverse_events):
        where = f"adverse_events[{i}]"
        if not isinstance(ev.type, EventType):
            raise InvalidInput(f"{where}.type", f"{ev.type!r} is not a known event type")
        if isinstance(ev.grade, bool) or not isinstance(ev.grade, int) or not 1 <= ev.grade <= 5:
            raise InvalidInput(f"{where}.grade", f"{ev.grade!r} is not a grade from 1 to 5")
        onset = _aware(ev.onset, f"{where}.onset")
        if onset > inp.as_of:
            raise InvalidInput(f"{where}.onset", f"{onset.isoformat()} is after as_of")
        if ev.resolved_at is not None:
            resolved = _aware(ev.resolved_at, f"{where}.resolved_at")
            if resolved < onset:
                raise InvalidInput(f"{where}.resolved_at", "is before onset")


#: tzinfo classes whose ``utcoffset()`` is never None (see ``course._ALWAYS_AWARE``).
_ALWAYS_AWARE = (timezone, ZoneInfo)
#: Builds a NamedTuple (GradedLab, Assessment) without ``NamedTuple.__new__``'s argument parsing.
_new_tuple = tuple.__new__


def _grade_labs(inp: CourseInput, since: datetime | None,
                ) -> tuple[tuple[GradedLab, ...], dict[str, GradedLab]]:
    """Each lab of the input, checked and graded; and the latest lab of each test among those
    that count (drawn after ``since``, the previous dose's start)."""
    out: list[GradedLab] = []
    latest: dict[str, GradedLab] = {}
    as_of = inp.as_of
    for i, lab in enumerate(inp.labs):
        collected = lab.collected_at
        if type(collected) is not datetime or type(collected.tzinfo) not in _ALWAYS_AWARE:
            _aware(collected, f"labs[{i}].collected_at")
        if collected > as_of:
            raise InvalidInput(f"labs[{i}].collected_at",
                               f"{collected.isoformat()} is after as_of")
        test, value, unit = lab.test, lab.value, lab.unit
        if not test:
            raise InvalidInput(f"labs[{i}].test", "is required")
        if isinstance(value, bool) or not math.isfinite(value):
            raise InvalidInput(f"labs[{i}].value", f"{value!r} is not a number")
        grade: LabGrade | None = None
        value_si: float | None = None
        note = None
        if test in GRADED_TESTS:
            result = _grade_memo(test, float(value), unit, lab.uln, lab.lln, lab.baseline)
            if isinstance(result, _Refused):
                if result.field not in _UNDETERMINED_FIELDS:
                    raise InvalidInput(f"labs[{i}].{result.field}", result.message) from None
                note = f"grade not determined: {result.field} {result.message}"
                if test in _COUNT_TESTS:
                    value_si = to_e9_per_l(float(value), unit, "unit")
            else:
                grade = result
                value_si = result.value_si
        counts = since is None or collected > since
        graded = _new_tuple(GradedLab, (i, test, collected, value, unit, grade, counts,
                                        value_si, note))
        out.append(graded)
        if counts:  # the latest draw wins; of two at the same instant, the later in the input
            current = latest.get(test)
            if current is None or collected >= current.collected_at:
                latest[test] = graded
    return tuple(out), latest


def _si(lab: GradedLab) -> float:
    assert lab.value_si is not None
    return lab.value_si


def assess(inp: CourseInput, history: Sequence[GivenDose], today: date) -> Assessment:
    if inp.adverse_events:
        _validate_events(inp)
    label, zone = inp.rules, inp.zone
    graded, latest = _grade_labs(inp, history[-1].started_at if history else None)

    discontinue: list[Citation] = []
    hold: list[Citation] = []
    extended: list[Citation] = []
    notes: list[Citation] = []
    warnings: list[Warning] = []

    events = inp.adverse_events
    if len(events) > 1:
        events = sorted(events, key=lambda e: (e.onset, e.type, e.grade))
    for ev in events:
        rules = label.event_rules[ev.type, ev.grade]  # (the grade was checked: 1 to 5)
        ongoing = ev.resolved_at is None or ev.resolved_at > inp.as_of
        for rule in rules:
            if rule.action is ToxAction.DISCONTINUE:
                discontinue.append(cite_later(rule, _event_text, rule, ev, zone, ongoing, ""))
                continue
            if rule.discontinue_if_recurs:
                same = [e for e in events if e.type is ev.type and rule.covers(e.type, e.grade)]
                if len(same) >= 2 and ev is same[-1]:
                    discontinue.append(cite(rule, f"{rule.text}: grade {ev.grade} "
                                                  f"{ev.type.value} has recurred "
                                                  f"({len(same)} events)"))
                    continue
            if ongoing:
                hold.append(cite_later(rule, _hold_text, rule, ev, zone, ongoing))
            elif ev.type is EventType.FEBRILE_NEUTROPENIA:
                anc = [g for g in graded if g.test == "ANC" and g.collected_at >= ev.onset
                       and g.value_si is not None]
                anc.sort(key=lambda g: (g.collected_at, g.input_index))
                threshold = rule.resume_threshold_e9_per_l
                assert threshold is not None
                if not anc or _si(anc[-1]) < threshold:
                    seen = (f"latest ANC {anc[-1].value:g} {anc[-1].unit}" if anc else
                            "no ANC drawn since its onset")
                    hold.append(cite(rule, f"Hold {rule.resume.value if rule.resume else ''}: "
                                           f"{_what(ev, zone, ongoing)}; {seen}. {rule.text}"))
            elif _no_dose_since(history, ev.onset) and not rule.extended_monitoring_next_dose:
                notes.append(cite_later(rule, _event_text, rule, ev, zone, ongoing,
                                        "; may resume at the next scheduled dose"))
            if rule.consider_discontinuation:
                warnings.append(Warning("CONSIDER_DISCONTINUATION",
                                        f"{_what(ev, zone, ongoing)}: consider permanent "
                                        "discontinuation "
                                        "(physician decision)", rule.rule_id, rule.tag))
            if rule.extended_monitoring_next_dose and _no_dose_since(history, ev.onset):
                extended.append(cite_later(rule, _event_text, rule, ev, zone, ongoing,
                                           "; this is the first dose since"))

    for threshold_rule in label.lab_thresholds:
        lab = latest.get(threshold_rule.test)
        if lab is not None and lab.value_si is not None:
            if _si(lab) < threshold_rule.withhold_below_e9_per_l:
                hold.append(cite_later(threshold_rule, _threshold_text, threshold_rule, lab,
                                       zone))

    for hep in label.hepatic_rules:
        lab = latest.get(hep.test)
        if lab is None or lab.grade is None or lab.grade.grade < hep.min_grade:
            continue
        grade = lab.grade.grade
        # a discontinue row applies from its grade up, a withhold row at its grade
        if hep.action is ToxAction.DISCONTINUE or grade == hep.min_grade:
            (discontinue if hep.action is ToxAction.DISCONTINUE else hold).append(
                cite_later(hep, _hepatic_text, hep, lab, zone, grade))

    hy = label.hys_law
    bili = latest.get("bilirubin")
    bili_x = bili.grade.times_uln if bili is not None and bili.grade is not None else None
    if bili_x is not None and bili_x > hy.bilirubin_over_uln:
        for test in ("ALT", "AST"):
            lab = latest.get(test)
            x = lab.grade.times_uln if lab is not None and lab.grade is not None else None
            if lab is not None and x is not None and x > hy.transaminase_over_uln:
                discontinue.append(cite_later(hy, _hys_text, hy.text, test, x, bili_x))
                break

    return _new_tuple(Assessment, (tuple(discontinue), tuple(hold), tuple(extended),
                                   tuple(notes), tuple(warnings), graded, frozenset(latest)))


def _no_dose_since(history: Sequence[GivenDose], onset: datetime) -> bool:
    # (from the last dose back: when a dose follows the onset, it is most often the last)
    return bool(history) and history[0].started_at <= onset and \
        not any(d.started_at > onset for d in reversed(history))
