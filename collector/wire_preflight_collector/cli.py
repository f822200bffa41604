"""`wire-preflight-collector serve`: the collector service on the admin host."""

import logging
import os
import sys
from typing import Any, Optional

import click
from wire_preflight.commandline import (
    error_line,
    file_option,
    full_summaries,
    profile_option,
    read_token,
)
from wire_preflight.model import InputError

from wire_preflight_collector import defaults


def _db_option(func: Any) -> Any:
    return click.option(
        "--db",
        "db_path",
        required=True,
        metavar="PATH|URL",
        help="SQLite database file, or postgresql://user@host/dbname (docs/collector.md).",
    )(func)


def _keep_option(func: Any) -> Any:
    return click.option(
        "--keep-reports",
        default=defaults.KEEP_REPORTS,
        show_default=True,
        metavar="DURATION",
        help="Delete reports older than this (90s, 15m, 12h, 30d, or forever); every host's "
        "newest report, every drift event and baseline are kept whatever their age.",
    )(func)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """wire-preflight's fleet collector."""


@cli.command()
@_db_option
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; any but loopback needs --tls-cert/--tls-key.",
)
@click.option(
    "--port", default=8443, show_default=True, type=click.IntRange(1, 65535), help="TCP port."
)
@file_option(
    "--token-file",
    help="The admin token: reads, accepts, forgets, and may post any host's report.",
    required=True,
)
@file_option("--viewer-token-file", help="A read-only token: the page, every GET route, /metrics.")
@file_option(
    "--enroll-secret-file",
    help="The secret agents present once to enrol; each gets a key for its own machine.",
)
@file_option(
    "--inventory",
    "inventory_file",
    help="wire-server-deploy inventory: judge the planned fleet too.",
)
@profile_option
@file_option("--tls-cert", help="PEM certificate (chain) to serve HTTPS with.")
@file_option("--tls-key", help="The certificate's PEM private key.")
@click.option(
    "--insecure-http",
    is_flag=True,
    help="Serve clear HTTP on a non-loopback --host (tokens cross the network readable).",
)
@click.option(
    "--max-body",
    type=click.IntRange(min=1024),
    default=defaults.MAX_BODY,
    show_default=True,
    help="Largest report body accepted, in bytes (else 413).",
)
@click.option(
    "--stale-after",
    type=click.FloatRange(min=1),
    default=defaults.STALE_AFTER,
    show_default=True,
    metavar="SECONDS",
    help="A host silent this long becomes stale (three of the agents' 5-minute intervals).",
)
@click.option(
    "--header-timeout",
    type=click.FloatRange(min=0.5),
    default=defaults.HEADER_SECONDS,
    show_default=True,
    metavar="SECONDS",
    help="Close a connection whose request headers have not all arrived within this time.",
)
@click.option(
    "--max-connections",
    type=click.IntRange(min=1),
    default=defaults.MAX_CONNECTIONS,
    show_default=True,
    help="Open connections at most (capped below the process's file limit); more are refused.",
)
@click.option(
    "--max-connections-per-address",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Open connections from one client address at most (an IPv6 client: its /64); "
    "default a tenth of --max-connections, at least 8.",
)
@click.option(
    "--webhook",
    default=None,
    metavar="URL",
    help="POST each new drift event as JSON to this URL (retried with backoff).",
)
@_keep_option
@click.option(
    "--prune-every",
    type=click.FloatRange(min=1),
    default=defaults.PRUNE_EVERY,
    show_default=True,
    metavar="SECONDS",
    help="How often old reports are pruned, in small batches, beside serving.",
)
@click.option(
    "--pending-expiry",
    type=click.FloatRange(min=1),
    default=defaults.PENDING_EXPIRY,
    show_default=True,
    metavar="SECONDS",
    help="A pending enrolment whose key is not presented for this long expires.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, defaults.MAX_WORKERS),
    default=1,
    show_default=True,
    help="Processes serving the port: more store more reports a second where cores are "
    "free (docs/collector.md).",
)
def serve(
    db_path: str,
    host: str,
    port: int,
    token_file: str,
    viewer_token_file: Optional[str],
    enroll_secret_file: Optional[str],
    inventory_file: Optional[str],
    profile_name: Optional[str],
    tls_cert: Optional[str],
    tls_key: Optional[str],
    insecure_http: bool,
    max_body: int,
    stale_after: float,
    header_timeout: float,
    max_connections: int,
    max_connections_per_address: Optional[int],
    webhook: Optional[str],
    keep_reports: str,
    prune_every: float,
    pending_expiry: float,
    workers: int,
) -> None:
    """Receive reports and serve the fleet report, its API and its page."""
    from wire_preflight import profiles
    from wire_preflight.fleet import inventory

    from wire_preflight_collector import server
    from wire_preflight_collector.app import Settings, create_app
    from wire_preflight_collector.retention import Pruner, parse_keep
    from wire_preflight_collector.shared import Shared
    from wire_preflight_collector.webhook import Webhook, check_url

    keep = parse_keep(keep_reports)
    if webhook:
        check_url(webhook)

    if bool(tls_cert) != bool(tls_key):
        raise InputError("--tls-cert and --tls-key go together")
    tls = bool(tls_cert)
    if tls_key:
        _check_private_key(tls_key)
    if not tls and not _is_loopback(host) and not insecure_http:
        raise InputError(
            f"--host {host} is not loopback: give --tls-cert and --tls-key (or --insecure-http "
            "to send tokens and reports across the network in clear text)"
        )
    _check_shares(workers, max_connections, max_connections_per_address)
    secrets = {"--token-file": read_secret(token_file, "--token-file")}
    for option, path in (
        ("--viewer-token-file", viewer_token_file),
        ("--enroll-secret-file", enroll_secret_file),
    ):
        if path:
            secrets[option] = read_secret(path, option)
    if len(set(secrets.values())) != len(secrets):
        raise InputError(
            "{} must each hold a different secret (one credential, one scope)".format(
                ", ".join(secrets)
            )
        )
    profile = profiles.load(profile_name)
    # Bound before the database opens and before uvicorn says it started: a busy port is one
    # line and exit 2.
    sock = server.bind(host, port)
    planned = None
    if inventory_file:
        planned = inventory.planned_for(inventory.load(inventory_file), profile)
    store = _open_store(db_path)
    log = logging.getLogger("wire_preflight_collector")
    if not tls:
        log.warning(
            "serving clear HTTP on %s:%d: tokens and reports are readable on the way%s",
            host,
            port,
            "" if _is_loopback(host) else " (--insecure-http)",
        )
    if not enroll_secret_file:
        log.info("no --enroll-secret-file: agents can only report with the admin token")
    if keep is None:
        log.info("--keep-reports forever: no report is ever deleted")
    shared = Shared(processes=workers)

    def serve_as(index: int, listening: Any, store: Any) -> None:
        """Worker `index`'s part, on its socket and its own database connections."""
        shared.use_slot(index)
        settings = Settings(
            store,
            secrets["--token-file"],
            profile,
            planned,
            max_body,
            stale_after,
            Webhook(webhook) if webhook else None,
            viewer_token=secrets.get("--viewer-token-file"),
            enroll_secret=secrets.get("--enroll-secret-file"),
            pending_expiry=pending_expiry,
            shared=shared,
            workers=workers,
            chores=index == 0,
        )
        if keep is not None and index == 0:
            Pruner(store, keep, prune_every).start()
        server.run(
            create_app(settings),
            listening,
            tls_cert,
            tls_key,
            max_connections,
            header_timeout,
            max_connections_per_address,
            workers,
        )

    if workers == 1:
        serve_as(0, sock, store)
        return
    # The schema is set up once, here; each worker opens the database again after the fork.
    store.close()
    sock.close()  # it proved the port free; the workers' sockets share it (workers.py)
    sys.exit(_run_workers(workers, host, port, db_path, serve_as))


def _check_shares(workers: int, max_connections: int, per_address: Optional[int]) -> None:
    """Each worker holds 1/N of the connection bounds, at least one: a bound smaller than N
    would be multiplied, not split."""
    from wire_preflight_collector.server import per_address_default

    bounds = (
        ("--max-connections", max_connections),
        ("--max-connections-per-address", per_address or per_address_default(max_connections)),
    )
    for option, value in bounds:
        if value < workers:
            raise InputError(
                f"--workers {workers}: {option} is {value}; each worker holds a share of it, "
                f"so it must be at least {workers}"
            )


def _run_workers(count: int, host: str, port: int, db_path: str, serve_as: Any) -> int:
    """`serve --workers N`: N processes, each serve_as(index, its socket, its store)."""
    from wire_preflight_collector import server
    from wire_preflight_collector.workers import Supervisor

    def worker(index: int, listening: Any) -> int:
        try:
            serve_as(index, listening, _open_store(db_path))
        except InputError as exc:  # the database, gone since the start: one line, as above
            click.echo(input_error_line(exc), err=True)
            return 2
        return 0

    sockets = [server.bind(host, port, reuse_port=True) for _ in range(count)]
    log = logging.getLogger("wire_preflight_collector")
    log.info("starting %d workers on port %d", count, port)
    supervisor = Supervisor(count, worker, lambda: server.bind(host, port, reuse_port=True))
    return supervisor.run(sockets)


@cli.command()
@_db_option
def integrity(db_path: str) -> None:
    """Check the database (SQLite's full integrity check; safe while the collector serves)."""
    store = _open_store(db_path, create=False)
    result = _database_call(db_path, store.integrity)
    click.echo(f"{store.where}: {result}")
    if result != "ok":
        sys.exit(3)


@cli.command()
@_db_option
@_keep_option
def prune(db_path: str, keep_reports: str) -> None:
    """Delete old reports now, in small batches (safe while collectors serve the database)."""
    from wire_preflight_collector.retention import parse_keep

    keep = parse_keep(keep_reports)
    if keep is None:
        raise InputError("--keep-reports forever: nothing to prune")
    store = _open_store(db_path, create=False)
    removed = _database_call(db_path, lambda: store.prune(keep, pause=0.05))
    click.echo(
        f"{store.where}: pruned {removed['reports']} report(s) older than {keep_reports} and "
        f"{removed['facts']} unreferenced facts; {store.count()} report(s) kept"
    )


@cli.command()
@_db_option
@file_option(
    "--to",
    "target",
    help="Where the copy goes: an SQLite file (or pg_dump's custom format for PostgreSQL).",
    required=True,
)
def backup(db_path: str, target: str) -> None:
    """A consistent copy of the database while collectors keep serving it (docs/collector.md:
    restore)."""
    store = _open_store(db_path, create=False)
    if os.path.exists(target):
        raise InputError(f"--to {target}: exists already; give a new file name")
    directory = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(directory):
        raise InputError(f"--to {target}: directory {directory} does not exist")
    # Into a temporary name first: a copy cut short is never mistaken for a backup.
    partial = f"{target}.partial-{os.getpid()}"
    try:
        _database_call(db_path, lambda: store.backup(partial))
        if not _is_postgres(db_path):
            from wire_preflight_collector.store import SqliteStore

            copy = SqliteStore(partial)
            check = copy.integrity()
            copy.close()
            if check != "ok":
                raise InputError(f"--to {target}: the copy fails its integrity check: {check}")
        os.replace(partial, target)
    finally:
        for leftover in (partial, partial + "-wal", partial + "-shm"):
            if os.path.exists(leftover):
                os.unlink(leftover)
    click.echo(f"{store.where}: backed up to {target}")


def _is_postgres(db_path: str) -> bool:
    from wire_preflight_collector.store import is_postgres

    return is_postgres(db_path)


def _database_call(db_path: str, call: Any) -> Any:
    """A database error in a CLI command is one line naming the database, exit 2."""
    try:
        return call()
    except RuntimeError as exc:
        raise InputError(f"--db {_shown(db_path)}: {exc}") from None
    except Exception as exc:
        if _is_database_error(exc):
            raise InputError(f"--db {_shown(db_path)}: {_first_line(exc)}") from None
        raise


def _is_database_error(exc: Exception) -> bool:
    import sqlite3

    if isinstance(exc, sqlite3.Error):
        return True
    try:
        import psycopg
    except ImportError:
        return False
    return isinstance(exc, psycopg.Error)


def _first_line(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _shown(db_path: str) -> str:
    if _is_postgres(db_path):
        from wire_preflight_collector.store import redact_url

        return redact_url(db_path)
    return db_path


def _open_store(db_path: str, create: bool = True) -> Any:
    from wire_preflight_collector.store import open_store

    if _is_postgres(db_path):
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise InputError(
                "--db postgresql://...: psycopg is not installed (pip install 'psycopg[binary]')"
            ) from None
    else:
        if db_path in ("", ":memory:"):
            # SQLite's in-memory database is one connection's own: each thread would see an
            # empty database of its own, every request a 503.
            raise InputError(f"--db {db_path!r}: give a database file (or a postgresql:// URL)")
        if not create and not os.path.exists(db_path):
            raise InputError(f"--db {db_path}: no such file")
        directory = os.path.dirname(os.path.abspath(db_path))
        if not os.path.isdir(directory):
            raise InputError(f"--db {db_path}: directory {directory} does not exist")
    try:
        return open_store(db_path)
    except Exception as exc:
        from wire_preflight_collector.store import NewerSchema

        if isinstance(exc, NewerSchema) or _is_database_error(exc):
            raise InputError(f"--db {_shown(db_path)}: {_first_line(exc)}") from None
        raise


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


MIN_SECRET = 16


def _check_private_key(path: str) -> None:
    """--tls-key under the token files' rule (wire_preflight.secretfile)."""
    from wire_preflight import secretfile

    try:
        warning = secretfile.check(path, "--tls-key")
    except OSError as exc:
        raise InputError(f"cannot read --tls-key {path}: {exc.strerror}") from None
    if warning:
        logging.getLogger("wire_preflight_collector").warning("%s", warning)


def read_secret(path: str, option: str) -> str:
    """A token file as the agent reads one (one line, nothing else), and long enough to be a
    secret: a guessable token would hand out the scope it stands for."""
    secret = read_token(path, option) or ""
    # HTTP headers arrive as latin-1: a secret with other characters could never match.
    if len(secret) < MIN_SECRET or not all(ord(c) < 128 for c in secret):
        raise InputError(
            f"{option} {path}: the secret must be at least {MIN_SECRET} printable ASCII "
            "characters without spaces (e.g. head -c 32 /dev/urandom | base64)"
        )
    return secret


full_summaries(cli)


def input_error_line(exc: InputError) -> str:
    return f"wire-preflight-collector: error: {exc}"


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    try:
        cli.main(prog_name="wire-preflight-collector", standalone_mode=False)
    except click.ClickException as exc:
        click.echo(error_line(exc, "wire-preflight-collector"), err=True)
        sys.exit(2 if isinstance(exc, click.UsageError) else exc.exit_code)
    except InputError as exc:
        click.echo(input_error_line(exc), err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        sys.exit(130)
