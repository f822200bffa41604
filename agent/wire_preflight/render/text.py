"""Check results as a table on a terminal, or as one plain line per check in a pipe."""

from typing import Any, List, Sequence

from wire_preflight.model import ERROR, FAIL, PASS, SKIP, WARN, CheckResult

_COLOURS = {PASS: "green", WARN: "yellow", FAIL: "red", ERROR: "magenta", SKIP: "blue"}
_COLUMNS = ("STATUS", "CHECK", "ROLE", "OBSERVED", "EXPECTED")


def printable(value: Any) -> str:
    # Facts files and hostnames are input: keep control characters out of the terminal.
    text = "" if value is None else str(value)
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def table(results: Sequence[CheckResult], colour: bool) -> List[str]:
    import click

    rows = [
        (r.status, r.id, r.role or "", printable(r.observed), printable(r.expected))
        for r in results
    ]
    widths = [max([len(h)] + [len(row[i]) for row in rows]) for i, h in enumerate(_COLUMNS)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(_COLUMNS, widths)).rstrip()]
    for result, row in zip(results, rows):
        cells = [c.ljust(w) for c, w in zip(row, widths)]
        if colour:
            cells[0] = click.style(cells[0], fg=_COLOURS[result.status], bold=True)
        lines.append("  ".join(cells).rstrip())
        if result.status != PASS:
            indent = " " * (widths[0] + 2)
            lines.append(indent + printable(result.message))
            if result.remedy:
                lines.append(indent + "fix: " + printable(result.remedy))
    return lines


def plain(results: Sequence[CheckResult]) -> List[str]:
    lines = []
    for r in results:
        line = "{} {}{}: {}; observed: {}; expected: {}".format(
            r.status,
            r.id,
            f" [{r.role}]" if r.role else "",
            printable(r.message),
            printable(r.observed),
            printable(r.expected),
        )
        if r.remedy and r.status != PASS:
            line += "; fix: " + printable(r.remedy)
        lines.append(line)
    return lines
