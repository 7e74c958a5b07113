"""Stored worklist decisions at the use cases (in-memory unit of work, issue 14): the first read
of a site's day computes and stores each due course's decision, later reads are served from
the rows, a write to what a decision reads makes its row a miss (computed again, never served
stale), and paging or a refused read behaves as the list computed for the read.

One New York site, December 2026 (day 0 = 2026-12-01; ``closed_loop_cases``)."""

from __future__ import annotations

from typing import Any

import pytest

from closed_loop_cases import LoopWorld, Staff, at, open_site
from tarla.domain.errors import InvalidInput
from tarla.services import queries
from tarla.services.errors import NotFound
from tarla.services.fakes import FakeStore, FakeUnitOfWork
from tarla.services.scope import OPERATOR, Scope

NYC = Staff(site="NYC", nurse="rn.a", nurse2="rn2.a", pharmacist="rph.a", pharmacist2="rph2.a",
            physician="dr.a")


class World:
    def __init__(self) -> None:
        self.store = FakeStore()
        self.loop = LoopWorld(self.uow, NYC)
        open_site(self.uow, NYC, at(-30, "08:00"))

    def uow(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self.store)

    def stored(self) -> dict[int, Any]:
        table = self.store.tables.get("decisions")
        return {} if table is None else dict(table.rows)

    def worklist(self, now: Any, **kw: Any) -> queries.Worklist:
        return queries.worklist(self.uow(), site_code="NYC", now=now, viewer=OPERATOR, **kw)

    def computed(self, now: Any) -> dict[str, Any]:
        with self.uow().readonly() as uow:
            site = uow.sites.by_code("NYC")
            assert site is not None
            return queries._computed(uow, site, queries.zone_of(site), now.date(), now, 0,
                                     None).to_json()


@pytest.fixture
def w() -> World:
    return World()


def test_the_first_read_stores_each_due_decision_and_the_next_is_served_from_them(
        w: World) -> None:
    a, b = w.loop.enrol("M1"), w.loop.enrol("M2")
    first = w.worklist(at(0, "08:00"))
    assert first.source == "stored"
    assert sorted(w.stored()) == sorted([a.course_id, b.course_id])
    assert [i.decision for i in first.items] == ["give", "give"]
    commits = w.store.commits
    again = w.worklist(at(0, "08:05"))
    assert w.store.commits == commits  # nothing computed or written by the second read
    assert [i.to_json() for i in again.items] == [i.to_json() for i in first.items]


def test_a_lab_panel_makes_the_row_a_miss_and_the_new_decision_is_served(w: World) -> None:
    p = w.loop.enrol("M1")
    before = w.worklist(at(0, "07:00"))
    assert before.items[0].pending_checks == ("CBC", "ALT", "AST", "bilirubin")
    w.loop.labs(p, at(0, "07:10"))  # charted at 07:20
    after = w.worklist(at(0, "07:30"))
    assert after.items[0].pending_checks == ()
    assert after.to_json() == w.computed(at(0, "07:30"))


def test_a_row_computed_later_than_the_reader_now_is_not_served(w: World) -> None:
    w.loop.enrol("M1")
    w.loop.labs(w.loop.enrol("M2"), at(0, "09:00"))  # M2's labs: drawn 09:00
    w.worklist(at(0, "10:00"))  # stored as of 10:00, with M2's labs in
    earlier = w.worklist(at(0, "08:30"))  # a reader at 08:30 has not seen them
    assert earlier.to_json() == w.computed(at(0, "08:30"))
    assert [i.pending_checks for i in earlier.items if i.mrn == "M2"] == \
        [("CBC", "ALT", "AST", "bilirubin")]


def test_pages_join_up_to_the_whole_list_with_its_counts(w: World) -> None:
    for n in range(5):
        w.loop.enrol(f"M{n}")
    whole = w.worklist(at(0, "08:00")).to_json()
    pages = [w.worklist(at(0, "08:00"), offset=o, limit=2).to_json() for o in (0, 2, 4)]
    assert [i for p in pages for i in p["items"]] == whole["items"]
    assert [(p["total"], p["counts"]) for p in pages] == [(5, {"give": 5})] * 3


@pytest.mark.parametrize(("kw", "field"), [({"offset": -1}, "offset"), ({"limit": 0}, "limit")])
def test_a_bad_page_is_refused_naming_the_field(w: World, kw: dict[str, int],
                                                field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        w.worklist(at(0, "08:00"), **kw)
    assert refused.value.field == field


def test_a_read_of_another_sites_list_stores_nothing(w: World) -> None:
    w.loop.enrol("M1")
    open_site(w.uow, Staff("BRX", "rn.b", "rn2.b", "rph.b", "rph2.b", "dr.b"), at(-30, "08:00"))
    with w.uow() as uow:
        brx = uow.sites.by_code("BRX")
        assert brx is not None and brx.id is not None
    with pytest.raises(NotFound):
        queries.worklist(w.uow(), site_code="NYC", now=at(0, "08:00"),
                         viewer=Scope(frozenset({brx.id})))
    assert w.stored() == {}
