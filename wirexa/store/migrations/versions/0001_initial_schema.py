"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-21 23:24:45.130304
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('projects',
    sa.Column('sid', sa.String(length=64), nullable=False),
    sa.Column('friendly_name', sa.String(length=255), nullable=False),
    sa.Column('auth_token', sa.String(length=128), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('date_created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('date_updated', sa.DateTime(timezone=True), nullable=False),
    sa.Column('cps', sa.Numeric(precision=10, scale=3), nullable=True),
    sa.Column('billing_enabled', sa.Boolean(), nullable=False),
    sa.Column('balance', sa.Numeric(precision=14, scale=5), nullable=False),
    sa.Column('price_per_minute', sa.Numeric(precision=10, scale=5), nullable=True),
    sa.PrimaryKeyConstraint('sid')
    )
    op.create_table('calls',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('sid', sa.String(length=34), nullable=False),
    sa.Column('account_sid', sa.String(length=64), nullable=False),
    sa.Column('parent_call_sid', sa.String(length=34), nullable=True),
    sa.Column('direction', sa.String(length=16), nullable=False),
    sa.Column('to_number', sa.String(length=255), nullable=False),
    sa.Column('from_number', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('date_created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('date_updated', sa.DateTime(timezone=True), nullable=False),
    sa.Column('start_time', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end_time', sa.DateTime(timezone=True), nullable=True),
    sa.Column('duration', sa.Integer(), nullable=True),
    sa.Column('price', sa.Numeric(precision=14, scale=5), nullable=True),
    sa.Column('price_unit', sa.String(length=8), nullable=True),
    sa.Column('answered_by', sa.String(length=32), nullable=True),
    sa.Column('forwarded_from', sa.String(length=255), nullable=True),
    sa.Column('caller_name', sa.String(length=255), nullable=True),
    sa.Column('annotation', sa.Text(), nullable=True),
    sa.Column('url', sa.Text(), nullable=True),
    sa.Column('method', sa.String(length=8), nullable=False),
    sa.Column('fallback_url', sa.Text(), nullable=True),
    sa.Column('fallback_method', sa.String(length=8), nullable=False),
    sa.Column('twiml', sa.Text(), nullable=True),
    sa.Column('status_callback', sa.Text(), nullable=True),
    sa.Column('status_callback_method', sa.String(length=8), nullable=False),
    sa.Column('status_callback_event', sa.String(length=64), nullable=True),
    sa.Column('timeout', sa.Integer(), nullable=False),
    sa.Column('time_limit', sa.Integer(), nullable=False),
    sa.Column('send_digits', sa.String(length=64), nullable=True),
    sa.Column('caller_id', sa.String(length=255), nullable=True),
    sa.Column('record', sa.Boolean(), nullable=False),
    sa.Column('recording_channels', sa.String(length=8), nullable=True),
    sa.Column('recording_status_callback', sa.Text(), nullable=True),
    sa.Column('recording_status_callback_method', sa.String(length=8), nullable=False),
    sa.Column('recording_status_callback_event', sa.String(length=64), nullable=True),
    sa.Column('machine_detection', sa.String(length=32), nullable=True),
    sa.Column('machine_detection_timeout', sa.Integer(), nullable=True),
    sa.Column('machine_detection_speech_threshold', sa.Integer(), nullable=True),
    sa.Column('machine_detection_speech_end_threshold', sa.Integer(), nullable=True),
    sa.Column('machine_detection_silence_timeout', sa.Integer(), nullable=True),
    sa.Column('async_amd', sa.Boolean(), nullable=False),
    sa.Column('async_amd_status_callback', sa.Text(), nullable=True),
    sa.Column('async_amd_status_callback_method', sa.String(length=8), nullable=False),
    sa.Column('sip_response_code', sa.Integer(), nullable=True),
    sa.Column('sip_reason', sa.String(length=255), nullable=True),
    sa.Column('error_code', sa.Integer(), nullable=True),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('node_id', sa.String(length=64), nullable=True),
    sa.Column('dispatched_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_sid'], ['projects.sid'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sid')
    )
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.create_index('ix_calls_account_id', ['account_sid', 'id'], unique=False)
        batch_op.create_index('ix_calls_account_status_id', ['account_sid', 'status', 'id'], unique=False)
        batch_op.create_index('ix_calls_node', ['node_id'], unique=False)
        batch_op.create_index('ix_calls_queue', ['status', 'node_id', 'id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_index('ix_calls_queue')
        batch_op.drop_index('ix_calls_node')
        batch_op.drop_index('ix_calls_account_status_id')
        batch_op.drop_index('ix_calls_account_id')

    op.drop_table('calls')
    op.drop_table('projects')
