"""Use cases: primitives in, results out, each inside one unit of work with one audit entry.

    admin       create_site, create_user
    clinical    enrol_patient, record_lab, record_lab_panel, record_assessment,
                record_adverse_event, resolve_adverse_event, record_administration
    pharmacy    start_preparation, advance_preparation, check_preparation, record_scan,
                receive_vial, record_excursion
    label       sign_off_label, signoff_status
    queries     evaluate_patient, worklist                      (read-only, not audited)
    audit       verify_chain                                    (read-only)
    demo        load_demo_data

Ports (repositories, unit of work) are in :mod:`.ports`; errors in :mod:`.errors`; an
in-memory unit of work for tests in :mod:`.fakes`.
"""
