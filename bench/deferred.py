"""The work the gateway leaves out of its startup, measured: what each deferral saves.

In a fresh interpreter (``python -m bench.deferred``; ``bench/run.py`` runs it): loading the newest
schema, then compiling every operation's validator (done per operation on its first request), building
and encoding the OpenAPI document (done on the first ``GET /openapi.json``), and the size of what stays
in memory for good (what ``serve`` freezes out of the cyclic GC's walks). Prints one JSON object.
"""

from __future__ import annotations

import gc
import json
import re
import time
from pathlib import Path


def rss_mb() -> float:
    match = re.search(r"VmRSS:\s+(\d+) kB", Path("/proc/self/status").read_text())
    return int(match.group(1)) / 1024 if match else float("nan")


def main() -> None:
    before = rss_mb()
    started = time.perf_counter()
    from pvegateway.apidoc.schema import load_schema

    schema = load_schema(None)
    loaded = time.perf_counter()
    loaded_rss = rss_mb()
    for op in schema.operations:
        op.validator.normalize({})  # builds the operation's validator, as its first request does
    compiled = time.perf_counter()

    from pvegateway.openapi.endpoint import OpenAPIEndpoint

    built = time.perf_counter()
    body, _etag = OpenAPIEndpoint(schema).body_for("")
    encoded = time.perf_counter()
    gc.collect()
    print(json.dumps({
        "operations": len(schema.operations),
        "schema_load_s": loaded - started,
        "schema_rss_mb": loaded_rss - before,
        "all_validators_s": compiled - loaded,
        "openapi_build_s": encoded - built,
        "openapi_bytes": len(body),
        "long_lived_objects": len(gc.get_objects()),
    }))


if __name__ == "__main__":
    main()
