"""Backends answer validated requests: the generic schema-driven one, the mock, the proxy."""
