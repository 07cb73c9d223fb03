"""incoming phone numbers

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 23:39:52.489870
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('phone_numbers',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('sid', sa.String(length=34), nullable=False),
    sa.Column('account_sid', sa.String(length=64), nullable=False),
    sa.Column('phone_number', sa.String(length=255), nullable=False),
    sa.Column('friendly_name', sa.String(length=255), nullable=False),
    sa.Column('voice_url', sa.Text(), nullable=True),
    sa.Column('voice_method', sa.String(length=8), nullable=False),
    sa.Column('voice_fallback_url', sa.Text(), nullable=True),
    sa.Column('voice_fallback_method', sa.String(length=8), nullable=False),
    sa.Column('status_callback', sa.Text(), nullable=True),
    sa.Column('status_callback_method', sa.String(length=8), nullable=False),
    sa.Column('date_created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('date_updated', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_sid'], ['projects.sid'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('phone_number'),
    sa.UniqueConstraint('sid')
    )
    with op.batch_alter_table('phone_numbers', schema=None) as batch_op:
        batch_op.create_index('ix_phone_numbers_account', ['account_sid', 'id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('phone_numbers', schema=None) as batch_op:
        batch_op.drop_index('ix_phone_numbers_account')

    op.drop_table('phone_numbers')
