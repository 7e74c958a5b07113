"""Use cases: primitives in, results out, each inside one unit of work with one audit entry.

    admin       create_site, create_user (the operator's); add_user, managed_scope (an admin's)
    clinical    enrol_patient, record_lab, record_lab_panel, record_assessment,
                record_adverse_event, resolve_adverse_event, record_administration
    pharmacy    start_preparation, advance_preparation, check_preparation, record_scan,
                receive_vial, record_excursion
    label       register_revision, set_new_course_version, sign_off_label, revoke_signoff;
                rules_overview, signed_rules, compare_versions   (read-only)
    queries     evaluate_patient, worklist, patient_of ...      (read-only, not audited)
    audit       verify_chain                                    (read-only)
    demo        load_demo_data

Sites are walls (:mod:`.scope`): a write acts within the acting user's site, a read within
the viewer's scope; another site's record is not found, exactly as one that does not exist.

Ports (repositories, unit of work) are in :mod:`.ports`; errors in :mod:`.errors`; an
in-memory unit of work for tests in :mod:`.fakes`.
"""
