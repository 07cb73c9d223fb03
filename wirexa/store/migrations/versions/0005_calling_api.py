"""Calling API: the call's JSON status_url, and JSON webhooks

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 10:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('calls') as batch:
        batch.add_column(sa.Column('calling_status_url', sa.Text(), nullable=True))
        batch.add_column(sa.Column('calling_status_events', sa.String(length=128), nullable=True))
    with op.batch_alter_table('webhooks') as batch:
        batch.add_column(sa.Column('content_type', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('webhooks') as batch:
        batch.drop_column('content_type')
    with op.batch_alter_table('calls') as batch:
        batch.drop_column('calling_status_events')
        batch.drop_column('calling_status_url')
