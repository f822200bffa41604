"""The collector's routes, one router module per concern: `ingest` (reports and enrolment),
`reads` (the API's reads, /metrics, /healthz), `pages` (the HTML pages), `admin` (an admin's
changes). Each route reaches the app's settings and state through `common.collector`."""
