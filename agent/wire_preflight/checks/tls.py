"""Does the certificate serve every name, now and for the next 30 days, with its key, from a
trusted chain, and (for federation) for both server and client use?

ids: `tls-names`, `tls-validity`, `tls-key`, `tls-chain`, `tls-federation`.
"""

import datetime
import functools
from typing import Any, Dict, List, Optional

from wire_preflight import model
from wire_preflight.model import FAIL, PASS, SKIP, WARN, CheckResult

EXPIRY_WARN_DAYS = 30
SOURCE = "wire-server-deploy: one certificate (wildcard or SANs) covering every name"


# A result about the certificate: no role (it is not a VM's), by keyword.
result = functools.partial(model.result, source=SOURCE)


def covers(pattern: str, name: str) -> bool:
    """RFC 6125: a wildcard stands for exactly one whole left-most label."""
    pattern, name = pattern.lower().rstrip("."), name.lower().rstrip(".")
    if pattern.startswith("*."):
        head, _, rest = name.partition(".")
        return bool(head) and rest == pattern[2:]
    return pattern == name


def judge(
    cert: Dict[str, Any],
    names: List[str],
    now: datetime.datetime,
    key_match: Optional[bool],
    chain: Optional[bool],
    chain_detail: str,
    federation: bool,
    domain: str,
) -> List[CheckResult]:
    results = []
    sans = cert["dns_names"]
    missing = [n for n in names if not any(covers(p, n) for p in sans)]
    if missing:
        results.append(
            result(
                "tls-names",
                FAIL,
                observed=", ".join(sans) or "no DNS names",
                expected=", ".join(names),
                message="the certificate does not cover {}".format(", ".join(missing)),
                remedy="reissue it with SANs {} (or *.{})".format(", ".join(missing), domain),
                evidence={"missing": missing},
            )
        )
    else:
        results.append(
            result(
                "tls-names",
                PASS,
                observed=", ".join(sans),
                expected=", ".join(names),
                message="every name is covered",
            )
        )
    results.append(_validity(cert, now))
    if key_match is None:
        results.append(
            result(
                "tls-key",
                SKIP,
                observed=None,
                expected="the key of the certificate",
                message="no key given (--key)",
            )
        )
    else:
        results.append(
            result(
                "tls-key",
                PASS if key_match else FAIL,
                observed="matches" if key_match else "another key",
                expected="the key of the certificate",
                message="the key belongs to the certificate"
                if key_match
                else "the key does not belong to this certificate",
                remedy="" if key_match else "use the key the certificate was issued for",
            )
        )
    if chain is None:
        results.append(
            result(
                "tls-chain",
                SKIP,
                observed=None,
                expected="a trusted chain",
                message=chain_detail,
            )
        )
    else:
        results.append(
            result(
                "tls-chain",
                PASS if chain else FAIL,
                observed=chain_detail,
                expected="a trusted chain",
                message="the chain is trusted"
                if chain
                else "the chain is not trusted: " + chain_detail,
                remedy="" if chain else chain_remedy(chain_detail),
            )
        )
    if federation:
        results.append(_federation(cert, domain))
    return results


# OpenSSL's verify reasons (X509_verify_cert_error_string; TLS clients report the same)
# and what fixes each. The first that appears in the detail names the remedy.
_CHAIN_CAUSES = [
    (
        (
            "unable to get local issuer certificate",
            "unable to get issuer certificate",
            "unable to verify the first certificate",
            "candidates exhausted",
        ),
        "an intermediate is missing or the issuing CA is not trusted: serve the full chain "
        "(leaf, then intermediates), and pass --ca with your private CA's certificate",
    ),
    (
        (
            "self-signed certificate in certificate chain",
            "self signed certificate in certificate chain",
        ),
        "the chain ends in a root the trust store does not hold: pass --ca with that root, or "
        "add it to the clients' trust stores",
    ),
    (
        ("self-signed certificate", "self signed certificate"),
        "the certificate is self-signed: issue it from a CA (yours: pass --ca) and serve that",
    ),
    (("certificate has expired",), "renew the expired certificate named above"),
    (("not yet valid",), "check the clock, or wait until the certificate's start date"),
    (
        ("hostname mismatch", "does not match", "no subjectAltName"),
        "issue the certificate with the names tls-names lists in its subjectAltName",
    ),
    (
        ("certificate purpose", "extended key usage", "keyusage", "key usage"),
        "the leaf's extendedKeyUsage lacks serverAuth, or an issuer's keyUsage lacks "
        "keyCertSign: reissue it with those usages",
    ),
    (
        ("invalid ca certificate", "not a ca"),
        "an issuer is not marked as a CA: reissue it with basicConstraints CA:TRUE",
    ),
    (
        ("signature failure", "signature is invalid"),
        "a signature does not verify: the chain is out of order or mixes certificates; serve "
        "the leaf, then the intermediate that issued it, and so on",
    ),
    (
        ("unhandled critical extension",),
        "a certificate has a critical extension clients do not know: reissue it without",
    ),
    (
        ("too weak", "key too small", "md too weak"),
        "reissue with a stronger key or signature (RSA >= 2048 bits, SHA-256)",
    ),
    (("cannot load the trust anchors",), "pass --ca with a readable PEM file of the CA"),
]


def chain_remedy(detail: str) -> str:
    lowered = detail.lower()
    for needles, remedy in _CHAIN_CAUSES:
        if any(n in lowered for n in needles):
            return remedy
    return (
        "fix what the verifier names above; serve the full chain (leaf, then "
        "intermediates) and pass --ca for a private CA"
    )


def _validity(cert: Dict[str, Any], now: datetime.datetime) -> CheckResult:
    after = _parse(cert["not_after"])
    before = _parse(cert["not_before"])
    observed = "{} to {}".format(cert["not_before"], cert["not_after"])
    expected = f"valid, and for {EXPIRY_WARN_DAYS} more days"
    if now < before:
        return result(
            "tls-validity",
            FAIL,
            observed=observed,
            expected=expected,
            message="not valid before " + cert["not_before"],
            remedy="check the clock, or wait for the certificate's start",
        )
    if now >= after:
        return result(
            "tls-validity",
            FAIL,
            observed=observed,
            expected=expected,
            message="expired on " + cert["not_after"],
            remedy="renew the certificate",
        )
    left = (after - now).days
    if left < EXPIRY_WARN_DAYS:
        return result(
            "tls-validity",
            WARN,
            observed=observed,
            expected=expected,
            message="expires in {} days ({})".format(left, cert["not_after"]),
            remedy="renew the certificate",
        )
    return result(
        "tls-validity",
        PASS,
        observed=observed,
        expected=expected,
        message=f"valid for {left} more days",
    )


def _federation(cert: Dict[str, Any], domain: str) -> CheckResult:
    eku = cert["extended_key_usage"]
    wanted = {"serverAuth", "clientAuth"}
    missing = sorted(wanted - set(eku)) if eku is not None else []
    name = f"federator.{domain}"
    problems = []
    if missing:
        problems.append("no {} usage".format(" or ".join(missing)))
    if not any(covers(p, name) for p in cert["dns_names"]):
        problems.append(f"{name} not in the SAN")
    observed = "usages: {}".format(", ".join(eku) if eku is not None else "any")
    if problems:
        return result(
            "tls-federation",
            FAIL,
            observed=observed,
            expected="serverAuth and clientAuth, SAN " + name,
            message="; ".join(problems),
            remedy="reissue with extendedKeyUsage serverAuth, clientAuth and SAN " + name,
            source="wire-server federation: mutual TLS between backends",
        )
    return result(
        "tls-federation",
        PASS,
        observed=observed,
        expected="serverAuth and clientAuth, SAN " + name,
        message="usable for federation",
        source="wire-server federation",
    )


def _parse(stamp: str) -> datetime.datetime:
    return datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc
    )
