"""The outbound queue's index leads to each project's waiting calls

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 09:10:00.000000
"""
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_calls_queue', table_name='calls')
    op.create_index('ix_calls_queue', 'calls', ['status', 'node_id', 'account_sid', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_calls_queue', table_name='calls')
    op.create_index('ix_calls_queue', 'calls', ['status', 'node_id', 'id'], unique=False)
