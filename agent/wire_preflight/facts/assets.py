"""What the asset host keeps under /opt/assets: wire-server-deploy's setup-offline-sources
unpacks each release's debs, binaries and container images there, and never removes the last
release's. Measured only where the directory exists (the asset host), with a bound on the walk
so a huge tree cannot stall the agent."""

import os
from typing import Any, Dict

from wire_preflight.facts import files

ASSETS_DIR = "/opt/assets"
MAX_ENTRIES = 200_000


def usage(
    root: str = "/", path: str = ASSETS_DIR, max_entries: int = MAX_ENTRIES
) -> Dict[str, Any]:
    """{"path", "exists", "bytes", "files", "complete"}: bytes are allocated blocks (du's
    count), hard links counted once; complete is False when the walk stopped at max_entries."""
    real = files.under(root, path)
    out = {"path": path, "exists": os.path.isdir(real), "bytes": 0, "files": 0, "complete": True}  # type: Dict[str, Any]
    if not out["exists"]:
        return out
    seen = set()
    todo = [real]
    entries = 0
    while todo:
        directory = todo.pop()
        try:
            listing = list(os.scandir(directory))
        except OSError:
            continue
        for entry in listing:
            entries += 1
            if entries > max_entries:
                out["complete"] = False
                return out
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if entry.is_dir(follow_symlinks=False):
                todo.append(entry.path)
                continue
            if (info.st_dev, info.st_ino) in seen:
                continue
            seen.add((info.st_dev, info.st_ino))
            out["bytes"] += info.st_blocks * 512
            out["files"] += 1
    return out
