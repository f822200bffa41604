"""`wire-preflight plan`: vms.py (the VMs a profile asks for, with totals derived from its
rows), placement.py (the pure search placing them on physical servers), servers.py (`plan
--server`'s glue: the servers parsed, the placement run, its JSON and ansible inventory).

Imports nothing: `check` never needs a plan.
"""
