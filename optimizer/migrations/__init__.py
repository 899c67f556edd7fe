"""Alembic migrations of the registry and result tables (run by ``optimizer db init``)."""
