"""accounts, organisations, documents, drafts; case scope columns (CCV adviser, BVA since)

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "organisation",
        sa.Column("code", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "account",
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("organisation", sa.String(length=100), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation"],
            ["organisation.code"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "document",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("form", sa.String(length=200), nullable=False),
        sa.Column("field", sa.String(length=200), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=100), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_document_case_id"), ["case_id"], unique=False)

    op.create_table(
        "task_draft",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("human_task_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.String(length=100), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["human_task_id"],
            ["human_task.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("human_task_id", "account_id"),
    )
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ccv_adviser", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("bva_since", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_case_bestuurder", ["bestuurder"], unique=False)
        batch_op.create_index("ix_case_organisation", ["organisation"], unique=False)

    with op.batch_alter_table("human_task", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_human_task_open"))
        batch_op.create_index("ix_human_task_open", ["state", "lane", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("human_task", schema=None) as batch_op:
        batch_op.drop_index("ix_human_task_open")
        batch_op.create_index(batch_op.f("ix_human_task_open"), ["state", "lane"], unique=False)

    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.drop_index("ix_case_organisation")
        batch_op.drop_index("ix_case_bestuurder")
        batch_op.drop_column("bva_since")
        batch_op.drop_column("ccv_adviser")

    op.drop_table("task_draft")
    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_document_case_id"))

    op.drop_table("document")
    op.drop_table("account")
    op.drop_table("organisation")
