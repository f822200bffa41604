"""A collector process for tests: started on a free loopback port, stopped after."""

import json
import signal
import socket
import subprocess
import sys
import time

import requests

TOKEN = "test-token-0123456789"
VIEWER = "viewer-token-0123456789"
ENROLL = "enroll-secret-0123456789"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Collector:
    def __init__(self, tmp_path, *extra, scheme="http", scopes=True, db=None):
        self.dir = tmp_path
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
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self, port=None):
        self.port = port or free_port()
        self.log = open(str(self.dir / "collector.log"), "ab")  # noqa: SIM115 - lives with the process
        self.proc = subprocess.Popen(
            [
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
                *self.extra,
            ],
            stdout=self.log,
            stderr=self.log,
        )
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                assert self.proc.poll() is None, self.read_log()
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
