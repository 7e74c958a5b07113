"""Issue 11 use cases against the in-memory unit of work: charting vital signs, confirming or
correcting the proposed CRS grade, the assessment and adverse event a grade >= 1 opens, alerts
raised in the same transaction, acknowledgement, order sets with an e-signature, and the
webhook posted to a real listener on 127.0.0.1 after the commit.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tarla.adapters.webhook import post_alert
from tarla.domain.errors import InvalidInput
from tarla.services import admin, alerts, clinical, monitoring
from tarla.services.errors import Forbidden, NotFound
from tarla.services.fakes import FakeStore, FakeUnitOfWork
from tarla.services.records import AdministrationRecord
from tarla.services.scope import Scope

ZONE = ZoneInfo("America/New_York")
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=ZONE)
NORMAL = dict(temperature_c=37.0, systolic_mmhg=120, diastolic_mmhg=80, heart_rate=80, spo2=98)


def make_store(policy: dict[str, Any] | None = None) -> FakeStore:
    s = FakeStore()
    for code in ("NYC", "BOS"):
        admin.create_site(FakeUnitOfWork(s), code=code, name=code, timezone="America/New_York",
                          now=T0 - timedelta(days=30),
                          policy=policy if code == "NYC" else None)
    for name, roles, site in (("rn", ["nurse"], "NYC"), ("dr", ["physician"], "NYC"),
                              ("rph", ["pharmacist"], "NYC"), ("bosdr", ["physician"], "BOS")):
        admin.create_user(FakeUnitOfWork(s), username=name, display_name=name, roles=roles,
                          now=T0 - timedelta(days=30), site_code=site)
    return s


@pytest.fixture
def store() -> FakeStore:
    return make_store()


def course(store: FakeStore) -> int:
    r = clinical.enrol_patient(FakeUnitOfWork(store), site_code="NYC", mrn="M1",
                               family_name="Doe", given_name="Jane",
                               birth_date=date(1958, 4, 2), diagnosis="ES-SCLC",
                               progressed_after_platinum=True, start_date=date(2026, 12, 1),
                               actor="dr", now=T0)
    return r.course_id


def dose(store: FakeStore, course_id: int, started: datetime,
         ended: datetime | None = None) -> int:
    u = FakeUnitOfWork(store)
    with u:
        nurse = u.users.by_username("rn")
        a = u.administrations.add(AdministrationRecord(
            course_id=course_id, slot_seq=0, slot="C1D1", cycle=1, day=1, dose_mg=1,
            kind="planned", started_at=started, nurse_id=nurse.id, recorded_at=started,  # type: ignore[union-attr, arg-type]
            ended_at=ended))
        u.commit()
    return a.id  # type: ignore[return-value]


def chart(store: FakeStore, course_id: int, at: datetime, **kw: Any) -> monitoring.VitalsResult:
    values = {**NORMAL, **kw.pop("values", {})}
    return monitoring.chart_vitals(FakeUnitOfWork(store), course_id=course_id, taken_at=at,
                                   actor=kw.pop("actor", "rn"), now=kw.pop("now", at),
                                   values=values, **kw)


def nyc(store: FakeStore) -> Scope:
    return Scope(store.tables["sites"].where(code="NYC")[0].id)


def test_a_normal_set_is_charted_with_grade_0_and_raises_nothing(store: FakeStore) -> None:
    c = course(store)
    r = chart(store, c, T0 + timedelta(hours=1))
    assert r.vitals.proposed_crs_grade == r.vitals.charted_crs_grade == 0
    assert r.assessment_id is None and r.alert_ids == ()
    assert len(store.tables["vital_signs"].rows) == 1


def test_a_confirmed_grade_2_opens_crs_through_the_assessment_and_alerts(store: FakeStore
                                                                        ) -> None:
    c = course(store)
    r = chart(store, c, T0 + timedelta(hours=3),
              values={"temperature_c": 38.6, "hypotension": True}, charted_crs_grade=2)
    assert r.vitals.charted_crs_grade == 2 and r.assessment_id is not None
    assert r.adverse_event_id is not None
    (event,) = store.tables["events"].rows.values()
    assert event.type == "CRS" and event.grade == 2
    (alert,) = store.tables["alerts"].rows.values()
    assert alert.kind == "crs" and alert.grade == 2 and alert.source == "vitals"
    assert alert.source_id == r.vitals.id and not alert.infusion_running
    (view,) = alerts.list_alerts(FakeUnitOfWork(store), viewer=nyc(store), now=T0)
    assert view.order_set is not None and "hospitalisation" in view.order_set.text
    assert view.stop_infusion is None


def test_a_correction_keeps_both_grades_and_needs_a_reason(store: FakeStore) -> None:
    c = course(store)
    with pytest.raises(InvalidInput, match="correction_reason"):
        chart(store, c, T0 + timedelta(hours=1), values={"temperature_c": 38.2},
              charted_crs_grade=0)
    assert not store.tables["vital_signs"].rows
    r = chart(store, c, T0 + timedelta(hours=1), values={"temperature_c": 38.2},
              charted_crs_grade=0, correction_reason="fever explained by a line infection")
    assert (r.vitals.proposed_crs_grade, r.vitals.charted_crs_grade) == (1, 0)
    assert r.vitals.correction_reason == "fever explained by a line infection"
    assert not store.tables["events"].rows


def test_a_fever_while_the_infusion_runs_alerts_stop_the_infusion(store: FakeStore) -> None:
    c = course(store)
    a = dose(store, c, T0)
    r = chart(store, c, T0 + timedelta(minutes=20), values={"temperature_c": 38.1},
              administration_id=a)
    (alert,) = store.tables["alerts"].rows.values()
    assert alert.kind == "fever" and alert.infusion_running and alert.administration_id == a
    assert r.vitals.charted_crs_grade == 1 and r.assessment_id is not None
    (view,) = alerts.list_alerts(FakeUnitOfWork(store), viewer=nyc(store), now=T0)
    assert view.stop_infusion == "Stop the infusion now"


def test_any_icans_assessment_raises_an_alert_in_its_transaction(store: FakeStore) -> None:
    c = course(store)
    # ICE 8 (7-9) and awakens spontaneously: ICANS grade 1 (standards.md §2)
    inputs = {"ice_score": 8, "consciousness": "awakens_spontaneously", "seizure": "none",
              "motor": "none", "cerebral_edema": "none"}
    res = clinical.record_assessment(FakeUnitOfWork(store), course_id=c, kind="ICANS",
                                     inputs=inputs, assessed_at=T0, actor="rn", now=T0)
    assert res.grade == 1 and len(res.alert_ids) == 1
    (view,) = alerts.list_alerts(FakeUnitOfWork(store), viewer=nyc(store), now=T0)
    assert view.alert.kind == "icans" and view.order_set is None
    assert "writes its own" in view.order_set_note


def test_times_in_the_future_or_before_the_infusion_are_refused(store: FakeStore) -> None:
    c = course(store)
    a = dose(store, c, T0)
    with pytest.raises(InvalidInput, match="taken_at"):
        chart(store, c, T0 + timedelta(hours=1), now=T0)
    with pytest.raises(InvalidInput, match="before the infusion"):
        chart(store, c, T0 - timedelta(minutes=5), administration_id=a,
              now=T0 + timedelta(hours=1))
    with pytest.raises(InvalidInput) as e:
        chart(store, c, T0, values={"spo2": 140})
    assert e.value.field == "spo2"
    assert not store.tables["vital_signs"].rows


def test_another_sites_course_answers_404_and_a_pharmacist_may_not_chart(store: FakeStore
                                                                        ) -> None:
    c = course(store)
    with pytest.raises(NotFound):
        chart(store, c, T0, actor="bosdr")
    with pytest.raises(Forbidden):
        chart(store, c, T0, actor="rph")
    with pytest.raises(NotFound):
        monitoring.monitoring_status(FakeUnitOfWork(store), viewer=Scope(999), now=T0,
                                     course_id=c)


def test_monitoring_status_says_when_the_next_set_is_due_and_if_it_is_overdue(
        store: FakeStore) -> None:
    c = course(store)
    dose(store, c, T0)
    chart(store, c, T0 + timedelta(minutes=10))
    (st,) = monitoring.monitoring_status(FakeUnitOfWork(store), viewer=nyc(store),
                                         now=T0 + timedelta(minutes=30))
    assert st.course_id == c and st.tier == "infusion" and st.infusion_running
    assert st.next_due == T0 + timedelta(minutes=25) and st.overdue
    assert st.latest_proposed_crs == st.latest_charted_crs == 0


def test_a_physician_acknowledges_an_alert_once(store: FakeStore) -> None:
    c = course(store)
    chart(store, c, T0, values={"temperature_c": 38.6, "hypotension": True})
    (aid,) = store.tables["alerts"].rows
    with pytest.raises(Forbidden):
        alerts.acknowledge_alert(FakeUnitOfWork(store), alert_id=aid, actor="rn", now=T0)
    with pytest.raises(NotFound):
        alerts.acknowledge_alert(FakeUnitOfWork(store), alert_id=aid, actor="bosdr", now=T0)
    v = alerts.acknowledge_alert(FakeUnitOfWork(store), alert_id=aid, actor="dr", now=T0)
    assert v.alert.acknowledged_at == T0
    assert alerts.unacknowledged_count(FakeUnitOfWork(store), viewer=nyc(store)) == 0


def test_an_edited_order_set_takes_effect_only_after_a_password_sign_off(store: FakeStore
                                                                        ) -> None:
    def check(stored: str | None, password: str) -> bool:
        return password == "right"

    rec = alerts.edit_order_set(FakeUnitOfWork(store), actor="rph", event="crs", min_grade=2,
                                max_grade=2, text="Site steps v2", now=T0)
    assert rec.version == 2 and not rec.active
    with pytest.raises(InvalidInput, match="password"):
        alerts.sign_off_order_set(FakeUnitOfWork(store), order_set_id=rec.id, actor="dr",  # type: ignore[arg-type]
                                  password="wrong", verify=check, now=T0)
    view = alerts.order_sets_overview(FakeUnitOfWork(store), viewer=nyc(store),
                                      roles=frozenset({"nurse"}), now=T0)
    assert "Site steps v2" not in [o.text for o in view.active]
    alerts.sign_off_order_set(FakeUnitOfWork(store), order_set_id=rec.id, actor="dr",  # type: ignore[arg-type]
                              password="right", verify=check, now=T0)
    view = alerts.order_sets_overview(FakeUnitOfWork(store), viewer=nyc(store),
                                      roles=frozenset({"nurse"}), now=T0)
    assert "Site steps v2" in [o.text for o in view.active] and not view.may_edit
    actions = [e.action for e in store.audit]
    assert "order_set.edit" in actions and "order_set.sign_off" in actions
    with pytest.raises(Forbidden):
        alerts.edit_order_set(FakeUnitOfWork(store), actor="rn", event="crs", min_grade=3,
                              max_grade=4, text="x", now=T0)


class _Listener(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []
    status = 204

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def listener() -> Iterator[tuple[str, type[_Listener]]]:
    handler = type("Handler", (_Listener,), {"received": [], "status": 204})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", handler
    finally:
        server.shutdown()
        server.server_close()


def test_the_webhook_is_posted_after_the_commit_and_recorded_delivered(
        listener: tuple[str, type[_Listener]]) -> None:
    url, handler = listener
    store = make_store({"alert_webhook_url": url})
    c = course(store)
    chart(store, c, T0, values={"temperature_c": 38.6, "hypotension": True}, notify=post_alert)
    (alert,) = store.tables["alerts"].rows.values()
    assert alert.webhook_status == "delivered" and alert.webhook_error is None
    (sent,) = handler.received
    assert sent["kind"] == "crs" and sent["grade"] == 2 and sent["course_id"] == c


def test_a_failed_webhook_is_recorded_and_never_loses_the_alert_or_the_set(
        listener: tuple[str, type[_Listener]]) -> None:
    url, handler = listener
    handler.status = 500
    store = make_store({"alert_webhook_url": url})
    c = course(store)
    r = chart(store, c, T0, values={"temperature_c": 38.6, "hypotension": True},
              notify=post_alert)
    (alert,) = store.tables["alerts"].rows.values()
    assert alert.webhook_status == "failed" and "500" in (alert.webhook_error or "")
    assert r.vitals.id in store.tables["vital_signs"].rows
    store2 = make_store({"alert_webhook_url": "http://127.0.0.1:1/nothing-listens"})
    c2 = course(store2)
    chart(store2, c2, T0, values={"temperature_c": 38.6, "hypotension": True},
          notify=post_alert)
    (alert2,) = store2.tables["alerts"].rows.values()
    assert alert2.webhook_status == "failed" and alert2.webhook_error
