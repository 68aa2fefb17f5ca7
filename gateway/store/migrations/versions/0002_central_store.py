"""Central store: clients, volunteers, teams, projects, posts, enrolments, service time,
trainings, commendations, evaluations, complaints, certificates, change history, number
sequences and statistics aggregates.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 04:25:39.505575
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('changes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('entity', sa.String(length=32), nullable=False),
    sa.Column('entity_no', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=True),
    sa.Column('source_system', sa.String(length=64), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('changes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_changes'))
    )
    with op.batch_alter_table('changes', schema=None) as batch_op:
        batch_op.create_index('ix_changes_entity_no', ['entity', 'entity_no'], unique=False)

    op.create_table('clients',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('region_prefix', sa.String(length=6), nullable=False),
    sa.Column('team_nos', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('permissions', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('pii_access', sa.String(length=8), nullable=False),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clients')),
    sa.UniqueConstraint('client_id', name=op.f('uq_clients_client_id'))
    )
    op.create_table('number_sequences',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('next_value', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_number_sequences'))
    )
    op.create_table('stat_hours',
    sa.Column('county', sa.String(length=6), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('service_category', sa.String(length=4), nullable=False),
    sa.Column('hours', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('records', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.PrimaryKeyConstraint('county', 'month', 'service_category', name=op.f('pk_stat_hours'))
    )
    op.create_table('stat_volunteers',
    sa.Column('county', sa.String(length=6), nullable=False),
    sa.Column('birth_year', sa.Integer(), nullable=False),
    sa.Column('gender', sa.String(length=1), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('count', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.PrimaryKeyConstraint('county', 'birth_year', 'gender', 'month', name=op.f('pk_stat_volunteers'))
    )
    op.create_table('stat_hours_province',
    sa.Column('province', sa.String(length=2), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('service_category', sa.String(length=4), nullable=False),
    sa.Column('hours', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('records', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.PrimaryKeyConstraint('province', 'month', 'service_category', name=op.f('pk_stat_hours_province'))
    )
    op.create_table('stat_volunteers_province',
    sa.Column('province', sa.String(length=2), nullable=False),
    sa.Column('birth_year', sa.Integer(), nullable=False),
    sa.Column('gender', sa.String(length=1), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('count', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.PrimaryKeyConstraint('province', 'birth_year', 'gender', 'month', name=op.f('pk_stat_volunteers_province'))
    )
    op.create_table('teams',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('team_no', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('team_type', sa.String(length=1), nullable=False),
    sa.Column('unit_type', sa.String(length=2), nullable=True),
    sa.Column('uscc', sa.String(length=18), nullable=True),
    sa.Column('status', sa.String(length=1), nullable=False),
    sa.Column('join_policy', sa.String(length=1), nullable=True),
    sa.Column('join_password_hash', sa.String(length=128), nullable=True),
    sa.Column('parent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('contact_name', sa.String(length=20), nullable=True),
    sa.Column('contact_mobile_enc', sa.Text(), nullable=True),
    sa.Column('contact_mobile_masked', sa.String(length=16), nullable=True),
    sa.Column('reviewed_by', sa.String(length=64), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('review_note', sa.Text(), nullable=True),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source_system', sa.String(length=64), nullable=True),
    sa.Column('source_id', sa.String(length=64), nullable=True),
    sa.Column('source_updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('area_code', sa.String(length=18), nullable=True),
    sa.Column('province', sa.String(length=2), nullable=True),
    sa.Column('city', sa.String(length=4), nullable=True),
    sa.Column('county', sa.String(length=6), nullable=True),
    sa.ForeignKeyConstraint(['parent_id'], ['teams.id'], name=op.f('fk_teams_parent_id_teams')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_teams')),
    sa.UniqueConstraint('team_no', name=op.f('uq_teams_team_no'))
    )
    with op.batch_alter_table('teams', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_teams_city'), ['city'], unique=False)
        batch_op.create_index(batch_op.f('ix_teams_county'), ['county'], unique=False)
        batch_op.create_index(batch_op.f('ix_teams_name'), ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_teams_parent_id'), ['parent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_teams_province'), ['province'], unique=False)
        batch_op.create_index(batch_op.f('ix_teams_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_teams_uscc'), ['uscc'], unique=False)

    op.create_table('volunteers',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('volunteer_no', sa.String(length=18), nullable=False),
    sa.Column('name', sa.String(length=20), nullable=False),
    sa.Column('id_type', sa.String(length=2), nullable=False),
    sa.Column('id_index', sa.String(length=64), nullable=False),
    sa.Column('id_number_enc', sa.Text(), nullable=False),
    sa.Column('id_number_masked', sa.String(length=32), nullable=False),
    sa.Column('mobile_index', sa.String(length=64), nullable=False),
    sa.Column('mobile_enc', sa.Text(), nullable=False),
    sa.Column('mobile_masked', sa.String(length=16), nullable=False),
    sa.Column('gender', sa.String(length=1), nullable=False),
    sa.Column('birth_date', sa.Date(), nullable=True),
    sa.Column('registered_at', sa.Date(), nullable=True),
    sa.Column('real_name_status', sa.String(length=1), nullable=True),
    sa.Column('guardian_enc', sa.Text(), nullable=True),
    sa.Column('total_hours', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('star_level', sa.Integer(), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('provenance', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source_system', sa.String(length=64), nullable=True),
    sa.Column('source_id', sa.String(length=64), nullable=True),
    sa.Column('source_updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('area_code', sa.String(length=18), nullable=True),
    sa.Column('province', sa.String(length=2), nullable=True),
    sa.Column('city', sa.String(length=4), nullable=True),
    sa.Column('county', sa.String(length=6), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_volunteers')),
    sa.UniqueConstraint('id_index', name=op.f('uq_volunteers_id_index')),
    sa.UniqueConstraint('volunteer_no', name=op.f('uq_volunteers_volunteer_no'))
    )
    with op.batch_alter_table('volunteers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_volunteers_city'), ['city'], unique=False)
        batch_op.create_index(batch_op.f('ix_volunteers_county'), ['county'], unique=False)
        batch_op.create_index(batch_op.f('ix_volunteers_mobile_index'), ['mobile_index'], unique=False)
        batch_op.create_index(batch_op.f('ix_volunteers_province'), ['province'], unique=False)

    op.create_table('certificates',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('certificate_no', sa.String(length=32), nullable=False),
    sa.Column('verification_code_hash', sa.String(length=64), nullable=False),
    sa.Column('verification_code_enc', sa.Text(), nullable=False),
    sa.Column('volunteer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('team_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('period_from', sa.Date(), nullable=False),
    sa.Column('period_to', sa.Date(), nullable=False),
    sa.Column('hours', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('issued_on', sa.Date(), nullable=False),
    sa.Column('signed', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_reason', sa.Text(), nullable=True),
    sa.Column('issued_by', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_certificates_team_id_teams')),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'], name=op.f('fk_certificates_volunteer_id_volunteers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_certificates')),
    sa.UniqueConstraint('certificate_no', name=op.f('uq_certificates_certificate_no'))
    )
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_certificates_team_id'), ['team_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_certificates_volunteer_id'), ['volunteer_id'], unique=False)

    op.create_table('client_tokens',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('client_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['client_pk'], ['clients.id'], name=op.f('fk_client_tokens_client_pk_clients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_client_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_client_tokens_token_hash'))
    )
    with op.batch_alter_table('client_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_client_tokens_client_pk'), ['client_pk'], unique=False)

    op.create_table('commendations',
    sa.Column('commendation_no', sa.String(length=32), nullable=False),
    sa.Column('subject', sa.String(length=10), nullable=False),
    sa.Column('volunteer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('team_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('awarded_on', sa.Date(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source_system', sa.String(length=64), nullable=True),
    sa.Column('source_id', sa.String(length=64), nullable=True),
    sa.Column('source_updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_commendations_team_id_teams')),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'], name=op.f('fk_commendations_volunteer_id_volunteers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_commendations')),
    sa.UniqueConstraint('commendation_no', name=op.f('uq_commendations_commendation_no'))
    )
    with op.batch_alter_table('commendations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_commendations_team_id'), ['team_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_commendations_volunteer_id'), ['volunteer_id'], unique=False)

    op.create_table('projects',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('project_no', sa.String(length=32), nullable=False),
    sa.Column('team_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('service_category', sa.String(length=4), nullable=False),
    sa.Column('status', sa.String(length=2), nullable=False),
    sa.Column('recruit_scope', sa.String(length=1), nullable=False),
    sa.Column('recruit_password_hash', sa.String(length=255), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source_system', sa.String(length=64), nullable=True),
    sa.Column('source_id', sa.String(length=64), nullable=True),
    sa.Column('source_updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('area_code', sa.String(length=18), nullable=True),
    sa.Column('province', sa.String(length=2), nullable=True),
    sa.Column('city', sa.String(length=4), nullable=True),
    sa.Column('county', sa.String(length=6), nullable=True),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_projects_team_id_teams')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_projects')),
    sa.UniqueConstraint('project_no', name=op.f('uq_projects_project_no'))
    )
    with op.batch_alter_table('projects', schema=None) as batch_op:
        # Search indexes: sort key + id last (pages in index order); INCLUDE (PostgreSQL) the
        # other filtered columns so counts and pages are index-only scans.
        cover = {'postgresql_include': ['ends_on', 'recruit_scope', 'team_id']}
        cover_status = {'postgresql_include': ['ends_on', 'status', 'recruit_scope', 'team_id']}
        batch_op.create_index('ix_projects_category_starts', ['service_category', 'starts_on', 'id'], unique=False, **cover_status)
        batch_op.create_index(batch_op.f('ix_projects_city'), ['city'], unique=False)
        batch_op.create_index('ix_projects_city_search', ['city', 'status', 'starts_on', 'id'], unique=False, **cover)
        batch_op.create_index(batch_op.f('ix_projects_county'), ['county'], unique=False)
        batch_op.create_index('ix_projects_county_search', ['county', 'status', 'starts_on', 'id'], unique=False, **cover)
        batch_op.create_index('ix_projects_created', ['created_at', 'id'], unique=False)
        batch_op.create_index('ix_projects_dates', ['starts_on', 'id'], unique=False, **cover_status)
        batch_op.create_index('ix_projects_name_sort', ['name', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_projects_province'), ['province'], unique=False)
        batch_op.create_index('ix_projects_province_search', ['province', 'status', 'starts_on', 'id'], unique=False, **cover)
        batch_op.create_index('ix_projects_status_starts', ['status', 'starts_on', 'id'], unique=False, **cover)
        batch_op.create_index(batch_op.f('ix_projects_team_id'), ['team_id'], unique=False)

    op.create_table('team_members',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('team_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('volunteer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('status', sa.String(length=1), nullable=False),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('left_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_team_members_team_id_teams'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'], name=op.f('fk_team_members_volunteer_id_volunteers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_team_members')),
    sa.UniqueConstraint('team_id', 'volunteer_id', name=op.f('uq_team_members_team_id'))
    )
    with op.batch_alter_table('team_members', schema=None) as batch_op:
        batch_op.create_index('ix_team_members_volunteer', ['volunteer_id', 'status'], unique=False)

    op.create_table('trainings',
    sa.Column('training_no', sa.String(length=32), nullable=False),
    sa.Column('volunteer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('team_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('held_on', sa.Date(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source_system', sa.String(length=64), nullable=True),
    sa.Column('source_id', sa.String(length=64), nullable=True),
    sa.Column('source_updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_trainings_team_id_teams')),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'], name=op.f('fk_trainings_volunteer_id_volunteers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trainings')),
    sa.UniqueConstraint('training_no', name=op.f('uq_trainings_training_no'))
    )
    with op.batch_alter_table('trainings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trainings_team_id'), ['team_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_trainings_volunteer_id'), ['volunteer_id'], unique=False)

    op.create_table('volunteer_sources',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('volunteer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('source_system', sa.String(length=64), nullable=False),
    sa.Column('source_id', sa.String(length=64), nullable=False),
    sa.Column('source_volunteer_no', sa.String(length=18), nullable=True),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'], name=op.f('fk_volunteer_sources_volunteer_id_volunteers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_volunteer_sources')),
    sa.UniqueConstraint('source_system', 'source_id', name=op.f('uq_volunteer_sources_source_system'))
    )
    with op.batch_alter_table('volunteer_sources', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_volunteer_sources_volunteer_id'), ['volunteer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_volunteer_sources_source_volunteer_no'), ['source_volunteer_no'], unique=False)

    op.create_table('complaints',
    sa.Column('complaint_no', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=2), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('volunteer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('team_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('project_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source_system', sa.String(length=64), nullable=True),
    sa.Column('source_id', sa.String(length=64), nullable=True),
    sa.Column('source_updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_complaints_project_id_projects')),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_complaints_team_id_teams')),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'], name=op.f('fk_complaints_volunteer_id_volunteers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_complaints')),
    sa.UniqueConstraint('complaint_no', name=op.f('uq_complaints_complaint_no'))
    )
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_complaints_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaints_team_id'), ['team_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaints_volunteer_id'), ['volunteer_id'], unique=False)

    op.create_table('evaluations',
    sa.Column('evaluation_no', sa.String(length=32), nullable=False),
    sa.Column('volunteer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('project_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source_system', sa.String(length=64), nullable=True),
    sa.Column('source_id', sa.String(length=64), nullable=True),
    sa.Column('source_updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_evaluations_project_id_projects')),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'], name=op.f('fk_evaluations_volunteer_id_volunteers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evaluations')),
    sa.UniqueConstraint('evaluation_no', name=op.f('uq_evaluations_evaluation_no'))
    )
    with op.batch_alter_table('evaluations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_evaluations_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_evaluations_volunteer_id'), ['volunteer_id'], unique=False)

    op.create_table('posts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('project_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('post_no', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('headcount', sa.Integer(), nullable=False),
    sa.Column('admitted', sa.Integer(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.CheckConstraint('admitted >= 0 AND admitted <= headcount', name=op.f('ck_posts_within_headcount')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_posts_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_posts')),
    sa.UniqueConstraint('project_id', 'post_no', name=op.f('uq_posts_project_id'))
    )
    op.create_table('service_records',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('record_no', sa.String(length=32), nullable=False),
    sa.Column('volunteer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('project_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('team_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('local_date', sa.Date(), nullable=False),
    sa.Column('hours', sa.Numeric(precision=6, scale=2), nullable=False),
    sa.Column('source', sa.String(length=1), nullable=True),
    sa.Column('status', sa.String(length=1), nullable=False),
    sa.Column('kind', sa.String(length=1), nullable=False),
    sa.Column('recorded_at', sa.Date(), nullable=True),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('corrects_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('superseded_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('decided_by', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source_system', sa.String(length=64), nullable=True),
    sa.Column('source_id', sa.String(length=64), nullable=True),
    sa.Column('source_updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['corrects_id'], ['service_records.id'], name=op.f('fk_service_records_corrects_id_service_records')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_service_records_project_id_projects')),
    sa.ForeignKeyConstraint(['superseded_by_id'], ['service_records.id'], name=op.f('fk_service_records_superseded_by_id_service_records')),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_service_records_team_id_teams')),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'], name=op.f('fk_service_records_volunteer_id_volunteers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_records')),
    sa.UniqueConstraint('record_no', name=op.f('uq_service_records_record_no'))
    )
    with op.batch_alter_table('service_records', schema=None) as batch_op:
        batch_op.create_index('ix_service_records_project', ['project_id', 'status'], unique=False)
        batch_op.create_index('ix_service_records_team_date', ['team_id', 'status', 'local_date'], unique=False)
        batch_op.create_index('ix_service_records_volunteer_time', ['volunteer_id', 'status', 'started_at'], unique=False)

    op.create_table('enrollments',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('enrollment_no', sa.String(length=32), nullable=False),
    sa.Column('volunteer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('project_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('post_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('status', sa.String(length=1), nullable=False),
    sa.Column('invited', sa.Boolean(), nullable=False),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source_system', sa.String(length=64), nullable=True),
    sa.Column('source_id', sa.String(length=64), nullable=True),
    sa.Column('source_updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_enrollments_post_id_posts')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_enrollments_project_id_projects')),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'], name=op.f('fk_enrollments_volunteer_id_volunteers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enrollments')),
    sa.UniqueConstraint('enrollment_no', name=op.f('uq_enrollments_enrollment_no')),
    sa.UniqueConstraint('volunteer_id', 'post_id', name=op.f('uq_enrollments_volunteer_id'))
    )
    with op.batch_alter_table('enrollments', schema=None) as batch_op:
        batch_op.create_index('ix_enrollments_project_status', ['project_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_enrollments_volunteer_id'), ['volunteer_id'], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        # Keyword search on project names uses a trigram index (LIKE '%kw%' without a scan).
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute("CREATE INDEX ix_projects_name_trgm ON projects USING gin (name gin_trgm_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_projects_name_trgm")
    with op.batch_alter_table('enrollments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enrollments_volunteer_id'))
        batch_op.drop_index('ix_enrollments_project_status')

    op.drop_table('enrollments')
    with op.batch_alter_table('service_records', schema=None) as batch_op:
        batch_op.drop_index('ix_service_records_volunteer_time')
        batch_op.drop_index('ix_service_records_team_date')
        batch_op.drop_index('ix_service_records_project')

    op.drop_table('service_records')
    op.drop_table('posts')
    with op.batch_alter_table('evaluations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evaluations_volunteer_id'))
        batch_op.drop_index(batch_op.f('ix_evaluations_project_id'))

    op.drop_table('evaluations')
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_complaints_volunteer_id'))
        batch_op.drop_index(batch_op.f('ix_complaints_team_id'))
        batch_op.drop_index(batch_op.f('ix_complaints_project_id'))

    op.drop_table('complaints')
    with op.batch_alter_table('volunteer_sources', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_volunteer_sources_source_volunteer_no'))
        batch_op.drop_index(batch_op.f('ix_volunteer_sources_volunteer_id'))

    op.drop_table('volunteer_sources')
    with op.batch_alter_table('trainings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trainings_volunteer_id'))
        batch_op.drop_index(batch_op.f('ix_trainings_team_id'))

    op.drop_table('trainings')
    with op.batch_alter_table('team_members', schema=None) as batch_op:
        batch_op.drop_index('ix_team_members_volunteer')

    op.drop_table('team_members')
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_projects_team_id'))
        batch_op.drop_index('ix_projects_status_starts')
        batch_op.drop_index('ix_projects_province_search')
        batch_op.drop_index(batch_op.f('ix_projects_province'))
        batch_op.drop_index('ix_projects_name_sort')
        batch_op.drop_index('ix_projects_dates')
        batch_op.drop_index('ix_projects_created')
        batch_op.drop_index('ix_projects_county_search')
        batch_op.drop_index(batch_op.f('ix_projects_county'))
        batch_op.drop_index('ix_projects_city_search')
        batch_op.drop_index(batch_op.f('ix_projects_city'))
        batch_op.drop_index('ix_projects_category_starts')

    op.drop_table('projects')
    with op.batch_alter_table('commendations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_commendations_volunteer_id'))
        batch_op.drop_index(batch_op.f('ix_commendations_team_id'))

    op.drop_table('commendations')
    with op.batch_alter_table('client_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_client_tokens_client_pk'))

    op.drop_table('client_tokens')
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_certificates_volunteer_id'))
        batch_op.drop_index(batch_op.f('ix_certificates_team_id'))

    op.drop_table('certificates')
    with op.batch_alter_table('volunteers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_volunteers_province'))
        batch_op.drop_index(batch_op.f('ix_volunteers_mobile_index'))
        batch_op.drop_index(batch_op.f('ix_volunteers_county'))
        batch_op.drop_index(batch_op.f('ix_volunteers_city'))

    op.drop_table('volunteers')
    with op.batch_alter_table('teams', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_teams_uscc'))
        batch_op.drop_index(batch_op.f('ix_teams_status'))
        batch_op.drop_index(batch_op.f('ix_teams_province'))
        batch_op.drop_index(batch_op.f('ix_teams_parent_id'))
        batch_op.drop_index(batch_op.f('ix_teams_name'))
        batch_op.drop_index(batch_op.f('ix_teams_county'))
        batch_op.drop_index(batch_op.f('ix_teams_city'))

    op.drop_table('teams')
    op.drop_table('stat_volunteers_province')
    op.drop_table('stat_hours_province')
    op.drop_table('stat_volunteers')
    op.drop_table('stat_hours')
    op.drop_table('number_sequences')
    op.drop_table('clients')
    with op.batch_alter_table('changes', schema=None) as batch_op:
        batch_op.drop_index('ix_changes_entity_no')

    op.drop_table('changes')
