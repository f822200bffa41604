"""tls-chain judged as OpenSSL and its TLS clients judge it: private CAs as people make them
(plain `openssl req -x509`, trustme), and a cause-specific remedy when a chain fails."""

import shutil
import subprocess

import pytest

pytest.importorskip("cryptography", reason="the network extra (cryptography) is not installed")
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from test_tls import DAY, DOMAIN, NOW, make_ca, make_leaf, tls, write

OPENSSL = shutil.which("openssl")
NAME = "nginz-https." + DOMAIN


@pytest.fixture(scope="module")
def root():
    return make_ca("wire-preflight private root")


def openssl(*args, cwd):
    subprocess.run(
        [OPENSSL, *args], cwd=str(cwd), check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


@pytest.mark.skipif(OPENSSL is None, reason="needs the openssl command to make the CA")
def test_ca_from_plain_openssl_req_x509_passes(tmp_path):
    # The CA as a how-to makes it: `openssl req -x509`, no keyUsage; the leaf signed with a SAN.
    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "30",
        "-subj",
        "/CN=Private CA",
        cwd=tmp_path,
    )
    openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "leaf.key",
        "-out",
        "leaf.csr",
        "-subj",
        "/CN=" + NAME,
        cwd=tmp_path,
    )
    (tmp_path / "san.ext").write_text(f"subjectAltName=DNS:{NAME},DNS:*.{DOMAIN}\n")
    openssl(
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "leaf.pem",
        "-days",
        "30",
        "-extfile",
        "san.ext",
        cwd=tmp_path,
    )
    ca_cert = x509.load_pem_x509_certificate((tmp_path / "ca.pem").read_bytes())
    with pytest.raises(x509.ExtensionNotFound):
        ca_cert.extensions.get_extension_for_class(x509.KeyUsage)
    _, checks = tls("--cert", str(tmp_path / "leaf.pem"), "--ca", str(tmp_path / "ca.pem"))
    assert checks["tls-chain"]["status"] == "pass", checks["tls-chain"]


def test_trustme_certificate_with_critical_san_passes(tmp_path):
    trustme = pytest.importorskip("trustme")
    authority = trustme.CA()
    issued = authority.issue_cert(NAME, "*." + DOMAIN)
    leaf = x509.load_pem_x509_certificate(issued.cert_chain_pems[0].bytes())
    assert leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).critical
    cert = tmp_path / "cert.pem"
    cert.write_bytes(b"".join(p.bytes() for p in issued.cert_chain_pems))
    authority.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    _, checks = tls("--cert", str(cert), "--ca", str(tmp_path / "ca.pem"))
    assert checks["tls-chain"]["status"] == "pass", checks["tls-chain"]


def _intermediate(root):
    root_key, root_cert = root
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "intermediate")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(root_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + 365 * DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
            critical=False,
        )
        .sign(root_key, hashes.SHA256())
    )
    return key, cert


def test_missing_intermediate_names_it(tmp_path, root):
    middle = _intermediate(root)
    _, leaf = make_leaf(middle)
    ca_file = write(tmp_path, "ca.pem", root[1])
    _, alone = tls("--cert", write(tmp_path, "leaf.pem", leaf), "--ca", ca_file)
    assert alone["tls-chain"]["status"] == "fail"
    assert "intermediate is missing" in alone["tls-chain"]["remedy"]
    _, full = tls("--cert", write(tmp_path, "full.pem", leaf, middle[1]), "--ca", ca_file)
    assert full["tls-chain"]["status"] == "pass", full["tls-chain"]


def test_wrong_purpose_is_named(tmp_path, root):
    _, leaf = make_leaf(root, usages=(ExtendedKeyUsageOID.CLIENT_AUTH,))
    ca_file = write(tmp_path, "ca.pem", root[1])
    _, checks = tls("--cert", write(tmp_path, "c.pem", leaf), "--ca", ca_file)
    chain = checks["tls-chain"]
    assert chain["status"] in ("fail", "skip")
    if chain["status"] == "fail":
        assert "serverAuth" in chain["remedy"]


def test_self_signed_leaf_is_named(tmp_path):
    own = make_ca(NAME)
    _, checks = tls(
        "--cert", write(tmp_path, "c.pem", own[1]), "--ca", write(tmp_path, "o.pem", make_ca()[1])
    )
    chain = checks["tls-chain"]
    assert chain["status"] in ("fail", "skip")
    if chain["status"] == "fail" and OPENSSL:
        assert "self-signed" in chain["remedy"] or "CA" in chain["remedy"]


def test_without_openssl_cryptography_applies_openssls_rules(tmp_path, monkeypatch):
    verification = pytest.importorskip("cryptography.x509.verification")
    if not hasattr(verification, "ExtensionPolicy"):
        pytest.skip("cryptography < 45 has no extension policies")
    trustme = pytest.importorskip("trustme")
    from wire_preflight.facts import programs
    from wire_preflight.facts import tls as tls_facts

    monkeypatch.setattr(programs, "which", lambda name: None)
    authority = trustme.CA()
    issued = authority.issue_cert(NAME)
    chain = [x509.load_pem_x509_certificate(p.bytes()) for p in issued.cert_chain_pems]
    authority.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    verified, detail = tls_facts.verify_chain(chain, str(tmp_path / "ca.pem"), NAME)
    assert verified is True, detail
    assert "OpenSSL's rules" in detail


def test_openssl_reason_names_the_depth():
    from wire_preflight.facts.tls import openssl_reason

    out = (
        "CN = x\nerror 20 at 0 depth lookup: unable to get local issuer certificate\n"
        "error leaf.pem: verification failed\n"
    )
    assert openssl_reason(out) == "unable to get local issuer certificate (the certificate)"
