"""Storage: the metadata database (SQLAlchemy), the content-addressed artifact store (fsspec)."""
