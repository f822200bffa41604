"""`wire-preflight-collector serve`: the collector service on the admin host."""

import logging
import os
import sys
from typing import Optional

import click
from wire_preflight.cli import _profile_option
from wire_preflight.model import InputError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """wire-preflight's fleet collector."""


@cli.command()
@click.option("--db", "db_path", required=True, metavar="PATH", help="SQLite database file.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8443, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--token-file",
    required=True,
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="File holding the token agents and readers must present.",
)
@click.option(
    "--inventory",
    "inventory_file",
    type=click.Path(dir_okay=False),
    default=None,
    metavar="FILE",
    help="wire-server-deploy inventory: judge the planned fleet too.",
)
@_profile_option
@click.option("--tls-cert", type=click.Path(dir_okay=False), default=None, metavar="FILE")
@click.option("--tls-key", type=click.Path(dir_okay=False), default=None, metavar="FILE")
@click.option(
    "--max-body",
    type=click.IntRange(min=1024),
    default=1024 * 1024,
    show_default=True,
    help="Largest report body accepted, in bytes (else 413).",
)
@click.option(
    "--stale-after",
    type=click.FloatRange(min=1),
    default=900,
    show_default=True,
    metavar="SECONDS",
    help="A host silent this long becomes stale (three of the agents' 5-minute intervals).",
)
@click.option(
    "--webhook",
    default=None,
    metavar="URL",
    help="POST each new drift event as JSON to this URL (retried with backoff).",
)
def serve(
    db_path: str,
    host: str,
    port: int,
    token_file: str,
    inventory_file: Optional[str],
    profile_name: Optional[str],
    tls_cert: Optional[str],
    tls_key: Optional[str],
    max_body: int,
    stale_after: float,
    webhook: Optional[str],
) -> None:
    """Receive reports and serve the fleet report, its API and its page."""
    import uvicorn
    from wire_preflight import profiles
    from wire_preflight.cli import _read_token
    from wire_preflight.fleet import inventory
    from wire_preflight_collector.app import Settings, create_app
    from wire_preflight_collector.storage import Store
    from wire_preflight_collector.webhook import Webhook

    if bool(tls_cert) != bool(tls_key):
        raise InputError("--tls-cert and --tls-key go together")
    token = _read_token(token_file)
    profile = profiles.load(profile_name)
    planned = None
    if inventory_file:
        planned = inventory.planned_hosts(
            inventory.load(inventory_file), profile.inventory_groups, profile.etcd_group
        )
    directory = os.path.dirname(os.path.abspath(db_path))
    if not os.path.isdir(directory):
        raise InputError(f"--db {db_path}: directory {directory} does not exist")
    store = Store(db_path)
    hook = Webhook(webhook) if webhook else None
    app = create_app(Settings(store, token, profile, planned, max_body, stale_after, hook))
    uvicorn.run(
        app,
        host=host,
        port=port,
        ssl_certfile=tls_cert,
        ssl_keyfile=tls_key,
        log_level="info",
        server_header=False,
    )


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    try:
        cli.main(prog_name="wire-preflight-collector", standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2 if isinstance(exc, click.UsageError) else exc.exit_code)
    except InputError as exc:
        click.echo(f"wire-preflight-collector: error: {exc}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        sys.exit(130)
