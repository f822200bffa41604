"""What `report` and `fleet --collector` say when delivery fails: the cause, in one line, and
what to do about it: an untrusted certificate -> --ca-cert, a refused connection -> the host
and port, a malformed token file -> exit 2 naming the file (never spooled forever)."""

import shutil
import socket
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from helpers import fixture_path, run_process

FACTS = fixture_path("facts-ubuntu1804-kvm-4g.json")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def token(tmp_path):
    path = tmp_path / "token"
    path.write_text("delivery-test-token-0123456789\n")
    path.chmod(0o600)  # a secret: other users may not read it
    return str(path)


@pytest.fixture
def untrusted(tmp_path):
    """An HTTPS server on loopback whose self-signed certificate nobody trusts."""
    if not shutil.which("openssl"):
        pytest.skip("!!! NOT TESTED: no openssl to make a certificate")
    cert, key = str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            key,
            "-out",
            cert,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(500)
            self.end_headers()

        do_POST = do_GET

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def report(collector, token_file, tmp_path, *extra):
    return run_process(
        "report",
        "--collector",
        collector,
        "--token-file",
        token_file,
        "--facts",
        FACTS,
        "--role",
        "cassandra",
        "--state-dir",
        str(tmp_path / "state"),
        *extra,
    )


def test_an_untrusted_certificate_says_to_give_ca_cert(untrusted, token, tmp_path):
    done = report(untrusted, token, tmp_path)
    assert done.returncode in (0, 3, 4), done.stderr
    verdict = done.stdout.strip().splitlines()[-1]
    assert "spooled" in verdict and "not trusted" in verdict, verdict
    assert "give the CA that signed it with --ca-cert FILE" in verdict


def test_fleet_from_an_untrusted_collector_says_to_give_ca_cert(untrusted, token):
    done = run_process("fleet", "--collector", untrusted, "--token-file", token)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "not trusted" in done.stderr and "--ca-cert FILE" in done.stderr


def test_a_refused_connection_names_host_and_port(token, tmp_path):
    port = free_port()
    done = report(f"http://127.0.0.1:{port}", token, tmp_path)
    verdict = done.stdout.strip().splitlines()[-1]
    assert f"cannot reach http://127.0.0.1:{port}/api/v1/reports: connection refused" in verdict
    fleet = run_process("fleet", "--collector", f"http://127.0.0.1:{port}", "--token-file", token)
    assert fleet.returncode == 2 and f"127.0.0.1:{port}" in fleet.stderr
    assert "connection refused" in fleet.stderr and len(fleet.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("text", ["one-token-0123456789\nsecond-line\n"])
def test_a_malformed_token_file_exits_2_naming_it(text, tmp_path):
    path = tmp_path / "token"
    path.write_text(text)
    path.chmod(0o600)
    done = report(f"http://127.0.0.1:{free_port()}", str(path), tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "wire-preflight: error: --token-file {} must hold the token alone on one line "
        "(found {} line(s))".format(path, text.count("\n"))
    )
    assert not (tmp_path / "state" / "spool").exists() or not any(
        (tmp_path / "state" / "spool").glob("*.json")
    )


@pytest.mark.parametrize(
    "text,what",
    [
        ("two words-0123456789\n", "a space at character 4"),
        ("tab\there-0123456789\n", "a whitespace or unprintable character at character 4"),
        ("bell\x07-0123456789\n", "a whitespace or unprintable character at character 5"),
    ],
)
def test_a_token_with_a_space_says_so_not_lines(text, what, tmp_path):
    # One line, so "(found 1 line(s))" was no help; the token itself is never printed.
    path = tmp_path / "token"
    path.write_text(text)
    path.chmod(0o600)
    done = report(f"http://127.0.0.1:{free_port()}", str(path), tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"wire-preflight: error: --token-file {path}: the token has {what}; "
        "a token is one word of printable characters"
    )
    assert "0123456789" not in done.stderr


def test_read_token_without_a_file_is_none_for_every_option():
    from wire_preflight.commandline import read_token

    # Whether a token is needed is the caller's to say, not a matter of the option's name.
    assert read_token(None) is None and read_token("", "--enroll-secret-file") is None


@pytest.mark.parametrize(
    "args,words",
    [
        (("fleet", "--collector", "http://127.0.0.1:9"), "fleet --collector needs --token-file"),
        (
            ("fleet", "--collector", "http://127.0.0.1:9", "drift"),
            "fleet drift needs --collector URL and --token-file FILE",
        ),
        (
            ("fleet", "--collector", "http://127.0.0.1:9", "accept", "h1"),
            "fleet accept needs --collector URL and --token-file FILE",
        ),
    ],
)
def test_fleet_without_a_token_file_says_which_command_needs_it(args, words):
    done = run_process(*args)
    assert done.returncode == 2 and words in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
