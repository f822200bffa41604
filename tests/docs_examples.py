"""The example outputs in README.md and docs/*.md, re-run from fixtures.

An example is a fenced block right after an HTML comment that says how to make it:

    <!-- example
    setup: python3 $ROOT/tests/docs_fleet_reports.py reports
    $ wire-preflight fleet --from reports --inventory $ROOT/tests/fixtures/inventory/hosts.ini
    -->
    ```
    $ wire-preflight fleet --from reports/ --inventory hosts.ini
    fleet: FAIL ...
    ```

Each `$ ` line of the comment is the command really run for the block's `$ ` line of the same
rank (what the block shows may leave out fixture paths); what follows a prompt in the block,
up to the next prompt, is that command's output. `setup:` lines run first, their output
unseen. Everything runs in one bash, in a scratch directory, under a pseudo-terminal (so a
bare command prints the table a person sees and `| cat` the plain lines), stdout and stderr
together, with $ROOT the checkout and the installed agent first on PATH.

A block whose output cannot come from a fixture (a live collector, DNS, the host's own facts)
says so instead, and is left alone:

    <!-- example not checked: needs a live collector and its report ids -->

Normalised before comparing: colour codes, carriage returns and trailing spaces are dropped,
$ROOT/ and the scratch directory are removed from paths. Nothing else: no timing or ids appear
in the outputs that are checked.

`tests/regen-docs` rewrites every checked block with what its commands print now; the test
(tests/test_docs_examples.py) fails on any difference.
"""

import os
import pty
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MARKER = re.compile(r"^<!-- example(?P<rest>.*)$")
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class Example:
    def __init__(self, path, line, commands, setup, reason, start, end, block):
        self.path = path  # relative to ROOT
        self.line = line  # 1-based line of the marker
        self.commands = commands
        self.setup = setup
        self.reason = reason  # why it is not checked, or None
        self.start = start  # index of the block's first line after the opening fence
        self.end = end  # index of the closing fence
        self.block = block  # the block's lines

    @property
    def name(self):
        return f"{self.path}:{self.line}"


def doc_files():
    paths = ["README.md"]
    for name in sorted(os.listdir(os.path.join(ROOT, "docs"))):
        if name.endswith(".md"):
            paths.append(os.path.join("docs", name))
    return paths


def read_lines(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as handle:
        return handle.read().split("\n")


def examples(path):
    """Every marked block of one file, in order."""
    lines = read_lines(path)
    out = []
    index = 0
    while index < len(lines):
        match = MARKER.match(lines[index])
        if not match:
            index += 1
            continue
        marker_line = index
        rest = match.group("rest").strip()
        body = []
        if rest.endswith("-->"):
            rest = rest[: -len("-->")].strip()
        else:
            index += 1
            while index < len(lines) and lines[index].strip() != "-->":
                body.append(lines[index])
                index += 1
        reason = rest[len("not checked:") :].strip() if rest.startswith("not checked:") else None
        index += 1
        if index >= len(lines) or not lines[index].startswith("```"):
            raise ValueError(f"{path}:{marker_line + 1}: an example marker not followed by a block")
        start = index + 1
        end = start
        while end < len(lines) and not lines[end].startswith("```"):
            end += 1
        commands = [line[2:] for line in body if line.startswith("$ ")]
        setup = [line[len("setup:") :].strip() for line in body if line.startswith("setup:")]
        out.append(
            Example(path, marker_line + 1, commands, setup, reason, start, end, lines[start:end])
        )
        index = end + 1
    return out


def all_examples():
    return [example for path in doc_files() for example in examples(path)]


def split_block(block):
    """The block as (prompt, output lines) pairs; a prompt ending in \\ goes on."""
    pairs = []
    index = 0
    while index < len(block):
        line = block[index]
        if line.startswith("$ "):
            prompt = [line]
            while prompt[-1].endswith("\\") and index + 1 < len(block):
                index += 1
                prompt.append(block[index])
            pairs.append((prompt, []))
        elif pairs:
            pairs[-1][1].append(line)
        else:
            raise ValueError(f"output before the first prompt: {line!r}")
        index += 1
    return pairs


SEPARATOR = "@@wire-preflight-docs-example@@"


def run(example, timeout=120):
    """The outputs of the example's commands, one list of lines per command, normalised."""
    scratch = tempfile.mkdtemp(prefix="docs-example-")
    try:
        script = ["set +e"]
        script += ["{ " + line + "\n} >/dev/null 2>&1" for line in example.setup]
        for command in example.commands:
            # The separator keeps the previous command's exit status for `echo $?`.
            script += [f"_rc=$?; echo {SEPARATOR}; (exit $_rc)", command]
        env = dict(os.environ)
        env.pop("NO_COLOR", None)
        env.update(
            ROOT=ROOT,
            PATH=os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", ""),
            WIRE_PREFLIGHT_STATE_DIR=os.path.join(scratch, ".state"),
            TERM="xterm",
            COLUMNS="200",
            PYTHON=sys.executable,
        )
        raw = _in_a_terminal(["bash", "-c", "\n".join(script)], scratch, env, timeout)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    text = ANSI.sub("", raw.replace("\r", ""))
    text = text.replace(ROOT + "/", "").replace(scratch + "/", "").replace(scratch, ".")
    parts = text.split(SEPARATOR + "\n")[1:]
    return [[line.rstrip() for line in part.rstrip("\n").split("\n")] for part in parts]


def _in_a_terminal(argv, cwd, env, timeout):
    master, slave = pty.openpty()
    try:
        import fcntl
        import struct
        import termios

        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    except (ImportError, OSError):
        pass
    child = subprocess.Popen(
        argv, stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env, close_fds=True
    )
    os.close(slave)
    chunks = []
    deadline = time.time() + timeout
    try:
        while True:
            ready, _, _ = select.select([master], [], [], max(0.0, deadline - time.time()))
            if not ready:
                child.kill()
                raise RuntimeError(f"timed out after {timeout} s: {argv}")
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every writer has gone
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(master)
        child.wait()
    return b"".join(chunks).decode("utf-8", "replace")


def compare(example):
    """(expected, actual) output lines per command, for the checked example."""
    pairs = split_block(example.block)
    if len(pairs) != len(example.commands):
        raise ValueError(
            f"{example.name}: the block shows {len(pairs)} prompt(s), "
            f"the marker runs {len(example.commands)}"
        )
    outputs = run(example)
    return [(output, actual) for (_, output), actual in zip(pairs, outputs)]


def regenerate(path):
    """Rewrite one file's checked blocks with what their commands print now; True if changed."""
    lines = read_lines(path)
    changed = False
    for example in reversed(examples(path)):
        if example.reason is not None:
            continue
        pairs = split_block(example.block)
        outputs = run(example)
        block = []
        for (prompt, _), output in zip(pairs, outputs):
            block += prompt + output
        if block != example.block:
            lines[example.start : example.end] = block
            changed = True
    if changed:
        with open(os.path.join(ROOT, path), "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines))
    return changed


def main(argv):
    paths = argv or doc_files()
    for path in paths:
        if regenerate(path):
            print(f"rewrote {path}")
        else:
            print(f"{path}: up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
