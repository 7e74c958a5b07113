"""Initial schema: sites, users, patients, courses, doses, toxicity, labs, preparations,
label sign-offs and the hash-chained audit log.

Revision ID: 0001_initial
Revises: None
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001_initial'
down_revision = None
branch_labels = None
depends_on = None

def upgrade() -> None:
    op.create_table('audit_head',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last_id', sa.Integer(), nullable=False),
    sa.Column('last_hash', sa.String(length=64), nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_audit_head_single_row')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_head'))
    )
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('entity_type', sa.String(length=64), nullable=False),
    sa.Column('entity_id', sa.String(length=64), nullable=False),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log')),
    sa.UniqueConstraint('hash', name=op.f('uq_audit_log_hash'))
    )
    op.create_table('label_versions',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('registered_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_label_versions'))
    )
    op.create_table('sites',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('policy', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sites')),
    sa.UniqueConstraint('code', name=op.f('uq_sites_code'))
    )
    op.create_table('label_rules',
    sa.Column('label_version', sa.String(length=32), nullable=False),
    sa.Column('rule_id', sa.String(length=64), nullable=False),
    sa.Column('tag', sa.String(length=16), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['label_version'], ['label_versions.id'], name=op.f('fk_label_rules_label_version_label_versions')),
    sa.PrimaryKeyConstraint('label_version', 'rule_id', name=op.f('pk_label_rules'))
    )
    op.create_table('patients',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('mrn', sa.String(length=64), nullable=False),
    sa.Column('family_name', sa.String(length=100), nullable=False),
    sa.Column('given_name', sa.String(length=100), nullable=False),
    sa.Column('birth_date', sa.Date(), nullable=False),
    sa.Column('diagnosis', sa.String(length=100), nullable=False),
    sa.Column('progressed_after_platinum', sa.Boolean(), nullable=False),
    sa.Column('off_label_reason', sa.Text(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_patients_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patients')),
    sa.UniqueConstraint('site_id', 'mrn', name=op.f('uq_patients_site_id_mrn'))
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_users_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('username', name=op.f('uq_users_username'))
    )
    op.create_table('lab_results',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('test', sa.String(length=32), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('unit', sa.String(length=32), nullable=False),
    sa.Column('uln', sa.Float(), nullable=True),
    sa.Column('lln', sa.Float(), nullable=True),
    sa.Column('baseline', sa.Float(), nullable=True),
    sa.Column('collected_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ctcae_grade', sa.Integer(), nullable=True),
    sa.Column('ctcae_term', sa.String(length=100), nullable=True),
    sa.Column('charted_by', sa.Integer(), nullable=False),
    sa.Column('charted_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['charted_by'], ['users.id'], name=op.f('fk_lab_results_charted_by_users')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_lab_results_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lab_results'))
    )
    op.create_index('ix_lab_results_patient_collected', 'lab_results', ['patient_id', 'collected_at'], unique=False)
    op.create_table('label_signoffs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('label_version', sa.String(length=32), nullable=False),
    sa.Column('signed_by', sa.Integer(), nullable=False),
    sa.Column('signed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('comments', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['label_version'], ['label_versions.id'], name=op.f('fk_label_signoffs_label_version_label_versions')),
    sa.ForeignKeyConstraint(['signed_by'], ['users.id'], name=op.f('fk_label_signoffs_signed_by_users')),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_label_signoffs_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_label_signoffs'))
    )
    op.create_table('treatment_courses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('label_version', sa.String(length=32), nullable=False),
    sa.Column('policy', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('next_due_date', sa.Date(), nullable=True),
    sa.Column('last_dose_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('doses_given', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('active', 'held', 'discontinued')", name=op.f('ck_treatment_courses_status')),
    sa.ForeignKeyConstraint(['label_version'], ['label_versions.id'], name=op.f('fk_treatment_courses_label_version_label_versions')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_treatment_courses_patient_id_patients')),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_treatment_courses_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_treatment_courses'))
    )
    op.create_index(op.f('ix_treatment_courses_patient_id'), 'treatment_courses', ['patient_id'], unique=False)
    op.create_index('ix_treatment_courses_worklist', 'treatment_courses', ['site_id', 'next_due_date'], unique=False)
    op.create_table('user_roles',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.CheckConstraint("role IN ('nurse', 'pharmacist', 'physician', 'scheduler', 'admin')", name=op.f('ck_user_roles_role')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_roles_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'role', name=op.f('pk_user_roles'))
    )
    op.create_table('assessments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('inputs', sa.JSON(), nullable=False),
    sa.Column('grade', sa.Integer(), nullable=False),
    sa.Column('system', sa.String(length=32), nullable=False),
    sa.Column('drivers', sa.JSON(), nullable=False),
    sa.Column('assessed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('charted_by', sa.Integer(), nullable=False),
    sa.Column('charted_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('CRS', 'ICANS')", name=op.f('ck_assessments_kind')),
    sa.CheckConstraint('grade BETWEEN 0 AND 5', name=op.f('ck_assessments_grade')),
    sa.ForeignKeyConstraint(['charted_by'], ['users.id'], name=op.f('fk_assessments_charted_by_users')),
    sa.ForeignKeyConstraint(['course_id'], ['treatment_courses.id'], name=op.f('fk_assessments_course_id_treatment_courses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assessments'))
    )
    op.create_index(op.f('ix_assessments_course_id'), 'assessments', ['course_id'], unique=False)
    op.create_table('label_signoff_rules',
    sa.Column('signoff_id', sa.Integer(), nullable=False),
    sa.Column('label_version', sa.String(length=32), nullable=False),
    sa.Column('rule_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['label_version', 'rule_id'], ['label_rules.label_version', 'label_rules.rule_id'], name='fk_label_signoff_rules_rule'),
    sa.ForeignKeyConstraint(['signoff_id'], ['label_signoffs.id'], name=op.f('fk_label_signoff_rules_signoff_id_label_signoffs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('signoff_id', 'rule_id', name=op.f('pk_label_signoff_rules'))
    )
    op.create_table('preparations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('dose_mg', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('prepared_by', sa.Integer(), nullable=False),
    sa.Column('checked_by', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('ordered', 'in_preparation', 'prepared', 'checked', 'stored', 'in_use', 'administered', 'discarded')", name=op.f('ck_preparations_status')),
    sa.CheckConstraint('checked_by IS NULL OR checked_by <> prepared_by', name=op.f('ck_preparations_checker_is_not_preparer')),
    sa.CheckConstraint('dose_mg IN (1, 10)', name=op.f('ck_preparations_dose_mg')),
    sa.ForeignKeyConstraint(['checked_by'], ['users.id'], name=op.f('fk_preparations_checked_by_users')),
    sa.ForeignKeyConstraint(['course_id'], ['treatment_courses.id'], name=op.f('fk_preparations_course_id_treatment_courses')),
    sa.ForeignKeyConstraint(['prepared_by'], ['users.id'], name=op.f('fk_preparations_prepared_by_users')),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_preparations_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_preparations'))
    )
    op.create_index(op.f('ix_preparations_course_id'), 'preparations', ['course_id'], unique=False)
    op.create_table('administrations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('slot_seq', sa.Integer(), nullable=False),
    sa.Column('slot', sa.String(length=16), nullable=False),
    sa.Column('cycle', sa.Integer(), nullable=False),
    sa.Column('day', sa.Integer(), nullable=False),
    sa.Column('dose_mg', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('infusion_site', sa.String(length=64), nullable=True),
    sa.Column('nurse_id', sa.Integer(), nullable=False),
    sa.Column('preparation_id', sa.Integer(), nullable=True),
    sa.Column('idempotency_key', sa.String(length=100), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('planned', 'restart_continue', 'restart_step_up')", name=op.f('ck_administrations_kind')),
    sa.CheckConstraint('dose_mg IN (1, 10)', name=op.f('ck_administrations_dose_mg')),
    sa.CheckConstraint('ended_at IS NULL OR ended_at >= started_at', name=op.f('ck_administrations_ended_after_start')),
    sa.CheckConstraint('slot_seq >= 0', name=op.f('ck_administrations_slot_seq')),
    sa.ForeignKeyConstraint(['course_id'], ['treatment_courses.id'], name=op.f('fk_administrations_course_id_treatment_courses')),
    sa.ForeignKeyConstraint(['nurse_id'], ['users.id'], name=op.f('fk_administrations_nurse_id_users')),
    sa.ForeignKeyConstraint(['preparation_id'], ['preparations.id'], name=op.f('fk_administrations_preparation_id_preparations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_administrations')),
    sa.UniqueConstraint('course_id', 'slot_seq', name=op.f('uq_administrations_course_id_slot_seq')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_administrations_idempotency_key'))
    )
    op.create_table('adverse_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('grade', sa.Integer(), nullable=False),
    sa.Column('onset', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('assessment_id', sa.Integer(), nullable=True),
    sa.Column('charted_by', sa.Integer(), nullable=False),
    sa.Column('charted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("type IN ('CRS', 'ICANS', 'neurologic', 'ALT_increased', 'AST_increased', 'bilirubin_increased', 'neutropenia', 'febrile_neutropenia', 'thrombocytopenia', 'infection', 'hypersensitivity', 'other')", name=op.f('ck_adverse_events_type')),
    sa.CheckConstraint('grade BETWEEN 1 AND 5', name=op.f('ck_adverse_events_grade')),
    sa.CheckConstraint('resolved_at IS NULL OR resolved_at >= onset', name=op.f('ck_adverse_events_resolved_after_onset')),
    sa.ForeignKeyConstraint(['assessment_id'], ['assessments.id'], name=op.f('fk_adverse_events_assessment_id_assessments')),
    sa.ForeignKeyConstraint(['charted_by'], ['users.id'], name=op.f('fk_adverse_events_charted_by_users')),
    sa.ForeignKeyConstraint(['course_id'], ['treatment_courses.id'], name=op.f('fk_adverse_events_course_id_treatment_courses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_adverse_events'))
    )
    op.create_index(op.f('ix_adverse_events_course_id'), 'adverse_events', ['course_id'], unique=False)
    op.create_table('preparation_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('preparation_id', sa.Integer(), nullable=False),
    sa.Column('event', sa.String(length=32), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_by', sa.Integer(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("event IN ('reconstituted', 'bag_prepared', 'refrigerated', 'removed_from_refrigerator', 'infusion_started', 'infusion_completed', 'discarded')", name=op.f('ck_preparation_events_event')),
    sa.ForeignKeyConstraint(['preparation_id'], ['preparations.id'], name=op.f('fk_preparation_events_preparation_id_preparations')),
    sa.ForeignKeyConstraint(['recorded_by'], ['users.id'], name=op.f('fk_preparation_events_recorded_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_preparation_events'))
    )
    op.create_index(op.f('ix_preparation_events_preparation_id'), 'preparation_events', ['preparation_id'], unique=False)
    op.create_table('preparation_scans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('preparation_id', sa.Integer(), nullable=False),
    sa.Column('gtin', sa.String(length=14), nullable=False),
    sa.Column('lot', sa.String(length=20), nullable=True),
    sa.Column('expiry', sa.Date(), nullable=True),
    sa.Column('serial', sa.String(length=20), nullable=True),
    sa.Column('component', sa.String(length=8), nullable=False),
    sa.Column('verdict', sa.String(length=8), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('scanned_by', sa.Integer(), nullable=False),
    sa.Column('scanned_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("component IN ('drug', 'ivss')", name=op.f('ck_preparation_scans_component')),
    sa.CheckConstraint("verdict IN ('accept', 'refuse')", name=op.f('ck_preparation_scans_verdict')),
    sa.ForeignKeyConstraint(['preparation_id'], ['preparations.id'], name=op.f('fk_preparation_scans_preparation_id_preparations')),
    sa.ForeignKeyConstraint(['scanned_by'], ['users.id'], name=op.f('fk_preparation_scans_scanned_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_preparation_scans'))
    )
    op.create_index(op.f('ix_preparation_scans_preparation_id'), 'preparation_scans', ['preparation_id'], unique=False)
    # The audit chain starts empty: the head row names entry 0 and the genesis hash.
    op.bulk_insert(sa.table("audit_head", sa.column("id", sa.Integer),
                            sa.column("last_id", sa.Integer), sa.column("last_hash", sa.String)),
                   [{"id": 1, "last_id": 0, "last_hash": "0000000000000000000000000000000000000000000000000000000000000000"}])


def downgrade() -> None:
    op.drop_table('preparation_scans')
    op.drop_table('preparation_events')
    op.drop_table('adverse_events')
    op.drop_table('administrations')
    op.drop_table('preparations')
    op.drop_table('label_signoff_rules')
    op.drop_table('assessments')
    op.drop_table('user_roles')
    op.drop_table('treatment_courses')
    op.drop_table('label_signoffs')
    op.drop_table('lab_results')
    op.drop_table('users')
    op.drop_table('patients')
    op.drop_table('label_rules')
    op.drop_table('sites')
    op.drop_table('label_versions')
    op.drop_table('audit_log')
    op.drop_table('audit_head')
