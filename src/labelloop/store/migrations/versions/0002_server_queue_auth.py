"""labelling server: queue counters, answer bookkeeping, logins, annotator stats, worker runs

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('q_taken', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('q_done', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('q_extra', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('q_open', sa.Boolean(), server_default=sa.true(), nullable=False))
    op.create_index('ix_items_queue', 'items', ['project_id', 'q_open', sa.text('priority DESC'), 'id'], unique=False)
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('answered_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('honeypot_correct', sa.Boolean(), nullable=True))
    op.create_index('ix_assignments_user_state', 'assignments', ['user_id', 'state'], unique=False)
    op.create_table('auth_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('csrf', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_index('ix_auth_tokens_user_id', 'auth_tokens', ['user_id'], unique=False)
    op.create_table('annotator_stats',
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('answers', sa.Integer(), nullable=False),
    sa.Column('honeypots', sa.Integer(), nullable=False),
    sa.Column('honeypots_correct', sa.Integer(), nullable=False),
    sa.Column('peer_checks', sa.Integer(), nullable=False),
    sa.Column('peer_agree', sa.Integer(), nullable=False),
    sa.Column('seconds', sa.Float(), nullable=False),
    sa.Column('weight', sa.Float(), nullable=False),
    sa.Column('skill', sa.Float(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('project_id', 'user_id')
    )
    op.create_table('worker_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('answers', sa.Integer(), nullable=False),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_worker_runs_project', 'worker_runs', ['project_id', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_worker_runs_project', table_name='worker_runs')
    op.drop_table('worker_runs')
    op.drop_table('annotator_stats')
    op.drop_index('ix_auth_tokens_user_id', table_name='auth_tokens')
    op.drop_table('auth_tokens')
    op.drop_index('ix_assignments_user_state', table_name='assignments')
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.drop_column('honeypot_correct')
        batch_op.drop_column('answered_at')
    op.drop_index('ix_items_queue', table_name='items')
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.drop_column('q_open')
        batch_op.drop_column('q_extra')
        batch_op.drop_column('q_done')
        batch_op.drop_column('q_taken')
