"""cl-revenue-ops domain logic: flow analysis, the fee controller, policies.

Plain typed Python: no pyln, no processes. Decisions are pure functions of an evidence
snapshot with an injected clock and a seeded random source (spec revenue-ops §0).
"""
