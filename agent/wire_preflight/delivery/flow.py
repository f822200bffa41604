"""`report`'s delivery: which credential to present, the spool first (oldest first), then
this run's report; what to keep when the collector cannot take it.

The credential is the admin token when one is given (`--token-file`), else this machine's
host key for the collector, enrolling for one with `--enroll-secret-file` when none is held.
A host key is replaced (once per run) only when the collector says it does not know it (the
host was forgotten or re-keyed): never for a refused report, since the collector may still
take that key's other reports. A refusal of this VM's identity (a clone, a rejected claim, a
name another machine holds) is kept in `Credential.refusal`: `report` then exits
EXIT_REFUSED saying why and what to run, its reports waiting in the spool.
"""

import enum
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

from wire_preflight.delivery import hostkey, send, spool

# `report`'s exit code when the collector refuses this VM's identity for good (documented in
# README.md, "wire-preflight report"): the unit then fails, visibly, instead of spooling
# every report forever with exit 0.
EXIT_REFUSED = 5


class State(str, enum.Enum):
    """What became of this run's report. A str, so it compares, joins and prints as the
    word `report` has always shown ("delivered", ...)."""

    DELIVERED = "delivered"
    SPOOLED = "spooled"  # kept in the spool for a later run
    REFUSED = "refused"  # the collector will never take it
    LOST = "lost"  # neither delivered nor kept

    def __str__(self) -> str:
        # Python 3.12 formats a str-mixed enum by its name; the word stays the word.
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


class Outcome(NamedTuple):
    state: State
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
        enroll_code: Optional[str] = None,
    ):
        self.collector = collector
        self.ca_cert = ca_cert
        self.token = token
        self.enroll_secret = enroll_secret
        self.state_dir = state_dir
        self.facts = facts
        self.enroll_code = enroll_code
        self.renewed = False
        self.refusal = None  # type: Optional[str]
        self.messages = []  # type: List[str]
        self._session = None  # type: Any

    def session(self) -> Any:
        """A session presenting the credential; DeliveryError when there is none yet."""
        if self._session is None:
            secret = self.token or (
                None if self.renewed else hostkey.load(self.state_dir, self.collector)
            )
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
        try:
            answer = send.enroll(
                self.collector, self.enroll_secret, self.facts, self.ca_cert, self.enroll_code
            )
        except send.DeliveryError as exc:
            if exc.kind in (send.REFUSED, send.CONFLICT):
                self.refused(exc)
            raise
        key = answer["host_key"]
        hostkey.save(path, key)
        if answer.get("state") == "pending":
            self.messages.append(
                "enrolment with {} waits for an admin: another machine holds the name {} "
                "(pending enrolment {}); the key is kept in {} and reports wait in the "
                "spool until it is approved".format(
                    self.collector, self.facts.get("hostname"), answer.get("pending_id"), path
                )
            )
        else:
            self.messages.append(f"enrolled with {self.collector}; host key kept in {path}")
        return key

    def refused(self, error: "send.DeliveryError") -> None:
        """The collector refuses this VM's identity until someone acts: say so once."""
        if self.refusal is None:
            self.refusal = str(error)

    def renew(self, error: "send.DeliveryError") -> bool:
        """After the collector said it does not know the host key: enrol again, once (the new
        key replaces the old file only once it is given). True to try again."""
        if self.token or self.renewed or not self.enroll_secret or not _unknown_key(error):
            return False
        self.renewed = True
        self.messages.append(f"the collector no longer takes this host's key ({error}); enrolling")
        self._session = None
        return True


def _unknown_key(error: "send.DeliveryError") -> bool:
    """The collector does not know the key at all (forgotten, re-keyed, expired claim). An
    older collector says so only in words."""
    if error.reason is not None:
        return error.reason == send.UNKNOWN_KEY
    return error.status in (401, 403) and "credential is not valid here" in str(error)


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
                try:
                    return send.post_report(credential.collector, item, credential.session())
                except send.DeliveryError as again:
                    exc = again
            if exc.kind == send.REFUSED:
                credential.refused(exc)
            raise exc

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
                state, detail = State.DELIVERED, ""
            except send.DeliveryError as exc:
                if exc.kind == send.NEVER:
                    state, detail = (
                        State.REFUSED,
                        f"{exc}; {spool.keep_rejected(spool_dir, doc, str(exc))}",
                    )
                else:
                    state, detail = _keep(doc, spool_dir, spool_max, messages, str(exc))
    return Outcome(state, detail, credential.messages + messages, spool.pending(spool_dir))


def _keep(
    doc: Dict[str, Any], spool_dir: str, spool_max: int, messages: List[str], why: str
) -> Tuple[State, str]:
    if not spool_dir:
        from wire_preflight.state import NO_HOME

        return State.LOST, f"{why}; and it could not be kept: {NO_HOME}"
    try:
        messages += spool.put(spool_dir, doc, spool_max)
    except OSError as exc:
        return State.LOST, f"{why}; and it could not be kept in {spool_dir}: {exc.strerror or exc}"
    return State.SPOOLED, why
