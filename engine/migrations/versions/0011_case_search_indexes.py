"""case: indexes for the auditor's search (status, process version, created period, reference prefix)

Revision ID: 0011
Revises: 0010
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# Search pages newest first by (created_at, id); the organisation filter already has ix_case_organisation (0002).
# No index on updated_at: every command updates it, and an index there would be rewritten on each one (the
# period's "since" bound filters along ix_case_created instead).
INDEXES = {
    "ix_case_status_created": ["status", "created_at", "id"],
    "ix_case_version_created": ["process_version_id", "created_at", "id"],
    "ix_case_created": ["created_at", "id"],
}


def upgrade() -> None:
    with op.batch_alter_table("case", schema=None) as batch_op:
        for name, columns in INDEXES.items():
            batch_op.create_index(name, columns, unique=False)
        # The search's reference prefix (LIKE 'BV-2026-%'): PostgreSQL uses an index for it only in C order.
        batch_op.create_index(
            "ix_case_reference_prefix", ["reference"], unique=False, postgresql_ops={"reference": "text_pattern_ops"}
        )


def downgrade() -> None:
    with op.batch_alter_table("case", schema=None) as batch_op:
        for name in [*INDEXES, "ix_case_reference_prefix"]:
            batch_op.drop_index(name)
