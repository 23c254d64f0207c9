"""Database plumbing: the declarative base, engines and session scopes."""
