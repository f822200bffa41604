"""What the domain's names resolve to, asked of a real resolver through dnspython (imported only
by `wire-preflight dns`; install with the `network` extra)."""

from typing import Any, Dict, List, Optional, Tuple

TIMEOUT = 2.0  # seconds per query: a missing answer must not stall the run
LIFETIME = 5.0


def resolver(nameserver: Optional[str] = None) -> Any:
    import dns.resolver

    if nameserver:
        res = dns.resolver.Resolver(configure=False)
        host, port = split_nameserver(nameserver)
        res.nameservers = [host]
        res.port = port
    else:
        res = dns.resolver.Resolver()
    res.timeout = TIMEOUT
    res.lifetime = LIFETIME
    return res


def split_nameserver(value: str) -> Tuple[str, int]:
    """'10.0.0.2', '10.0.0.2:5353', '[::1]:5353' -> (address, port)."""
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else 53
    if value.count(":") == 1:
        host, port = value.split(":")
        return host, int(port)
    return value, 53


def lookup(res: Any, fqdn: str) -> Dict[str, Any]:
    """A and AAAA of a name (following CNAMEs), or the reason there are none. `answered` is
    False when the resolver itself failed (timeout, no server): then nothing is known."""
    import dns.exception
    import dns.resolver

    out: Dict[str, Any] = {
        "name": fqdn,
        "addresses": [],
        "cname": None,
        "error": None,
        "answered": True,
    }
    errors = []
    for rdtype in ("A", "AAAA"):
        try:
            answer = _resolve(res, fqdn, rdtype)
        except dns.resolver.NXDOMAIN:
            out["error"] = "NXDOMAIN (no such name)"
            return out
        except dns.resolver.NoAnswer:
            continue
        except (dns.resolver.NoNameservers, dns.exception.Timeout) as exc:
            errors.append(f"{rdtype}: {_short(exc)}")
            continue
        canonical = str(answer.canonical_name).rstrip(".")
        if canonical != fqdn.rstrip("."):
            out["cname"] = canonical
        out["addresses"] += [rdata.address for rdata in answer]
    if not out["addresses"]:
        out["answered"] = not errors
        out["error"] = "; ".join(errors) or "no A or AAAA record"
    return out


def lookup_srv(res: Any, fqdn: str) -> Dict[str, Any]:
    import dns.exception
    import dns.resolver

    try:
        answer = _resolve(res, fqdn, "SRV")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return {"name": fqdn, "targets": [], "error": "no SRV record"}
    except (dns.resolver.NoNameservers, dns.exception.Timeout) as exc:
        return {"name": fqdn, "targets": [], "error": _short(exc)}
    targets = [
        {
            "target": str(r.target).rstrip("."),
            "port": r.port,
            "priority": r.priority,
            "weight": r.weight,
        }
        for r in answer
    ]
    return {"name": fqdn, "targets": targets, "error": None}


def _resolve(res: Any, name: str, rdtype: str) -> Any:
    # dnspython 2 calls it resolve(); 1.x (old distributions) query().
    method = getattr(res, "resolve", None) or res.query
    return method(name, rdtype)


def collect(
    domain: str, names: List[str], srv: Optional[str], nameserver: Optional[str] = None
) -> Dict[str, Any]:
    """All names at once: a silent nameserver costs one lifetime per record type, not one
    per name."""
    from concurrent.futures import ThreadPoolExecutor

    res = resolver(nameserver)
    with ThreadPoolExecutor(max_workers=len(names) + 1) as pool:
        found = {name: pool.submit(lookup, res, f"{name}.{domain}") for name in names}
        srv_found = pool.submit(lookup_srv, res, f"{srv}.{domain}") if srv else None
        return {
            "schema": "wire-preflight/dns-facts/1",
            "domain": domain,
            "nameserver": nameserver or "system resolver",
            "records": {name: future.result() for name, future in found.items()},
            "srv": srv_found.result() if srv_found else None,
        }


def _short(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) < 160 else text[:157] + "..."
