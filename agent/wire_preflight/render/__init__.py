"""Output for people (a table on a terminal, plain lines in a pipe) and for machines."""
