"""wire-preflight's collector: receives the agents' reports, keeps them in SQLite, and judges
the fleet with the agent's own fleet rules. Runs on the admin host (Python >= 3.10)."""
