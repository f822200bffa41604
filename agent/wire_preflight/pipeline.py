"""The agent's pipeline as plain functions: options -> facts -> results -> report document.

`check` and `report` call evaluate(); tests and other front ends can call the steps one by one.
Nothing here prints or exits: bad options raise InputError (exit 2 in the CLI).
"""

from typing import Any, Dict, List, NamedTuple, Optional, Sequence

from wire_preflight.model import CheckResult, InputError
from wire_preflight.profiles import Profile
from wire_preflight.requirements import Needs


class Options(NamedTuple):
    """What `check` and `report` are asked (their command-line options, by the same names)."""

    roles: Sequence[str] = ()
    profile_name: Optional[str] = None
    sft_users: int = 0
    data_dirs: Sequence[str] = ()
    facts_file: Optional[str] = None
    physical_host: Optional[str] = None
    ignore: Sequence[str] = ()
    target_ip: Optional[str] = None
    target_interface: Optional[str] = None
    k8s_cidrs: Sequence[str] = ()
    state_dir: Optional[str] = None
    root: str = "/"  # a captured tree to read instead of this host (facts/tree.py)


class Evaluation(NamedTuple):
    results: List[CheckResult]
    # The schema-versioned report (report.build): what `check --json` prints and `report` sends.
    report: Dict[str, Any]

    @property
    def state_dir(self) -> str:
        """The state directory evaluate() read and wrote ("" when there is none): `report`
        keeps its host key and spool there too, never in one worked out a second time."""
        return self.report["options"]["state_dir"]


class Question(NamedTuple):
    """The validated question: the profile, the VM's roles and what they need."""

    profile: Profile
    roles: List[str]
    data_dirs: Dict[str, str]
    needs: Needs


def prepare(options: Options) -> Question:
    """Load the profile and check every option against it, before any fact is collected."""
    from wire_preflight import checks, profiles, requirements

    if not options.roles:
        raise InputError("give the VM's role with --role ROLE (or roles = ... in --config)")
    profile = profiles.load(options.profile_name)
    roles = _unique(options.roles)
    for role in roles:
        profile.role(role)  # unknown role: exit 2 naming the roles that exist
    unknown = sorted(set(options.ignore) - set(checks.check_ids()))
    if unknown:
        raise InputError(
            "--ignore {}: no such check; check ids: {}".format(
                ", ".join(unknown), ", ".join(checks.check_ids())
            )
        )
    _validate_addresses(options.target_ip, list(options.k8s_cidrs))
    if options.target_ip and options.target_interface:
        raise InputError("--ip and --interface name the same thing: give one of them")
    dirs = requirements.parse_data_dirs(list(options.data_dirs), roles)
    return Question(
        profile, roles, dirs, requirements.needs_for(profile, roles, options.sft_users, dirs)
    )


def gather(options: Options, question: Question) -> Dict[str, Any]:
    """The facts: read from --facts FILE, else collected from this host."""

    if options.facts_file and options.root != "/":
        raise InputError("--facts and --root both say what to judge: give one of them")
    if options.facts_file:
        from wire_preflight.facts.load import load_facts

        return load_facts(options.facts_file)
    return collect_for(
        question.profile, ["/"] + [need.path for need in question.needs.disks], options.root
    )


def collect_for(profile: Any, disk_paths: List[str], root: str) -> Dict[str, Any]:
    """The facts a profile's checks judge: these disks, and the services, tools and kernel
    modules the profile names (one place, so `check`, `facts` and `bundle` read the same)."""
    from wire_preflight import profiles
    from wire_preflight.facts import collect

    return collect(
        disk_paths,
        profiles.host_services(profile),
        profiles.host_tools(profile),
        root=root,
        module_names=profiles.host_modules(profile),
    )


def judge(
    facts: Dict[str, Any],
    question: Question,
    options: Options,
    previous: Optional[Dict[str, Any]] = None,
    state_error: Optional[str] = None,
) -> List[CheckResult]:
    """Every check on the facts; previous is what the agent remembered from its last run."""
    from wire_preflight import checks, profiles

    # Reading every built-in profile costs time; only a release the profile does not name
    # needs them (to suggest the profile that fits).
    release = (facts.get("os") or {}).get("version_id")
    profile = question.profile
    alternatives = profiles.os_alternatives() if release not in profile.os_versions else {}
    context = checks.Context(
        facts,
        profile,
        question.needs,
        alternatives,
        target_ip=options.target_ip,
        target_interface=options.target_interface,
        k8s_cidrs=list(options.k8s_cidrs) or None,
        previous=previous,
        state_error=state_error,
    )
    return checks.run(context, options.ignore)


def document(
    facts: Dict[str, Any],
    question: Question,
    options: Options,
    results: List[CheckResult],
    state_dir: str,
) -> Dict[str, Any]:
    """The report: facts, what was asked (the options as they were understood) and verdicts."""
    from wire_preflight import report

    asked = {
        "sft_users": options.sft_users,
        "ignore": list(options.ignore),
        "data_dirs": question.data_dirs,
        "facts_file": options.facts_file,
        "ip": options.target_ip,
        "interface": options.target_interface,
        "k8s_cidrs": list(options.k8s_cidrs),
        "state_dir": state_dir,
    }
    return report.build(
        facts, question.profile, question.roles, results, options.physical_host, asked
    )


def evaluate(options: Options) -> Evaluation:
    """The whole pipeline as `check` runs it: the agent's state is read and written here."""
    from wire_preflight import state

    question = prepare(options)
    facts = gather(options, question)
    state_dir = options.state_dir or state.default_dir()
    previous = state.load(state_dir, facts)
    saved, where = state.save(state_dir, facts)
    results = judge(facts, question, options, previous, None if saved else where)
    doc = document(facts, question, options, results, state_dir)
    reachability = state.load_reachability(state_dir)
    if reachability:  # the last `ports` run, for the collector's reachability matrix
        doc["reachability"] = reachability
    return Evaluation(results, doc)


def _validate_addresses(target_ip: Optional[str], cidrs: List[str]) -> None:
    import ipaddress

    try:
        if target_ip:
            ipaddress.ip_address(target_ip)
        for cidr in cidrs:
            ipaddress.ip_network(cidr, strict=False)
    except ValueError as exc:
        raise InputError(str(exc)) from None


def _unique(values: Sequence[str]) -> List[str]:
    seen = []  # type: List[str]
    for value in values:
        if value not in seen:
            seen.append(value)
    return seen
