"""A certificate, its key and its chain: read from files or fetched from a live endpoint.

Parsing uses the `cryptography` library (the `network` extra); fetching and verifying a live
endpoint uses the standard library's ssl, so OpenSSL itself judges the chain.
"""

import datetime
import socket
import ssl
from typing import Any, Dict, List, Optional, Tuple

from wire_preflight import safefile
from wire_preflight.model import InputError

TIMEOUT = 5.0


def _x509() -> Any:
    try:
        from cryptography import x509
    except ImportError:
        raise InputError(
            "`wire-preflight tls` needs the cryptography package: "
            "pip install 'wire-preflight[network]'"
        ) from None
    return x509


def load_chain(path: str) -> List[Any]:
    x509 = _x509()
    try:
        data = safefile.read_bytes(path, safefile.LARGE)
    except OSError as exc:
        raise InputError(f"cannot read certificate {path}: {exc.strerror}") from None
    certs = []
    for block in data.split(b"-----END CERTIFICATE-----"):
        start = block.find(b"-----BEGIN CERTIFICATE-----")
        if start < 0:
            continue
        pem = block[start:] + b"-----END CERTIFICATE-----\n"
        try:
            certs.append(x509.load_pem_x509_certificate(pem))
        except ValueError as exc:
            raise InputError(f"certificate {path} has a broken PEM block: {exc}") from None
    if not certs:
        raise InputError(f"{path} holds no PEM certificate")
    return certs


def load_key(path: str) -> Any:
    from cryptography.hazmat.primitives import serialization

    try:
        data = safefile.read_bytes(path, safefile.CONFIG)
    except OSError as exc:
        raise InputError(f"cannot read key {path}: {exc.strerror}") from None
    try:
        return serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise InputError(f"key {path} is not an unencrypted PEM private key: {exc}") from None


def describe(cert: Any) -> Dict[str, Any]:
    """The facts about one certificate the checks read."""
    x509 = _x509()
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = san.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        names = []
    try:
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        eku = [
            {
                ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
                ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
            }.get(oid, oid.dotted_string)
            for oid in usages
        ]
    except x509.ExtensionNotFound:
        eku = None  # no EKU extension: any usage
    common = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return {
        "subject_cn": common[0].value if common else None,
        "dns_names": names,
        "not_before": _utc(cert, "not_valid_before"),
        "not_after": _utc(cert, "not_valid_after"),
        "extended_key_usage": eku,
        "issuer": cert.issuer.rfc4514_string(),
        "subject": cert.subject.rfc4514_string(),
    }


def _utc(cert: Any, field: str) -> str:
    # cryptography >= 42 has *_utc; older releases return naive UTC datetimes.
    value = getattr(cert, field + "_utc", None) or getattr(cert, field).replace(
        tzinfo=datetime.timezone.utc
    )
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def key_matches(cert: Any, key: Any) -> bool:
    from cryptography.hazmat.primitives import serialization

    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    return cert.public_key().public_bytes(der, spki) == key.public_key().public_bytes(der, spki)


def verify_chain(
    chain: List[Any], ca_file: Optional[str], hostname: str
) -> Tuple[Optional[bool], str]:
    """(verified, detail): the chain judged as TLS clients judge it.

    OpenSSL itself does it when its command is there (`openssl verify` with the sslserver
    purpose and the host name, as a TLS client checks a server): a private CA made by plain
    `openssl req -x509` (no keyUsage) or a certificate with a critical subjectAltName
    verify, as they do for OpenSSL-based clients. Without the command, cryptography's path
    validation (>= 42) with its extension policies relaxed to what OpenSSL enforces (>= 45).
    None when neither can judge.
    """
    ca_path = (
        ca_file or ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt"
    )
    from wire_preflight.facts import programs

    openssl = programs.which("openssl")
    if openssl:
        return _openssl_verify(openssl, chain, ca_path, hostname)
    return _cryptography_verify(chain, ca_path, hostname)


def _pem(cert: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.PEM)


def _openssl_verify(
    openssl: str, chain: List[Any], ca_path: str, hostname: str
) -> Tuple[Optional[bool], str]:
    import os
    import subprocess
    import tempfile  # only the tls command pays for it

    if not os.path.isfile(ca_path):
        return False, f"cannot load the trust anchors from {ca_path}: no such file"
    with tempfile.TemporaryDirectory(prefix="wire-preflight-tls-") as tmp:
        leaf = os.path.join(tmp, "leaf.pem")
        with open(leaf, "wb") as handle:
            handle.write(_pem(chain[0]))
        argv = [openssl, "verify", "-purpose", "sslserver", "-verify_hostname", hostname]
        argv += ["-CAfile", ca_path]
        if chain[1:]:
            untrusted = os.path.join(tmp, "untrusted.pem")
            with open(untrusted, "wb") as handle:
                handle.write(b"".join(_pem(c) for c in chain[1:]))
            argv += ["-untrusted", untrusted]
        try:
            done = subprocess.run(
                [*argv, leaf],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                universal_newlines=True,
                timeout=20,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            return _cryptography_verify(chain, ca_path, hostname, f"openssl failed: {exc}")
    if done.returncode == 0:
        return True, f"OpenSSL verified the chain for {hostname} against {ca_path}"
    return False, f"{openssl_reason(done.stdout)} (OpenSSL; trust anchors: {ca_path})"


def openssl_reason(output: str) -> str:
    """`error 20 at 0 depth lookup: unable to get local issuer certificate` -> the reason and
    the certificate it concerns (depth 0 is the leaf)."""
    import re

    found = re.search(r"error (\d+) at (\d+) depth lookup: ?(.*)", output)
    if not found:
        lines = [line for line in output.splitlines() if line.strip()]
        return lines[-1].strip() if lines else "openssl verify failed"
    _code, depth, reason = found.groups()
    where = "the certificate" if depth == "0" else f"the chain's certificate at depth {depth}"
    return f"{reason.strip()} ({where})"


def _cryptography_verify(
    chain: List[Any], ca_path: str, hostname: str, note: str = ""
) -> Tuple[Optional[bool], str]:
    x509 = _x509()
    try:
        from cryptography.x509.verification import PolicyBuilder, Store
    except ImportError:
        return None, "path verification needs the openssl command or cryptography >= 42"
    try:
        anchors = x509.load_pem_x509_certificates(safefile.read_bytes(ca_path, safefile.LARGE))
    except (OSError, ValueError) as exc:
        return False, f"cannot load the trust anchors from {ca_path}: {exc}"
    builder = PolicyBuilder().store(Store(anchors))
    try:
        from cryptography.x509.verification import ExtensionPolicy

        # The Web PKI profile rejects what OpenSSL and its clients accept (a CA without
        # keyUsage, a critical SAN): keep only the rules OpenSSL enforces (CA:TRUE issuers).
        builder = builder.extension_policies(
            ca_policy=ExtensionPolicy.permit_all().require_present(
                x509.BasicConstraints, _agnostic(), _is_ca
            ),
            # cryptography verifies server names against the SAN only, so it must be there
            # (as browsers require); critical or not.
            ee_policy=ExtensionPolicy.permit_all().require_present(
                x509.SubjectAlternativeName, _agnostic(), None
            ),
        )
        relaxed = " (cryptography, OpenSSL's rules)"
    except (ImportError, AttributeError):
        relaxed = " (cryptography's Web PKI rules; install openssl for OpenSSL's)"
    verifier = builder.build_server_verifier(x509.DNSName(hostname))
    suffix = f"{relaxed}; trust anchors: {ca_path}" + (f"; {note}" if note else "")
    try:
        verifier.verify(chain[0], chain[1:])
    except Exception as exc:
        return False, f"{exc}{suffix}"
    return True, f"verifies for {hostname}{suffix}"


def _agnostic() -> Any:
    from cryptography.x509.verification import Criticality

    return Criticality.AGNOSTIC


def _is_ca(_policy: Any, _cert: Any, constraints: Any) -> None:
    if constraints is None or not constraints.ca:
        raise ValueError("an issuer is not a CA (basicConstraints CA:TRUE)")


def fetch(endpoint: str, server_name: str, ca_file: Optional[str]) -> Dict[str, Any]:
    """Connect to HOST:PORT (SNI server_name): the leaf it presents, and whether OpenSSL
    trusts the chain for that name (against ca_file or the system store)."""
    host, _, port = endpoint.rpartition(":")
    if not host or not port.isdigit():
        raise InputError(f"--connect {endpoint!r}: give HOST:PORT")
    host = host.strip("[]")
    plain = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    plain.check_hostname = False
    plain.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection(
            (host, int(port)), timeout=TIMEOUT
        ) as sock, plain.wrap_socket(sock, server_hostname=server_name) as tls:
            der = tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError) as exc:
        raise InputError(f"cannot fetch a certificate from {endpoint}: {exc}") from None
    trusting = ssl.create_default_context(cafile=ca_file)
    try:
        with socket.create_connection(
            (host, int(port)), timeout=TIMEOUT
        ) as sock, trusting.wrap_socket(sock, server_hostname=server_name):
            verified, detail = True, f"OpenSSL verified the chain for {server_name}"
    except ssl.SSLError as exc:
        # SSLCertVerificationError (3.7+) carries verify_message; on 3.6 the reason says it.
        verified = False
        detail = getattr(exc, "verify_message", None) or exc.reason or str(exc)
    except OSError as exc:
        verified, detail = False, str(exc)
    return {"der": der, "verified": verified, "detail": detail}


def leaf_from_der(der: bytes) -> Any:
    return _x509().load_der_x509_certificate(der)
