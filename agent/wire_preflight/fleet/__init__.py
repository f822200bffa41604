"""The fleet: what only many hosts together show. Pure functions over host summaries, so
`wire-preflight fleet --from DIR` and the collector judge a fleet the same way."""
