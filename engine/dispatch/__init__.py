"""Dispatch logic, runtime-agnostic: rate limits, call windows, retry policy,
host placement and the dispatcher's control loop.

Nothing here imports Ray; ``actors/`` hosts these classes.
"""
