"""firmware: desired gateway versions per rollout group and each gateway's group

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "desired_versions",
        sa.Column("group_name", sa.String(length=100), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("counter", sa.Integer(), nullable=False),
        sa.Column("rollout", sa.String(length=100), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("group_name", name=op.f("pk_desired_versions")),
    )
    op.create_table(
        "desired_version_gateways",
        sa.Column("gateway_id", sa.String(length=64), nullable=False),
        sa.Column("group_name", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_name"],
            ["desired_versions.group_name"],
            name=op.f("fk_desired_version_gateways_group_name_desired_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("gateway_id", name=op.f("pk_desired_version_gateways")),
    )
    with op.batch_alter_table("desired_version_gateways", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_desired_version_gateways_group_name"), ["group_name"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("desired_version_gateways", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_desired_version_gateways_group_name"))
    op.drop_table("desired_version_gateways")
    op.drop_table("desired_versions")
