"""HTTP plumbing shared by every adapter: middleware, auth, errors, metrics, health."""
