"""The docs UIs as a person uses them: Debian's Chromium, headless, driven by Playwright.

What a unit test of the HTML cannot show: that Swagger UI and ReDoc actually boot from the vendored
assets with no internet, group the operations like PVE's API viewer, and that "Authorize" with an API
token then "Try it out" / "Execute" reaches the gateway and shows its answer. Every request the page
makes is recorded (and anything not on 127.0.0.1 is refused), so a CDN reference would fail the test.

``PVEGATEWAY_UPDATE_SCREENSHOT=1`` also copies the screenshot of /docs to ``docs/docs-ui.png``.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from playwright.sync_api import Browser, Page, Route

from pvegateway.testing import PVEMock

SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "docs-ui.png"
UPDATE_ENV = "PVEGATEWAY_UPDATE_SCREENSHOT"
TAGS = ["access", "cluster", "nodes", "pools", "root", "storage", "version"]
TIMEOUT_MS = 15_000
# ReDoc renders all 675 operations before it shows anything: ~11 s on a 2-core machine.
REDOC_TIMEOUT_MS = 60_000


class RecordedPage:
    """A fresh page that records every request, refusing those that would leave 127.0.0.1."""

    def __init__(self, browser: Browser) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.context.set_default_timeout(TIMEOUT_MS)
        self.urls: list[str] = []
        self.headers: dict[str, dict[str, str]] = {}
        self.context.route("**/*", self._route)
        self.page: Page = self.context.new_page()

    def _route(self, route: Route) -> None:
        request = route.request
        self.urls.append(request.url)
        self.headers[urlsplit(request.url).path] = request.headers
        if urlsplit(request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            route.abort("blockedbyclient")

    def outside(self) -> list[str]:
        return [url for url in self.urls if urlsplit(url).hostname != "127.0.0.1"]

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def recorded(browser: Browser) -> Iterator[RecordedPage]:
    page = RecordedPage(browser)
    try:
        yield page
    finally:
        page.close()


def _api_token(mock: PVEMock) -> str:
    """root@pam logs in and creates a token with its rights: the ``Authorization`` value for it."""
    with requests.Session() as http:
        login = http.post(f"{mock.api_url}/access/ticket", data={"username": mock.user, "password": mock.password})
        login.raise_for_status()
        ticket = login.json()["data"]
        created = http.post(
            f"{mock.api_url}/access/users/{mock.user}/token/docs",
            data={"privsep": "0", "comment": "docs UI"},
            cookies={"PVEAuthCookie": ticket["ticket"]},
            headers={"CSRFPreventionToken": ticket["CSRFPreventionToken"]},
        )
        created.raise_for_status()
        token = created.json()["data"]
    return f"PVEAPIToken={token['full-tokenid']}={token['value']}"


def _document_tags(mock: PVEMock) -> list[str]:
    document: dict[str, Any] = requests.get(f"{mock.url}/openapi.json", timeout=30).json()
    return [tag["name"] for tag in document["tags"]]


def test_swagger_ui_authorizes_with_an_api_token_and_executes_get_version(
    pve_mock: PVEMock, recorded: RecordedPage, tmp_path: Path
) -> None:
    token = _api_token(pve_mock)
    expected = requests.get(f"{pve_mock.api_url}/version", headers={"Authorization": token}, timeout=30).json()
    assert _document_tags(pve_mock) == TAGS
    page = recorded.page

    page.goto(f"{pve_mock.url}/docs")
    page.locator(".information-container .title").get_by_text("Proxmox VE API").wait_for()
    tags = page.locator(".opblock-tag")
    tags.first.wait_for()
    assert [tags.nth(i).get_attribute("data-tag") for i in range(tags.count())] == TAGS

    page.locator("button.authorize").click()
    scheme = page.locator(".auth-container").filter(has=page.locator("h4", has_text="PVEAPIToken"))
    scheme.locator("input").fill(token)
    scheme.get_by_role("button", name="Apply credentials").click()
    scheme.get_by_role("button", name="Remove authorization").wait_for()
    page.locator(".modal-ux .close-modal").click()
    page.locator(".modal-ux").wait_for(state="detached")

    page.locator(".opblock-tag[data-tag='version']").click()
    operation = page.locator("#operations-version-get_version")
    operation.locator(".opblock-summary").click()
    operation.locator(".try-out__btn").click()
    operation.locator("button.execute").click()
    live = operation.locator(".live-responses-table tbody")
    live.locator(".response-col_status").get_by_text("200", exact=True).wait_for()
    body = json.loads(live.locator(".response-col_description .highlight-code .microlight").inner_text())
    assert body == expected
    assert "release" in body["data"]
    assert recorded.headers["/api2/json/version"]["authorization"] == token

    shot = tmp_path / "docs-ui.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get(UPDATE_ENV) == "1":
        shutil.copyfile(shot, SCREENSHOT)

    assert recorded.outside() == []
    paths = {urlsplit(url).path for url in recorded.urls}
    assert {"/docs", "/openapi.json", "/docs/assets/swagger-ui-bundle.js", "/api2/json/version"} <= paths


def test_redoc_renders_the_title_and_the_groups(pve_mock: PVEMock, recorded: RecordedPage) -> None:
    page = recorded.page
    page.goto(f"{pve_mock.url}/redoc")
    page.get_by_role("heading", level=1).get_by_text("Proxmox VE API").wait_for(timeout=REDOC_TIMEOUT_MS)
    menu = page.locator(".menu-content [role=menu]").first
    assert menu.locator(":scope > li").all_inner_texts() == TAGS
    for tag in TAGS:
        page.locator(f"[data-section-id='tag/{tag}'] h2").get_by_text(tag, exact=True).wait_for()
    assert recorded.outside() == []
    assert {urlsplit(url).path for url in recorded.urls} >= {"/redoc", "/docs/assets/redoc.standalone.js",
                                                             "/openapi.json"}
