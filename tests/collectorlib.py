"""A collector process for tests: started on a free loopback port, stopped after."""

import json
import signal
import socket
import subprocess
import sys
import time

import requests

TOKEN = "test-token-0123456789"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Collector:
    def __init__(self, tmp_path, *extra, scheme="http"):
        self.dir = tmp_path
        self.db = str(tmp_path / "collector.db")
        self.token_file = str(tmp_path / "token")
        with open(self.token_file, "w") as handle:
            handle.write(TOKEN + "\n")
        self.extra = list(extra)
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

    def post(self, body, token=TOKEN, **kwargs):
        headers = kwargs.pop("headers", {})
        if token is not None:
            headers["Authorization"] = "Bearer " + token
        data = json.dumps(body) if isinstance(body, (dict, list)) else body
        kwargs.setdefault("timeout", 10)
        return requests.post(self.url + "/api/v1/reports", data=data, headers=headers, **kwargs)

    def get(self, path, token=TOKEN, **kwargs):
        headers = {"Authorization": "Bearer " + token} if token else {}
        return requests.get(self.url + path, headers=headers, timeout=10, **kwargs)
