"""Behavioural events from the apps (seed 000 §5, §23): `POST /events` → analytics.raw.

`rules` (what an event must be), `batch` (reading any body without a 500), `intake`
(opt-out, pseudonym, dedup, produce-and-wait), `kafka` (the producer), `replay` (bad
events back into analytics.raw once the rules accept them), `simulate` (buyer sessions).
"""
