"""Every unsafe attempt of the closed loop (the table in ``tests/closed_loop_cases.py``) through
the HTML forms, the third way in after the services and the JSON API. The world is arranged
with the real use cases on the app's own database (as in ``test_closed_loop_api.py``); then the
row's actor signs in on the sign-in page, opens the page that holds the form at the row's time
(the app's clock), and posts that form as a browser would: every field the form has, with the
page's values (CSRF token, version, idempotency key, the dose it showed), and the row's values
typed in; times as the site's wall time (America/New_York), as a ``datetime-local`` sends them.

The answer must be the page's hard stop (409) naming the row's rule id, and the records must be
as they were (:func:`test_closed_loop_api.records`). Two kinds of row answer otherwise, as the
API does: a refused kit scan is kept as evidence (200, the scan shown REFUSED with its rule, one
stored scan and its audit entry), and a second start of a dose opens its first preparation (303
to it, nothing written).

Some rows post what the fresh page does not offer: a form it no longer shows, or a value its
form cannot hold. Those are what a tab opened earlier, or a hand-made request, would send; they
are listed in :data:`OFF_PAGE` with the reason, and each row is checked against the page
(offered, or not) so the list stays true. Every operation of the table has a form
(:data:`FORMS`); :data:`NO_FORM` lists the rows that would have none."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi.testclient import TestClient
from test_closed_loop_api import STAFF, records
from web_support import PASSWORD, Clock

from closed_loop_cases import EXISTING, TABLE, ZONE, LoopWorld, Unsafe, at, open_site
from tarla.services.fakes import FakeStore, FakeUnitOfWork

# --------------------------------------------------------------------------- reading a page


@dataclass
class Form:
    """A ``<form method="post">`` as a browser sees it: fixed hidden values, choices, and
    fields the user types into (with their initial values)."""

    action: str
    hidden: dict[str, str] = field(default_factory=dict)
    choices: dict[str, list[str]] = field(default_factory=dict)
    chosen: dict[str, str] = field(default_factory=dict)
    typed: dict[str, str] = field(default_factory=dict)

    @property
    def names(self) -> set[str]:
        return {*self.hidden, *self.choices, *self.typed}

    def defaults(self) -> dict[str, str]:
        """What the form sends untouched."""
        picked = {k: self.chosen.get(k, v[0] if v else "") for k, v in self.choices.items()}
        return {**self.typed, **picked, **self.hidden}

    def accepts(self, data: Mapping[str, str]) -> bool:
        """Whether a user of this form could send ``data`` (hidden values as they are, a
        choice among the options)."""
        return set(data) <= self.names and all(
            data[k] == v for k, v in self.hidden.items() if k in data) and all(
            data[k] in v for k, v in self.choices.items() if k in data)


class Page(HTMLParser):
    """The post forms of a page, and the text of its hard stops (a refusal banner, or a kit
    scan shown REFUSED)."""

    STOPS = ("hard-stop", "verdict-refuse")

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.stops: list[str] = []
        self._form: Form | None = None
        self._select: str | None = None
        self._textarea: str | None = None
        self._stop_depth = 0
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "div" and self._stop_depth:
            self._stop_depth += 1
        elif tag == "div" and set(a.get("class", "").split()) & set(self.STOPS):
            self._stop_depth = 1
            self.stops.append("")
        if tag == "form" and a.get("method", "get").lower() == "post":
            self._form = Form(a.get("action", ""))
            self.forms.append(self._form)
        form, name = self._form, a.get("name", "")
        if form is None or not (name or tag == "option"):
            return
        if tag == "input" and a.get("type") == "hidden":
            form.hidden[name] = a.get("value", "")
        elif tag == "input" and a.get("type", "text") not in ("checkbox", "radio", "submit"):
            form.typed[name] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = name
            form.typed[name] = ""
        elif tag == "select":
            self._select = name
            form.choices[name] = []
        elif tag == "option" and self._select is not None:
            form.choices[self._select].append(a.get("value", ""))
            if "selected" in a:
                form.chosen[self._select] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "div" and self._stop_depth:
            self._stop_depth -= 1
        elif tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._stop_depth:
            self.stops[-1] += data
        if self._form is not None and self._textarea is not None:
            self._form.typed[self._textarea] += data

    @property
    def csrf_token(self) -> str:
        """The session's token, as every post form of a signed-in page carries it."""
        tokens = {f.hidden["csrf_token"] for f in self.forms if "csrf_token" in f.hidden}
        assert len(tokens) == 1, tokens
        return tokens.pop()


# --------------------------------------------------------------------------- the forms


@dataclass(frozen=True)
class Post:
    """The page holding the form, where the form posts, and what the user enters in it."""

    page: str
    action: str
    fields: dict[str, str]


def wall(moment: datetime) -> str:
    """A moment as a ``datetime-local`` field holds it: the site's wall time, in minutes."""
    return moment.astimezone(ZONE).strftime("%Y-%m-%dT%H:%M")


def _chart(a: Mapping[str, Any]) -> Post:
    bedside = f"/bedside/{a['course_id']}"
    fields = {"started_at": wall(a["started_at"]), "patient_scan": a.get("patient_scan") or "",
              "bag_scan": a.get("bag_scan") or "",
              "preparation_id": str(a.get("preparation_id") or ""),
              "scan_exception.reason": a.get("reason") or "",
              "scan_exception.witness": a.get("witness") or "",
              "scan_exception.witness_password": PASSWORD}  # the witness signs
    if a.get("dose_mg") is not None:  # the dose the form says it showed (a cross-check)
        fields["dose_mg_shown"] = str(a["dose_mg"])
    return Post(bedside, f"{bedside}/administration", fields)


def _start(a: Mapping[str, Any]) -> Post:
    return Post("/pharmacy", "/pharmacy/preparations", {"course_id": str(a["course_id"])})


def _scan(a: Mapping[str, Any]) -> Post:
    prep = f"/pharmacy/preparations/{a['preparation_id']}"
    return Post(prep, f"{prep}/scan", {"scan": a["raw"], "component": "drug"})


def _event(a: Mapping[str, Any]) -> Post:
    prep = f"/pharmacy/preparations/{a['preparation_id']}"
    return Post(prep, f"{prep}/events", {"event": a["event"], "at": wall(a["at"])})


def _check(a: Mapping[str, Any]) -> Post:
    prep = f"/pharmacy/preparations/{a['preparation_id']}"
    return Post(prep, f"{prep}/check", {})


#: op -> (the arguments it reads, the form that performs it)
FORMS: dict[str, tuple[frozenset[str], Callable[[Mapping[str, Any]], Post]]] = {
    "chart": (frozenset({"course_id", "started_at", "patient_scan", "bag_scan", "dose_mg",
                         "preparation_id", "reason", "witness"}), _chart),
    "start_preparation": (frozenset({"course_id"}), _start),
    "scan": (frozenset({"preparation_id", "raw"}), _scan),
    "advance": (frozenset({"preparation_id", "event", "at"}), _event),
    "check": (frozenset({"preparation_id"}), _check),
}
#: (row id, why no HTML form can make the attempt): none, every operation has its form
NO_FORM: tuple[tuple[str, str], ...] = ()
#: rows whose post the fresh page does not offer, and why
OFF_PAGE: dict[str, str] = {
    "10-mg-charted-where-1-mg-was-due":
        "the charting form sends back the dose it showed (the engine's 1 mg) in a hidden "
        "field: 10 mg comes from a page rendered for a 10 mg dose, or a made-up request",
    "second-10-mg-the-same-day":
        "with C1D8 charted the bedside says there is nothing to give today and shows no "
        "charting form: only a tab opened before the first charting can post it",
    "third-10-mg-the-same-day": "as the second 10 mg: the bedside shows no charting form, and "
                                "the bag named is no longer in its list of checked bags",
    "second-check-of-a-checked-bag": "a checked bag's page shows who checked it, not the form",
    "two-preparations-for-one-dose":
        "the bench links the open preparation instead of a start button; a second click, or "
        "another pharmacist's older page, posts it",
    "bag-for-a-third-10-mg-the-same-day":
        "the bench lists the doses due today: with C1D8 charted, the course's next dose is a "
        "week away and has no start button",
    "infusion-started-through-the-bench-events":
        "the bench's event list offers only the pharmacist's events; the start of the "
        "infusion is charted at the bedside",
}


def form_post(page: Page, post: Post) -> tuple[dict[str, str], bool]:
    """What the browser sends for ``post``, and whether the page offers it: the page's form
    for the action, untouched fields at their defaults; without one, the fields alone with
    the session's CSRF token (an older tab of the same session)."""
    candidates = [f for f in page.forms if f.action == post.action
                  and set(post.fields) <= f.names]
    for form in candidates:
        data = {**form.defaults(), **post.fields}
        if form.accepts(data):
            return data, True
    if candidates:
        return {**candidates[0].defaults(), **post.fields}, False
    return {"csrf_token": page.csrf_token, **post.fields}, False


# --------------------------------------------------------------------------- the table


def sign_in_on_the_page(client: TestClient, username: str) -> None:
    """Sign in as a user does: the sign-in page, its form filled in."""
    page = Page(client.get("/sign-in").text)
    (form,) = [f for f in page.forms if f.action == "/sign-in"]
    r = client.post("/sign-in", data={**form.defaults(), "username": username,
                                      "password": PASSWORD})
    assert r.status_code == 303, r.text


def opened_preparations(app: Any, course_id: int) -> list[int]:
    rows = app.state.web.read.preparations_for_courses([course_id]).get(course_id, [])
    return [r["id"] for r in rows if r["status"] not in ("administered", "discarded")]


FORM_ROWS = tuple(r for r in TABLE if r.id not in dict(NO_FORM))


@pytest.mark.parametrize("row", FORM_ROWS, ids=[r.id for r in FORM_ROWS])
def test_an_unsafe_form_is_refused_with_its_rule_and_writes_nothing(
        app: Any, clock: Clock, row: Unsafe) -> None:
    w = LoopWorld(app.state.bootstrapped.uow, STAFF)
    act = row.arrange(w)
    reads, to_post = FORMS[act.op]
    assert set(act.args) <= reads, f"{act.op} ignores {set(act.args) - reads}"
    post = to_post(act.args)
    clock.value = act.now
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as client:
        sign_in_on_the_page(client, act.actor)
        opened = client.get(post.page)
        assert opened.status_code == 200, opened.text
        page = Page(opened.text)
        assert page.stops == []  # any stop below is the answer to this post
        data, offered = form_post(page, post)
        assert offered == (row.id not in OFF_PAGE), (row.id, data)
        before = records(app)
        r = client.post(post.action, data=data)
        after = records(app)
    if row.rule == EXISTING:
        (first,) = opened_preparations(app, act.args["course_id"])
        assert (r.status_code, r.headers["location"]) == (303, f"/pharmacy/preparations/{first}")
        assert after == before
        return
    stops = Page(r.text).stops
    assert any(row.rule in stop for stop in stops), (r.status_code, stops or r.text[-3000:])
    if not row.stored_refusal:
        assert r.status_code == 409, r.text[-3000:]
        assert after == before
        return
    # the refused kit scan is kept as evidence, with its audit entry; nothing else changed
    assert r.status_code == 200 and any("REFUSED" in stop for stop in stops)
    assert (after["preparation_scans"], after["audit_log"]) == (
        before["preparation_scans"] + 1, before["audit_log"] + 1)
    assert {k: v for k, v in after.items() if k not in ("preparation_scans", "audit_log")} == \
        {k: v for k, v in before.items() if k not in ("preparation_scans", "audit_log")}


def op_of(row: Unsafe) -> str:
    """The operation of a row's attempt, arranged on the in-memory store."""
    store = FakeStore()
    w = LoopWorld(lambda: FakeUnitOfWork(store), STAFF)
    open_site(w.uow, STAFF, at(-30, "08:00"))
    return row.arrange(w).op


def test_every_row_has_its_form_but_those_listed_without_one() -> None:
    ops = {row.id: op_of(row) for row in TABLE}
    assert {rid for rid, op in ops.items() if op not in FORMS} == {rid for rid, _ in NO_FORM}
    assert set(OFF_PAGE) <= set(ops)
