"""What the agent says when TLS goes wrong in ways --ca-cert cannot fix, against a real
collector serving HTTPS: http:// sent to its TLS port, a certificate without subjectAltName
(or naming another host), and the docs' openssl command, which makes one that works."""

import datetime
import ipaddress
import re
import subprocess

import pytest
from helpers import fixture_path, run_process

pytest.importorskip("fastapi", reason="the collector needs Python >= 3.10 and its extras")
pytest.importorskip("cryptography")
from collectorlib import Collector
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

FACTS = fixture_path("facts-ubuntu1804-kvm-4g.json")
DOCS = fixture_path("..", "..", "docs", "collector.md")
NOW = datetime.datetime.now(datetime.timezone.utc)
DAY = datetime.timedelta(days=1)


def _pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def _issue(tmp_path, names):
    """A CA (ca.pem) and a leaf for CN=127.0.0.1 with these subjectAltName entries (none:
    no extension at all), as cert.pem and key.pem (0600)."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hint test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + 30 * DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + 30 * DAY)
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    leaf = builder.sign(ca_key, hashes.SHA256())
    (tmp_path / "ca.pem").write_bytes(_pem(ca))
    (tmp_path / "cert.pem").write_bytes(_pem(leaf))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (tmp_path / "key.pem").chmod(0o600)
    return str(tmp_path / "ca.pem")


def _https_collector(tmp_path, cert, key):
    return Collector(tmp_path, "--tls-cert", cert, "--tls-key", key, scheme="https").start()


def _report(url, server, tmp_path, *extra):
    return run_process(
        "report",
        "--collector",
        url,
        "--token-file",
        server.token_file,
        "--facts",
        FACTS,
        "--role",
        "cassandra",
        "--state-dir",
        str(tmp_path / "state"),
        *extra,
    )


def test_http_to_the_tls_port_says_use_https(tmp_path):
    ca = _issue(tmp_path, [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    server = _https_collector(tmp_path, str(tmp_path / "cert.pem"), str(tmp_path / "key.pem"))
    try:
        plain = f"http://127.0.0.1:{server.port}"
        done = _report(plain, server, tmp_path, "--ca-cert", ca)
        verdict = done.stdout.strip().splitlines()[-1]
        assert f"that port speaks TLS: give --collector https://127.0.0.1:{server.port}" in verdict
        assert "RemoteDisconnected" not in verdict
        fleet = run_process(
            "fleet", "--collector", plain, "--token-file", server.token_file, "--ca-cert", ca
        )
        assert fleet.returncode == 2 and len(fleet.stderr.strip().splitlines()) == 1
        assert "that port speaks TLS" in fleet.stderr
        # And the hint is right: https:// with the same CA delivers.
        fixed = _report(server.url, server, tmp_path, "--ca-cert", ca)
        assert "delivered" in fixed.stdout.strip().splitlines()[-1]
    finally:
        server.stop()


def test_a_certificate_without_subject_alt_name_is_named_not_blamed_on_the_ca(tmp_path):
    ca = _issue(tmp_path, [])
    server = _https_collector(tmp_path, str(tmp_path / "cert.pem"), str(tmp_path / "key.pem"))
    try:
        done = _report(server.url, server, tmp_path, "--ca-cert", ca)
        verdict = done.stdout.strip().splitlines()[-1]
        assert "has no subjectAltName" in verdict and "subjectAltName=IP:127.0.0.1" in verdict
        assert "--ca-cert FILE" not in verdict
        fleet = run_process(
            "fleet", "--collector", server.url, "--token-file", server.token_file, "--ca-cert", ca
        )
        assert fleet.returncode == 2 and "has no subjectAltName" in fleet.stderr
    finally:
        server.stop()


def test_a_certificate_for_another_name_says_which_names_it_has(tmp_path):
    ca = _issue(tmp_path, [x509.DNSName("collector.example")])
    server = _https_collector(tmp_path, str(tmp_path / "cert.pem"), str(tmp_path / "key.pem"))
    try:
        done = _report(server.url, server, tmp_path, "--ca-cert", ca)
        verdict = done.stdout.strip().splitlines()[-1]
        assert "is for DNS:collector.example, not 127.0.0.1" in verdict, verdict
        assert "--ca-cert FILE" not in verdict
    finally:
        server.stop()


def test_an_untrusted_certificate_still_says_give_ca_cert(tmp_path):
    _issue(tmp_path, [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    server = _https_collector(tmp_path, str(tmp_path / "cert.pem"), str(tmp_path / "key.pem"))
    try:
        verdict = _report(server.url, server, tmp_path).stdout.strip().splitlines()[-1]
        assert "not trusted" in verdict and "--ca-cert FILE" in verdict
    finally:
        server.stop()


def test_the_docs_openssl_command_makes_a_certificate_agents_accept(tmp_path):
    with open(DOCS) as handle:
        text = handle.read()
    command = re.search(r"\(umask 077; openssl req -x509.*?\)\n", text, re.S).group(0)
    command = command.replace("/etc/wire-preflight/collector/", f"{tmp_path}/")
    command = command.replace("IP:192.0.2.10", "IP:127.0.0.1")
    subprocess.run(["bash", "-c", command], check=True, stderr=subprocess.PIPE)
    cert, key = str(tmp_path / "tls.crt"), str(tmp_path / "tls.key")
    server = _https_collector(tmp_path, cert, key)
    try:
        done = _report(server.url, server, tmp_path, "--ca-cert", cert)
        assert "delivered" in done.stdout.strip().splitlines()[-1], done.stdout
    finally:
        server.stop()
