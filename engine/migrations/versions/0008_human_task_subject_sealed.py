"""human_task.subject encrypted at rest: Text, as the envelope outgrows 200 characters

Existing plaintext subjects stay readable (engine.crypto.open_text) until ``regeling rotate-key``
encrypts them.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("human_task", schema=None) as batch_op:
        batch_op.alter_column("subject", existing_type=sa.String(length=200), type_=sa.Text(), existing_nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("human_task", schema=None) as batch_op:
        batch_op.alter_column("subject", existing_type=sa.Text(), type_=sa.String(length=200), existing_nullable=True)
