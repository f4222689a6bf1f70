"""drop the items index on (project_id, content_hash)

No query looks items up by content hash (duplicates and embedding caches read the hashes with
the whole item frame), while every insert paid for the index: its keys are random 64-character
hashes, so each import batch rewrote most of its pages (a third of the write time of a 100k-item
import on SQLite).

Revision ID: 0004
Revises: 0003
"""
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.drop_index('ix_items_project_hash')


def downgrade() -> None:
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.create_index('ix_items_project_hash', ['project_id', 'content_hash'], unique=False)
