"""Does the certificate serve every name, now and for the next 30 days, with its key, from a
trusted chain, and (for federation) for both server and client use?

ids: `tls-names`, `tls-validity`, `tls-key`, `tls-chain`, `tls-federation`.
"""

import datetime
from typing import Any, Dict, List, Optional

from wire_preflight.model import FAIL, PASS, SKIP, WARN, CheckResult

EXPIRY_WARN_DAYS = 30
SOURCE = "wire-server-deploy: one certificate (wildcard or SANs) covering every name"


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
            CheckResult(
                "tls-names",
                None,
                FAIL,
                ", ".join(sans) or "no DNS names",
                ", ".join(names),
                "the certificate does not cover {}".format(", ".join(missing)),
                "reissue it with SANs {} (or *.{})".format(", ".join(missing), domain),
                SOURCE,
                {"missing": missing},
            )
        )
    else:
        results.append(
            CheckResult(
                "tls-names",
                None,
                PASS,
                ", ".join(sans),
                ", ".join(names),
                "every name is covered",
                "",
                SOURCE,
            )
        )
    results.append(_validity(cert, now))
    if key_match is None:
        results.append(
            CheckResult(
                "tls-key",
                None,
                SKIP,
                None,
                "the key of the certificate",
                "no key given (--key)",
                "",
                SOURCE,
            )
        )
    else:
        results.append(
            CheckResult(
                "tls-key",
                None,
                PASS if key_match else FAIL,
                "matches" if key_match else "another key",
                "the key of the certificate",
                "the key belongs to the certificate"
                if key_match
                else "the key does not belong to this certificate",
                "" if key_match else "use the key the certificate was issued for",
                SOURCE,
            )
        )
    if chain is None:
        results.append(
            CheckResult("tls-chain", None, SKIP, None, "a trusted chain", chain_detail, "", SOURCE)
        )
    else:
        results.append(
            CheckResult(
                "tls-chain",
                None,
                PASS if chain else FAIL,
                chain_detail,
                "a trusted chain",
                "the chain is trusted" if chain else "the chain is not trusted: " + chain_detail,
                "" if chain else chain_remedy(chain_detail),
                SOURCE,
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
        return CheckResult(
            "tls-validity",
            None,
            FAIL,
            observed,
            expected,
            "not valid before " + cert["not_before"],
            "check the clock, or wait for the certificate's start",
            SOURCE,
        )
    if now >= after:
        return CheckResult(
            "tls-validity",
            None,
            FAIL,
            observed,
            expected,
            "expired on " + cert["not_after"],
            "renew the certificate",
            SOURCE,
        )
    left = (after - now).days
    if left < EXPIRY_WARN_DAYS:
        return CheckResult(
            "tls-validity",
            None,
            WARN,
            observed,
            expected,
            "expires in {} days ({})".format(left, cert["not_after"]),
            "renew the certificate",
            SOURCE,
        )
    return CheckResult(
        "tls-validity", None, PASS, observed, expected, f"valid for {left} more days", "", SOURCE
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
        return CheckResult(
            "tls-federation",
            None,
            FAIL,
            observed,
            "serverAuth and clientAuth, SAN " + name,
            "; ".join(problems),
            "reissue with extendedKeyUsage serverAuth, clientAuth and SAN " + name,
            "wire-server federation: mutual TLS between backends",
        )
    return CheckResult(
        "tls-federation",
        None,
        PASS,
        observed,
        "serverAuth and clientAuth, SAN " + name,
        "usable for federation",
        "",
        "wire-server federation",
    )


def _parse(stamp: str) -> datetime.datetime:
    return datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc
    )
