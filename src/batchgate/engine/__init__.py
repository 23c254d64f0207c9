"""The batch engine: validate, execute, finalize, reconcile. One engine for both deployments.

Progress lives in the database. Lines are claimed in small leased units; a result is accepted
only from the current lease holder (fencing token), so any worker can continue any batch and
a crashed worker costs at most a re-send of what it had in flight.
"""
