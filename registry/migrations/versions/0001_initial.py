"""registry: sites, gateways, sensors, contacts, api keys

Revision ID: 0001
Revises: (none)
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contacts",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=100), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
    )
    op.create_table(
        "sites",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("road", sa.String(length=200), nullable=False),
        sa.Column("segment", sa.String(length=200), nullable=True),
        sa.Column("kecamatan", sa.String(length=100), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("road_type", sa.String(length=32), nullable=True),
        sa.Column("capacity_smp_per_hour", sa.Float(), nullable=True),
        sa.Column("flood_ladder", sa.String(length=16), nullable=True),
        sa.Column("flood_1", sa.Float(), nullable=True),
        sa.Column("flood_2", sa.Float(), nullable=True),
        sa.Column("flood_3", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sites")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("contact_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_api_keys_contact_id_contacts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_keys_prefix")),
    )
    op.create_table(
        "contact_channels",
        sa.Column("contact_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_contact_channels_contact_id_contacts")
        ),
        sa.PrimaryKeyConstraint("contact_id", "kind", name=op.f("pk_contact_channels")),
    )
    op.create_table(
        "gateways",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_gateways_site_id_sites")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gateways")),
    )
    op.create_index(op.f("ix_gateways_site_id"), "gateways", ["site_id"], unique=False)
    op.create_table(
        "sensors",
        sa.Column("gateway_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("device", sa.String(length=32), nullable=False),
        sa.Column("profile", sa.String(length=64), nullable=True),
        sa.Column("calibration", sa.Text(), nullable=True),
        sa.Column("installed_by", sa.String(length=200), nullable=True),
        sa.Column("installed_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["gateway_id"], ["gateways.id"], name=op.f("fk_sensors_gateway_id_gateways")
        ),
        sa.PrimaryKeyConstraint("gateway_id", "id", name=op.f("pk_sensors")),
    )


def downgrade() -> None:
    op.drop_table("sensors")
    op.drop_index(op.f("ix_gateways_site_id"), table_name="gateways")
    op.drop_table("gateways")
    op.drop_table("contact_channels")
    op.drop_table("api_keys")
    op.drop_table("sites")
    op.drop_table("contacts")
