"""pamgate: the signed money gateway."""
