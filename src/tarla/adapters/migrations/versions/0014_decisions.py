"""Stored worklist decisions (issue 14):

- ``treatment_courses.inputs_version``: bumped by triggers on every insert, update or delete of
  what a course's decision reads: the course row itself, its doses (``administrations``), its
  adverse events, its patient, the patient's labs, and the site's time zone. The triggers are
  in the database so that no writer can forget them: the application, an interface, a manual
  fix in a SQL console.
- ``course_decisions``: each course's decision for its site's day, keyed by that version and
  the day (:mod:`tarla.adapters.orm_decisions`).

The triggers are SQLite ``AFTER`` triggers and PostgreSQL PL/pgSQL trigger functions. A later
migration that rebuilds one of these tables on SQLite (``batch_alter_table``) drops its
triggers and must create them again (:func:`create_triggers`).

Revision ID: 0014_decisions
Revises: 0013_accounts
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_decisions"
down_revision = "0013_accounts"
branch_labels = None
depends_on = None

#: (table, the treatment_courses column a row's changes reach, the row's column that holds
#: it, the operations): every table a decision reads, and how to find its courses.
WATCHED = (
    ("administrations", "id", "course_id", ("INSERT", "UPDATE", "DELETE")),
    ("adverse_events", "id", "course_id", ("INSERT", "UPDATE", "DELETE")),
    ("lab_results", "patient_id", "patient_id", ("INSERT", "UPDATE", "DELETE")),
    ("patients", "patient_id", "id", ("UPDATE",)),
    ("sites", "site_id", "id", ("UPDATE",)),
)
BUMP = "UPDATE treatment_courses SET inputs_version = inputs_version + 1"


def _sqlite_triggers() -> list[tuple[str, str]]:
    out = []
    for table, target, source, ops in WATCHED:
        for operation in ops:
            rows = {"INSERT": ("NEW",), "DELETE": ("OLD",), "UPDATE": ("OLD", "NEW")}[operation]
            where = " OR ".join(f"{target} = {r}.{source}" for r in rows)
            name = f"trg_{table}_{operation.lower()}_inputs"
            out.append((name, f"CREATE TRIGGER {name} AFTER {operation} ON {table} "
                              f"BEGIN {BUMP} WHERE {where}; END"))
    # The course row itself: any column but the version being bumped (no recursion).
    columns = ", ".join(c for c in (
        "patient_id", "site_id", "label_version", "policy", "status", "start_date",
        "next_due_date", "last_dose_at", "doses_given", "last_slot_index", "last_restart_step",
        "last_kind", "last_dose_mg", "version"))
    out.append(("trg_treatment_courses_update_inputs",
                f"CREATE TRIGGER trg_treatment_courses_update_inputs AFTER UPDATE OF {columns} "
                f"ON treatment_courses BEGIN {BUMP} WHERE id = NEW.id; END"))
    return out


_PG_FUNCTIONS = (
    # TG_ARGV: the treatment_courses column to match, the changed row's column holding it.
    """CREATE FUNCTION tarla_decision_inputs_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'INSERT' THEN
            EXECUTE format('UPDATE treatment_courses SET inputs_version = inputs_version + 1 '
                           'WHERE %I = $1.%I', TG_ARGV[0], TG_ARGV[1]) USING OLD;
        END IF;
        IF TG_OP <> 'DELETE' THEN
            EXECUTE format('UPDATE treatment_courses SET inputs_version = inputs_version + 1 '
                           'WHERE %I = $1.%I', TG_ARGV[0], TG_ARGV[1]) USING NEW;
        END IF;
        RETURN NULL;
    END $$""",
    # The course row itself: bumped unless this very update is a bump.
    """CREATE FUNCTION tarla_course_inputs_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.inputs_version = OLD.inputs_version THEN
            NEW.inputs_version := OLD.inputs_version + 1;
        END IF;
        RETURN NEW;
    END $$""",
)


def _pg_triggers() -> list[tuple[str, str]]:
    out = []
    for table, target, source, ops in WATCHED:
        name = f"trg_{table}_inputs"
        out.append((name, f"CREATE TRIGGER {name} AFTER {' OR '.join(ops)} ON {table} "
                          f"FOR EACH ROW EXECUTE FUNCTION "
                          f"tarla_decision_inputs_changed('{target}', '{source}')"))
    out.append(("trg_treatment_courses_inputs",
                "CREATE TRIGGER trg_treatment_courses_inputs BEFORE UPDATE ON treatment_courses "
                "FOR EACH ROW EXECUTE FUNCTION tarla_course_inputs_changed()"))
    return out


def _tables_of(name: str) -> str:
    if name == "trg_treatment_courses_inputs" or name.startswith("trg_treatment_courses_"):
        return "treatment_courses"
    return next(t for t, *_ in WATCHED if name.startswith(f"trg_{t}_"))


def create_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for function in _PG_FUNCTIONS:
            op.execute(function)
        for _, ddl in _pg_triggers():
            op.execute(ddl)
    else:
        for _, ddl in _sqlite_triggers():
            op.execute(ddl)


def drop_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, _ in _pg_triggers():
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {_tables_of(name)}")
        op.execute("DROP FUNCTION IF EXISTS tarla_decision_inputs_changed()")
        op.execute("DROP FUNCTION IF EXISTS tarla_course_inputs_changed()")
    else:
        for name, _ in _sqlite_triggers():
            op.execute(f"DROP TRIGGER IF EXISTS {name}")


def upgrade() -> None:
    op.add_column("treatment_courses", sa.Column("inputs_version", sa.Integer(),
                                                 server_default=sa.text("1"), nullable=False))
    op.create_table(
        "course_decisions",
        sa.Column("course_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("inputs_version", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rank", sa.SmallInteger(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("sort_name", sa.String(length=400), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("relies_on_unverified", sa.Boolean(), nullable=False),
        sa.Column("item", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["course_id"], ["treatment_courses.id"], ondelete="CASCADE",
                                name=op.f("fk_course_decisions_course_id_treatment_courses")),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"],
                                name=op.f("fk_course_decisions_site_id_sites")),
        sa.PrimaryKeyConstraint("course_id", name=op.f("pk_course_decisions")),
    )
    op.create_index("ix_course_decisions_page", "course_decisions",
                    ["site_id", "day", "rank", "due_date", "sort_name", "course_id"])
    create_triggers()


def downgrade() -> None:
    drop_triggers()
    op.drop_index("ix_course_decisions_page", table_name="course_decisions")
    op.drop_table("course_decisions")
    with op.batch_alter_table("treatment_courses") as batch:
        batch.drop_column("inputs_version")
