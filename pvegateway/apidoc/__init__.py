"""Reading PVE's apidoc tree: sources, fix-ups of the dump's pitfalls, and Operation records."""
