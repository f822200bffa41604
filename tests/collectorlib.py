"""A collector process for tests: started on a free loopback port, stopped after."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import requests

TOKEN = "test-token-0123456789"
VIEWER = "viewer-token-0123456789"
ENROLL = "enroll-secret-0123456789"


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NO_CHROMIUM = "Debian's chromium is not installed (.ci/run installs it)"


def chromium(*args, timeout=120):
    """Headless Chromium, quiet (no sync, updates or background traffic), run to the end."""
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        timeout=timeout,
        check=False,
    )


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Collector:
    def __init__(
        self, tmp_path, *extra, scheme="http", scopes=True, db=None, host=None, command=()
    ):
        """`host`: the address to listen on (else loopback); `command`: what the collector is
        started under (e.g. `ip netns exec NS`), the test then reaches it from there too."""
        self.dir = tmp_path
        self.host = host
        self.command = list(command)
        self.db = db or str(tmp_path / "collector.db")
        self.token_file = str(tmp_path / "token")
        self.viewer_file = str(tmp_path / "viewer-token")
        self.enroll_file = str(tmp_path / "enroll-secret")
        for path, secret in (
            (self.token_file, TOKEN),
            (self.viewer_file, VIEWER),
            (self.enroll_file, ENROLL),
        ):
            with open(path, "w") as handle:
                handle.write(secret + "\n")
            os.chmod(path, 0o600)  # the collector refuses a secret other users can read
        self.extra = list(extra)
        if scopes:
            self.extra += [
                "--viewer-token-file",
                self.viewer_file,
                "--enroll-secret-file",
                self.enroll_file,
            ]
        self.scheme = scheme
        self.proc = None
        self.port = None

    @property
    def url(self):
        host = self.host or "127.0.0.1"
        return f"{self.scheme}://{f'[{host}]' if ':' in host else host}:{self.port}"

    def start(self, port=None):
        self.port = port or free_port()
        self.log = open(str(self.dir / "collector.log"), "ab")  # noqa: SIM115 - lives with the process
        earlier = len(self.read_log())  # a restart appends to the same log
        where = ["--host", self.host] if self.host else []
        self.proc = subprocess.Popen(
            [
                *self.command,
                sys.executable,
                "-m",
                "wire_preflight_collector",
                "serve",
                "--db",
                self.db,
                "--port",
                str(self.port),
                "--token-file",
                self.token_file,
                *where,
                *self.extra,
            ],
            stdout=self.log,
            stderr=self.log,
        )
        # The port is bound before the database opens: ready once the app has started too,
        # in every worker (serve --workers N).
        workers = (
            int(self.extra[self.extra.index("--workers") + 1]) if "--workers" in self.extra else 1
        )
        deadline = time.time() + 20 * workers
        while time.time() < deadline:
            assert self.proc.poll() is None, self.read_log()
            if self.read_log()[earlier:].count("Application startup complete") >= workers:
                if self.command:  # elsewhere (another namespace): its log is the word
                    return self
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                        return self
                except OSError:
                    pass
            time.sleep(0.05)
        raise AssertionError("collector did not start: " + self.read_log())

    def read_log(self):
        return (self.dir / "collector.log").read_text(errors="replace")

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=20)
        self.log.close()

    def post(self, body, token=TOKEN, path="/api/v1/reports", **kwargs):
        headers = kwargs.pop("headers", {})
        headers.setdefault("Content-Type", "application/json")
        if token is not None:
            headers["Authorization"] = "Bearer " + token
        data = json.dumps(body) if isinstance(body, (dict, list)) else body
        kwargs.setdefault("timeout", 10)
        return requests.post(self.url + path, data=data, headers=headers, **kwargs)

    def enroll(self, facts, secret=ENROLL):
        body = {k: facts.get(k) for k in ("machine_id", "hostname", "product_uuid")}
        return self.post(body, token=secret, path="/api/v1/enroll")

    def get(self, path, token=TOKEN, **kwargs):
        headers = {"Authorization": "Bearer " + token} if token else {}
        return requests.get(self.url + path, headers=headers, timeout=10, **kwargs)

    def call(self, method, path, token=TOKEN, **kwargs):
        headers = kwargs.pop("headers", {})
        if token is not None:
            headers["Authorization"] = "Bearer " + token
        kwargs.setdefault("timeout", 10)
        return requests.request(method, self.url + path, headers=headers, **kwargs)

    def read_routes(self, hostname):
        """Every read route, as the page, an API client and Prometheus call them."""
        return {
            path: self.get(path).status_code
            for path in (
                "/healthz",
                "/api/v1/fleet",
                f"/api/v1/hosts/{hostname}",
                f"/hosts/{hostname}",
                "/api/v1/drift",
                "/metrics",
                "/",
            )
        }


class PostgresServer:
    """A throwaway PostgreSQL cluster from Debian's `postgresql` package, owned by the tests:
    initdb in a temporary directory, listening on a Unix socket there only (no TCP port).
    As root (CI), the server runs as the `postgres` user, since PostgreSQL refuses root."""

    def __init__(self):
        import glob
        import os
        import tempfile

        found = sorted(
            glob.glob("/usr/lib/postgresql/*/bin/initdb"),
            key=lambda path: int(path.split("/")[-3]),
        )
        if not found:
            raise FileNotFoundError(
                "no PostgreSQL server (apt install postgresql): /usr/lib/postgresql/*/bin/initdb"
            )
        self.bin = os.path.dirname(found[-1])
        self.dir = tempfile.mkdtemp(prefix="wpc-pg-")
        self.data = os.path.join(self.dir, "data")
        self.prefix = []
        if os.geteuid() == 0:
            import pwd

            user = pwd.getpwnam("postgres")
            os.chown(self.dir, user.pw_uid, user.pw_gid)
            self.prefix = ["runuser", "-u", "postgres", "--"]
        self._count = 0

    def _run(self, *args):
        subprocess.run(
            [*self.prefix, *args],
            check=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=self.dir,
        )

    def start(self):
        import os

        self._run(
            os.path.join(self.bin, "initdb"),
            "-D",
            self.data,
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        self._run(
            os.path.join(self.bin, "pg_ctl"),
            "-D",
            self.data,
            "-l",
            os.path.join(self.dir, "server.log"),
            "-w",
            "-o",
            f"-c listen_addresses='' -k {self.dir} -c max_connections=200",
            "start",
        )
        return self

    def url(self, dbname="postgres"):
        return f"postgresql://postgres@/{dbname}?host={self.dir}"

    def new_database(self):
        """A fresh, empty database: each test its own."""
        import psycopg

        self._count += 1
        name = f"t{os.getpid()}_{self._count}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def stop(self):
        import os
        import shutil

        try:
            self._run(os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
