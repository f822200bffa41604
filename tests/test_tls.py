"""`wire-preflight tls` on certificates a test CA made: good, expired, expiring, a missing SAN,
the wrong key, no clientAuth, an untrusted chain, and a live TLS endpoint on loopback."""

import datetime
import json
import socket
import ssl
import threading

import pytest
from helpers import run_process

pytest.importorskip("cryptography", reason="the network extra (cryptography) is not installed")
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DOMAIN = "wire.test"
NOW = datetime.datetime.now(datetime.timezone.utc)
DAY = datetime.timedelta(days=1)


def _name(text):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])


def make_ca(name="wire-preflight test CA"):
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(_name(name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + 3650 * DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def make_leaf(
    ca,
    names=("*." + DOMAIN, DOMAIN),
    not_before=None,
    not_after=None,
    usages=(ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH),
):
    ca_key, ca_cert = ca
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(names[0]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or NOW - DAY)
        .not_valid_after(not_after or NOW + 365 * DAY)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(list(usages)), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    return key, builder.sign(ca_key, hashes.SHA256())


def write(tmp_path, name, *items):
    path = tmp_path / name
    data = b""
    for item in items:
        if hasattr(item, "private_bytes"):
            data += item.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        else:
            data += item.public_bytes(serialization.Encoding.PEM)
    path.write_bytes(data)
    return str(path)


@pytest.fixture(scope="module")
def ca():
    return make_ca()


def tls(*args):
    done = run_process("tls", "--domain", DOMAIN, "--json", *args)
    assert done.returncode in (0, 3, 4), done.stderr
    doc = json.loads(done.stdout)
    return done.returncode, {c["id"]: c for c in doc["checks"]}


def files(tmp_path, ca, leaf):
    key, cert = leaf
    return [
        "--cert",
        write(tmp_path, "cert.pem", cert),
        "--key",
        write(tmp_path, "key.pem", key),
        "--ca",
        write(tmp_path, "ca.pem", ca[1]),
    ]


def test_good_certificate(tmp_path, ca):
    code, checks = tls(*files(tmp_path, ca, make_leaf(ca)), "--federation")
    for check_id in ("tls-names", "tls-validity", "tls-key", "tls-federation"):
        assert checks[check_id]["status"] == "pass", checks[check_id]
    chain = checks["tls-chain"]
    if chain["status"] == "skip":  # cryptography < 42 (Python 3.6) cannot verify paths
        assert "cryptography >= 42" in chain["message"]
    else:
        assert chain["status"] == "pass"
    assert code in (0, 4)


def test_expired(tmp_path, ca):
    leaf = make_leaf(ca, not_before=NOW - 400 * DAY, not_after=NOW - DAY)
    code, checks = tls(*files(tmp_path, ca, leaf))
    assert code == 3
    assert checks["tls-validity"]["status"] == "fail"
    assert checks["tls-validity"]["message"].startswith("expired on ")


def test_expiring_within_30_days(tmp_path, ca):
    _, checks = tls(*files(tmp_path, ca, make_leaf(ca, not_after=NOW + 10 * DAY)))
    assert checks["tls-validity"]["status"] == "warn"
    assert "expires in" in checks["tls-validity"]["message"]


def test_missing_san(tmp_path, ca):
    leaf = make_leaf(ca, names=("nginz-https." + DOMAIN, "webapp." + DOMAIN))
    _, checks = tls(*files(tmp_path, ca, leaf))
    names = checks["tls-names"]
    assert names["status"] == "fail"
    assert names["evidence"]["missing"] == [
        "nginz-ssl.wire.test",
        "assets.wire.test",
        "account.wire.test",
    ]
    assert "reissue it with SANs" in names["remedy"]


def test_wildcard_covers_one_label_only(tmp_path, ca):
    leaf = make_leaf(ca, names=("*.example." + DOMAIN,))
    _, checks = tls(*files(tmp_path, ca, leaf))
    assert checks["tls-names"]["status"] == "fail"


def test_wrong_key(tmp_path, ca):
    _, cert = make_leaf(ca)
    other_key, _ = make_leaf(ca)
    _, checks = tls(
        "--cert", write(tmp_path, "c.pem", cert), "--key", write(tmp_path, "k.pem", other_key)
    )
    assert checks["tls-key"]["status"] == "fail"


def test_no_client_auth_for_federation(tmp_path, ca):
    leaf = make_leaf(ca, usages=(ExtendedKeyUsageOID.SERVER_AUTH,))
    _, checks = tls(*files(tmp_path, ca, leaf), "--federation")
    federation = checks["tls-federation"]
    assert federation["status"] == "fail" and "no clientAuth usage" in federation["message"]


def test_untrusted_chain(tmp_path, ca):
    other = make_ca("someone else")
    _, cert = make_leaf(ca)
    _, checks = tls(
        "--cert", write(tmp_path, "c.pem", cert), "--ca", write(tmp_path, "other.pem", other[1])
    )
    chain = checks["tls-chain"]
    assert chain["status"] in ("fail", "skip")
    if chain["status"] == "fail":
        assert "not trusted" in chain["message"]


@pytest.fixture
def endpoint(tmp_path, ca):
    key, cert = make_leaf(ca)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(write(tmp_path, "srv.pem", cert), write(tmp_path, "srv.key", key))
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(10)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            try:
                with context.wrap_socket(conn, server_side=True) as tls_conn:
                    tls_conn.settimeout(2)
                    tls_conn.recv(1)
            except (OSError, ssl.SSLError):
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    server.close()


def test_live_endpoint(endpoint, tmp_path, ca):
    ca_file = write(tmp_path, "ca.pem", ca[1])
    _, checks = tls("--connect", endpoint, "--ca", ca_file)
    assert checks["tls-names"]["status"] == "pass"
    assert checks["tls-chain"]["status"] == "pass", checks["tls-chain"]
    assert checks["tls-key"]["status"] == "skip"
    _, untrusted = tls("--connect", endpoint)  # the system store does not know the test CA
    assert untrusted["tls-chain"]["status"] == "fail"


@pytest.mark.parametrize(
    "args,words",
    [
        (["--cert", "a.pem", "--connect", "h:1"], "exactly one of"),
        ([], "exactly one of"),
        (["--cert", "/nonexistent.pem"], "cannot read certificate"),
        (["--connect", "no-port"], "HOST:PORT"),
    ],
)
def test_bad_input(args, words):
    done = run_process("tls", "--domain", DOMAIN, *args)
    assert done.returncode == 2, done.stderr
    assert words in done.stderr and "Traceback" not in done.stderr


def test_broken_pem(tmp_path):
    path = tmp_path / "broken.pem"
    path.write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    done = run_process("tls", "--domain", DOMAIN, "--cert", str(path))
    assert done.returncode == 2 and "broken PEM block" in done.stderr
