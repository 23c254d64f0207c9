"""The doorbell: how jobs are woken. The database holds all state; losing a wake-up loses nothing.

Two implementations of one `JobQueue` protocol — asyncio tasks inside `batchgate serve`
(embedded default) and arq on Redis (server stack) — run the same job functions.
"""
