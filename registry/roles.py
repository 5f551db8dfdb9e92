"""The API keys' roles, lowest first (pure: the command line builds its choices from it on a
gateway install too, where SQLAlchemy is not installed)."""

ROLES = ("viewer", "operator", "admin")
