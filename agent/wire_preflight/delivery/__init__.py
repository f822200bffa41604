"""Getting `report`'s reports to the collector: flow.py (which credential, the spool first,
then this run's report), send.py (HTTP(S) to the collector), spool.py (the reports waiting
for it), hostkey.py (this machine's key for it).

Imports nothing: `check` and `--help` must not pay for delivery, and requests loads only when
something is sent.
"""

# The most reports the spool keeps (`report --spool-max`'s default), here so that the command
# line can show it without importing the spool: a day of reports every five minutes.
SPOOL_LIMIT = 288
