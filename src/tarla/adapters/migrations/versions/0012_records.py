"""Anchored audit and access log (issue 13):

- ``audit_log.row_hash`` / ``rows``: each new entry commits to the audited columns of every
  clinical row its transaction wrote, read back after the write (``rows``, a JSON list of
  ``{table, id, state}``), through their SHA-256 (``row_hash``), which is part of the entry's
  own hash. Entries written before this migration keep both NULL and their old hash: they
  stay verifiable and are reported as "not anchored to a row".
- ``audit_log.site_id`` / ``patient_id``: whose record an entry is about (the access log:
  reads of a patient's record, sign-ins), hashed with the entry; indexed for the access page.
- ``audit_baseline``: per clinical table, the highest id when anchoring began. A row at or
  below it may have no anchored state (written before this migration); a row above it must
  have one, or ``tarla audit verify`` reports it as written behind the application's back.

Revision ID: 0012_records
Revises: 0011_capacity
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_records"
down_revision = "0011_capacity"
branch_labels = None
depends_on = None

#: The clinical tables as of this migration (``tarla.adapters.audit_store.ANCHORED``).
_CLINICAL = ("patients", "treatment_courses", "administrations", "assessments",
             "adverse_events", "lab_results", "preparations", "preparation_events",
             "preparation_scans", "preparation_steps", "dose_releases", "vials",
             "vial_excursions", "vital_signs", "alerts", "order_sets",
             "medication_administrations", "discharges", "billing_codes", "charge_reviews")


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("row_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("rows", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("site_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("patient_id", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_audit_log_site_id"), "audit_log", ["site_id"])
    op.create_index(op.f("ix_audit_log_patient_id"), "audit_log", ["patient_id"])
    baseline = op.create_table(
        "audit_baseline",
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("max_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("table_name", name=op.f("pk_audit_baseline")),
    )
    conn = op.get_bind()
    rows = []
    for name in _CLINICAL:
        top = conn.execute(sa.text(f"SELECT MAX(id) FROM {name}")).scalar()  # noqa: S608
        rows.append({"table_name": name, "max_id": int(top or 0)})
    op.bulk_insert(baseline, rows)


def downgrade() -> None:
    op.drop_table("audit_baseline")
    op.drop_index(op.f("ix_audit_log_patient_id"), table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_site_id"), table_name="audit_log")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("patient_id")
        batch.drop_column("site_id")
        batch.drop_column("rows")
        batch.drop_column("row_hash")
