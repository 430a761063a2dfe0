"""Schema-driven fuzzing of the mock gateway with schemathesis (see ``harness``)."""
