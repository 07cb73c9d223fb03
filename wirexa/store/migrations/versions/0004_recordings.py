"""recordings (and projects.media_auth)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 01:54:25.841065
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('recordings',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('sid', sa.String(length=34), nullable=False),
    sa.Column('account_sid', sa.String(length=64), nullable=False),
    sa.Column('call_sid', sa.String(length=34), nullable=True),
    sa.Column('conference_sid', sa.String(length=34), nullable=True),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('track', sa.String(length=16), nullable=False),
    sa.Column('channels', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('start_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('duration_ms', sa.Integer(), nullable=True),
    sa.Column('error_code', sa.Integer(), nullable=True),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('status_callback', sa.Text(), nullable=True),
    sa.Column('status_callback_method', sa.String(length=8), nullable=False),
    sa.Column('status_callback_event', sa.String(length=64), nullable=True),
    sa.Column('node_id', sa.String(length=64), nullable=True),
    sa.Column('date_created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('date_updated', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_sid'], ['projects.sid'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sid')
    )
    with op.batch_alter_table('recordings', schema=None) as batch_op:
        batch_op.create_index('ix_recordings_account', ['account_sid', 'id'], unique=False)
        batch_op.create_index('ix_recordings_call', ['call_sid', 'id'], unique=False)
        batch_op.create_index('ix_recordings_node_status', ['node_id', 'status'], unique=False)

    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.add_column(sa.Column('media_auth', sa.String(length=8), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.drop_column('media_auth')

    with op.batch_alter_table('recordings', schema=None) as batch_op:
        batch_op.drop_index('ix_recordings_node_status')
        batch_op.drop_index('ix_recordings_call')
        batch_op.drop_index('ix_recordings_account')

    op.drop_table('recordings')
