"""What `--db` names: which store it is, and how to show it without its password."""


def is_postgres(db: str) -> bool:
    return db.startswith(("postgresql://", "postgres://"))


def redact_url(url: str) -> str:
    """A PostgreSQL URL without its password, for messages and logs."""
    try:
        from psycopg.conninfo import conninfo_to_dict, make_conninfo

        params = conninfo_to_dict(url)
        params.pop("password", None)
        return make_conninfo("", **params)
    except Exception:
        return "the PostgreSQL database"
