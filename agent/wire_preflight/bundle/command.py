"""The command line of the support bundle: `wire-preflight bundle`, and what `check` calls
for `--bundle FILE` or `--root` on an unpacked bundle (cli/main.py adds both)."""

from typing import Any, Dict, List, Optional, Tuple

import click

from wire_preflight.cli.options import check_options, echo_lines
from wire_preflight.commandline import CONFIG_FILE
from wire_preflight.model import EXIT_OK, InputError


@click.command("bundle")
@check_options
@click.option(
    "--out",
    default=None,
    metavar="FILE",
    help="Where to write the archive (default: wire-preflight-bundle-HOST-TIME.tar.gz here).",
)
@click.pass_context
def bundle(ctx: click.Context, out: Optional[str], **options: Any) -> int:
    """Write one archive of what the checks read on this VM, for Wire's support or a
    colleague: `check --bundle FILE` judges it anywhere. Never the agent's keys or secrets."""
    from wire_preflight import pipeline
    from wire_preflight.bundle import make

    agent_config = dict(ctx.default_map or {})
    made = make.make(pipeline.Options(**options), out, agent_config, ctx.meta.get(CONFIG_FILE))
    echo_lines(list(make.summary_lines(made)))
    return EXIT_OK


# check's options but those that make no sense here: a bundle records a host (not a saved
# facts file) and writes no results for node_exporter.
bundle.params = [p for p in bundle.params if p.name not in ("facts_file", "textfile")]


def judge(bundle_file: Optional[str], options: Dict[str, Any]) -> Optional[Tuple[List[Any], Any]]:
    """`check`'s results and report from a bundle (--bundle FILE, or --root on an unpacked
    one), or None when `check` is not asked about a bundle."""
    root = options.get("root") or "/"
    if not bundle_file and (root == "/" or not _is_unpacked(root)):
        return None  # a captured tree, not a bundle
    from wire_preflight import pipeline
    from wire_preflight.bundle import replay

    if bundle_file:
        if root != "/":
            raise InputError("--bundle and --root both say what to judge: give one of them")
        return replay.evaluate_file(bundle_file, pipeline.Options(**options))
    return replay.evaluate_directory(root, pipeline.Options(**dict(options, root="/")))


def _is_unpacked(directory: str) -> bool:
    """An unpacked bundle's top directory (its manifest and tree), not a captured tree."""
    import os

    from wire_preflight.bundle import MANIFEST, TREE

    return os.path.isfile(os.path.join(directory, MANIFEST)) and os.path.isdir(
        os.path.join(directory, TREE)
    )
