"""`report`'s delivery: which credential to present, the spool first (oldest first), then
this run's report; what to keep when the collector cannot take it.

The credential is the admin token when one is given (`--token-file`), else this machine's
host key for the collector, enrolling for one with `--enroll-secret-file` when none is held.
A host key the collector no longer knows (the host was forgotten or re-keyed) is dropped and,
with an enroll secret at hand, replaced once per run.
"""

from typing import Any, Dict, List, NamedTuple, Optional

from wire_preflight import hostkey, send, spool


class Outcome(NamedTuple):
    state: str  # delivered | spooled | refused | lost
    detail: str
    messages: List[str]
    pending: int


class Credential:
    def __init__(
        self,
        collector: str,
        ca_cert: Optional[str],
        token: Optional[str],
        enroll_secret: Optional[str],
        state_dir: str,
        facts: Dict[str, Any],
    ):
        self.collector = collector
        self.ca_cert = ca_cert
        self.token = token
        self.enroll_secret = enroll_secret
        self.state_dir = state_dir
        self.facts = facts
        self.renewed = False
        self.messages = []  # type: List[str]
        self._session = None  # type: Any

    def session(self) -> Any:
        """A session presenting the credential; DeliveryError when there is none yet."""
        if self._session is None:
            secret = self.token or hostkey.load(self.state_dir, self.collector)
            if secret is None:
                secret = self._enroll()
            self._session = send.new_session(secret, self.ca_cert)
        return self._session

    def _enroll(self) -> str:
        if not self.enroll_secret:
            raise send.DeliveryError(
                f"no host key for {self.collector} in {self.state_dir}: "
                "give --enroll-secret-file (or --token-file)",
                send.AUTH,
            )
        try:
            path = hostkey.prepare(self.state_dir, self.collector)
        except OSError as exc:
            raise send.DeliveryError(
                f"cannot keep a host key in {self.state_dir} ({exc.strerror or exc}): "
                "not enrolling",
                send.RETRY,
            ) from None
        key = send.enroll(self.collector, self.enroll_secret, self.facts, self.ca_cert)
        hostkey.save(path, key)
        self.messages.append(f"enrolled with {self.collector}; host key kept in {path}")
        return key

    def renew(self, error: "send.DeliveryError") -> bool:
        """After a refused host key: drop it and enrol again, once. True to try again."""
        if self.token or self.renewed or not self.enroll_secret:
            return False
        self.renewed = True
        hostkey.forget(self.state_dir, self.collector)
        self.messages.append(f"the collector no longer takes this host's key ({error}); enrolling")
        self._session = None
        return True


def deliver(
    doc: Dict[str, Any],
    credential: Credential,
    spool_dir: str,
    spool_max: int,
) -> Outcome:
    def post(item: Dict[str, Any]) -> Any:
        try:
            return send.post_report(credential.collector, item, credential.session())
        except send.DeliveryError as exc:
            if exc.kind == send.AUTH and exc.status is not None and credential.renew(exc):
                return send.post_report(credential.collector, item, credential.session())
            raise

    messages = []  # type: List[str]
    with spool.lock(spool_dir) as locked:
        if locked:
            delivered, said = spool.flush(spool_dir, post)
            if delivered:
                messages.append(f"delivered {delivered} spooled report(s)")
            messages += said
        waiting = spool.pending(spool_dir)
        if waiting:
            state, detail = _keep(doc, spool_dir, spool_max, messages, "earlier reports wait")
        else:
            try:
                post(doc)
                state, detail = "delivered", ""
            except send.DeliveryError as exc:
                if exc.kind == send.NEVER:
                    state, detail = (
                        "refused",
                        f"{exc}; {spool.keep_rejected(spool_dir, doc, str(exc))}",
                    )
                else:
                    state, detail = _keep(doc, spool_dir, spool_max, messages, str(exc))
    return Outcome(state, detail, credential.messages + messages, spool.pending(spool_dir))


def _keep(
    doc: Dict[str, Any], spool_dir: str, spool_max: int, messages: List[str], why: str
) -> "tuple":
    if not spool_dir:
        from wire_preflight.state import NO_HOME

        return "lost", f"{why}; and it could not be kept: {NO_HOME}"
    try:
        messages += spool.put(spool_dir, doc, spool_max)
    except OSError as exc:
        return "lost", f"{why}; and it could not be kept in {spool_dir}: {exc.strerror or exc}"
    return "spooled", why
