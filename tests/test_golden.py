"""The real PVE validator's answers (tests/data/golden_corpus.jsonl) reproduced byte for byte.

Each case is sent through the ASGI app as raw bytes, exactly as recorded.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import gateway

CASES = [json.loads(line) for line in (Path(__file__).parent / "data" / "golden_corpus.jsonl").read_text().splitlines()]


def _lines(text: str) -> list[str]:
    return sorted(part for part in re.split(r"\n|\\n", text))


async def _send(case: dict[str, Any]) -> httpx.Response:
    url = "http://pve/api2/json" + case["path"] + ("?" + case["query"] if case["query"] else "")
    headers = {}
    if case["body"]:
        headers["content-type"] = case.get("content_type", "application/x-www-form-urlencoded")
    transport = httpx.ASGITransport(app=gateway(case["version"]))
    async with httpx.AsyncClient(transport=transport) as client:
        return await client.request(case["method"], url, content=case["body"].encode(), headers=headers)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
async def test_validation_matches_pve(case: dict[str, Any]) -> None:
    response = await _send(case)
    expected = case["expected"]
    body = response.json()
    if expected["status"] == "valid":
        assert not (response.status_code == 400 and body.get("message") == "Parameter verification failed.\n"), (
            body.get("errors")
        )
        return
    assert response.status_code == expected["status"]
    assert body["message"] == expected["message"]
    if case.get("unordered_lines"):
        assert {k: _lines(v) for k, v in body["errors"].items()} == {
            k: _lines(v) for k, v in expected["errors"].items()
        }
    else:
        assert body["errors"] == expected["errors"]
