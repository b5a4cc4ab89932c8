"""Storage: SQLModel tables and repositories on SQLAlchemy's async engine. Holds no policy."""
