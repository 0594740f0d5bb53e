"""case (status, next_timer_at, id): the timer sweep finds the due cases without walking every active case

With ix_case_status_created (0011) next to ix_case_next_timer_at, SQLite's planner took the status index for the
sweep's `status = 'active' AND next_timer_at < now ORDER BY next_timer_at, id` and sorted every active case:
19 x slower at 100,000 cases (bench/scale.py). This index answers the whole condition and the order.

Revision ID: 0012
Revises: 0011
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.create_index("ix_case_timer_due", ["status", "next_timer_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.drop_index("ix_case_timer_due")
