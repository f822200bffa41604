"""Every byte the collector keeps: `base.Store` (the SQL both stores share, and the identity
rules of `identity.IdentityStore`), `sqlite.SqliteStore` (a file, the default) and
`postgres.PostgresStore` (`--db postgresql://...`); `open_store` picks one from --db."""

from wire_preflight_collector.store.base import NewerSchema, Store, hash_key
from wire_preflight_collector.store.location import is_postgres, redact_url
from wire_preflight_collector.store.sqlite import SqliteStore

__all__ = [
    "NewerSchema",
    "SqliteStore",
    "Store",
    "hash_key",
    "is_postgres",
    "open_store",
    "redact_url",
]


def open_store(db: str) -> Store:
    """The store --db names: a postgresql:// URL, else an SQLite file."""
    if is_postgres(db):
        # Only here: psycopg is an extra an SQLite collector does without.
        from wire_preflight_collector.store.postgres import PostgresStore

        return PostgresStore(db)
    return SqliteStore(db)
