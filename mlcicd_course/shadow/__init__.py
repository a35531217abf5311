"""Shadow deployment: the mirror log and its analysis.

Modules: `log` (one JSON line per mirrored request: written by the router, read and
checked here), `analysis` (agreement with Wilson intervals, per segment, the shift of
predicted probabilities, latency, errors, accuracy once labels arrive) and `promotion`
(the rule that says "proceed to a canary" or "hold", with its reasons).
"""
