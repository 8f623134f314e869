"""SQL storage (SQLAlchemy 2; SQLite by default, PostgreSQL by URL; Alembic migrations)."""
