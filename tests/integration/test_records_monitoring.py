"""Vital signs, alerts and order sets (issue 11) stored by the SQL repositories
(``SqlMonitoring``, ``SqlOrderSets``) on both databases, through the real use cases."""

from __future__ import annotations

from datetime import timedelta

from records_helpers import T0, World, enrol

from tarla.services import alerts, monitoring
from tarla.services.records import AdministrationRecord
from tarla.services.scope import Scope

NORMAL = {"temperature_c": 37.0, "systolic_mmhg": 120, "diastolic_mmhg": 80, "heart_rate": 80,
          "spo2": 98}
CRS2 = {**NORMAL, "temperature_c": 38.6, "hypotension": True, "oxygen_device": "low_flow",
        "oxygen_l_min": 2.0, "respiratory_rate": 22}


def _dose(w: World, course_id: int) -> int:
    """A running C1D1 infusion from T0 (written by the repository: the closed loop is tested
    elsewhere; here the monitoring reads it)."""
    with w.app.uow() as uow:
        nurse = uow.users.by_username(w.nurse)
        assert nurse is not None
        a = uow.administrations.add(AdministrationRecord(
            course_id=course_id, slot_seq=0, slot="C1D1", cycle=1, day=1, dose_mg=1,
            kind="planned", started_at=T0, nurse_id=nurse.id, recorded_at=T0))  # type: ignore[arg-type]
        uow.commit()
    assert a.id is not None
    return a.id


def test_sets_alerts_and_acknowledgements_round_trip(world: World) -> None:
    course_id = enrol(world).course_id
    dose = _dose(world, course_id)
    later = T0 + timedelta(minutes=30)
    monitoring.chart_vitals(world.app.uow(), course_id=course_id, taken_at=later,
                            actor=world.nurse, now=later, values=CRS2, administration_id=dose)
    monitoring.chart_vitals(world.app.uow(), course_id=course_id, taken_at=T0 + timedelta(
        minutes=15), actor=world.nurse, now=later, values=NORMAL)
    with world.app.uow().readonly() as uow:
        sets = uow.monitoring.vitals(course_id)
        assert [s.taken_at for s in sets] == [T0 + timedelta(minutes=15), later]  # by time taken
        last = sets[-1]
        assert (last.proposed_crs_grade, last.charted_crs_grade) == (2, 2)
        assert last.oxygen_l_min == 2.0 and last.hypotension and last.respiratory_rate == 22
        assert last.taken_at.utcoffset() is not None and last.assessment_id is not None
        assert uow.monitoring.latest_vitals([course_id, 999])[course_id].id == last.id
        course = uow.courses.get(course_id)
        assert course is not None
        site_id = course.site_id
        assert uow.monitoring.courses_dosed_since(site_id, T0 + timedelta(days=1)) == [
            course_id]  # still running
        assert uow.monitoring.courses_dosed_since(site_id + 1, T0) == []
        kinds = sorted(a.kind for a in uow.monitoring.alerts(site_id))
        assert kinds == ["crs"]  # the CRS alert, no second one for the fever in it
        (alert,) = uow.monitoring.alerts(site_id, course_id=course_id, unacknowledged=True)
        assert alert.infusion_running and alert.administration_id == dose
        assert uow.monitoring.unacknowledged(site_id) == 1
    view = alerts.acknowledge_alert(world.app.uow(), alert_id=alert.id,  # type: ignore[arg-type]
                                    actor=world.physician, now=later + timedelta(minutes=5))
    assert view.order_set is not None and view.order_set.min_grade == 2
    with world.app.uow().readonly() as uow:
        stored = uow.monitoring.alert(alert.id)  # type: ignore[arg-type]
        assert stored is not None and stored.acknowledged_at == later + timedelta(minutes=5)
        assert uow.monitoring.unacknowledged(site_id) == 0
        assert uow.monitoring.alerts(site_id, unacknowledged=True) == []
    status = monitoring.monitoring_status(world.app.uow(), viewer=Scope(site_id), now=later,
                                          course_id=course_id)[0]
    assert status.tier == "infusion" and status.next_due == later + timedelta(minutes=15)


def test_order_set_versions_are_stored_and_a_sign_off_replaces_the_one_in_effect(
        world: World) -> None:
    edited = alerts.edit_order_set(world.app.uow(), actor=world.pharmacist, event="crs",
                                   min_grade=2, max_grade=2, text="Site CRS grade 2 steps.",
                                   now=T0)
    assert edited.version == 2 and not edited.active  # the seed is version 1
    signed = alerts.sign_off_order_set(world.app.uow(), order_set_id=edited.id,  # type: ignore[arg-type]
                                       actor=world.physician, password="pw",
                                       verify=lambda stored, given: True,
                                       now=T0 + timedelta(hours=1))
    assert signed.active and signed.signed_at == T0 + timedelta(hours=1)
    with world.app.uow().readonly() as uow:
        rows = uow.order_sets.for_site(signed.site_id)
        crs2 = [(o.version, o.active, o.tag) for o in rows if (o.event, o.min_grade) == ("crs", 2)]
        assert crs2 == [(1, False, "HCP"), (2, True, "site")]
        assert [(o.event, o.min_grade) for o in rows] == sorted((o.event, o.min_grade)
                                                                for o in rows)
        again = uow.order_sets.get(signed.id)  # type: ignore[arg-type]
        assert again is not None and again.signed_by is not None
