"""The collector's defaults, in one light module: `serve`'s options show them, and the app,
the server and the pruner use them (importing those would load FastAPI and uvicorn just to
print --help)."""

MAX_BODY = 1024 * 1024  # a report is 10-40 KB; a MiB leaves room without inviting abuse
AGENT_INTERVAL = 300  # the agents' timer: every five minutes
STALE_AFTER = 3 * AGENT_INTERVAL  # three missed reports
HEADER_SECONDS = 10.0  # a request's headers must all arrive within this
MAX_CONNECTIONS = 1000
KEEP_REPORTS = "30d"
# Often enough that a batch stays small (100 hosts make ~100 reports in 5 minutes), rarely
# enough that it costs nothing.
PRUNE_EVERY = 300.0
PENDING_EXPIRY = 86400.0  # a pending enrolment whose key is not presented for a day expires
# Processes of one collector (`serve --workers`). Each holds 1/N of the wrong-credential
# allowance (throttle.LIMIT, 30), at least one: more workers than that would multiply it.
MAX_WORKERS = 16
