"""The mock: an in-memory, stateful fake PVE cluster that real clients run against unchanged."""
