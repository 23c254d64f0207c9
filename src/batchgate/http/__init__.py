"""HTTP plumbing shared by every resource: errors, request ids, dependencies, list pages."""
