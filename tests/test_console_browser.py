"""A console as PVE's web UI opens it, in a real browser (Debian's Chromium, headless, via Playwright).

The page logs in and keeps the ticket as the PVEAuthCookie cookie, asks for a termproxy, and opens
``.../vncwebsocket`` with the ``binary`` subprotocol as pve-xtermjs does (xterm.js/src/main.js): the
browser's own WebSocket implementation is the client, so its handshake checks (the accept key, the
chosen subprotocol) are the oracle, not ours.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser

from pvegateway.testing import PVEMock, running_mock

TIMEOUT_MS = 15_000

# what the UI does, in a few lines: login, cookie, termproxy, WebSocket, ticket line, typed input
CONSOLE = """async ([password]) => {
    const form = (data) => new URLSearchParams(data);
    const login = await (await fetch('/api2/json/access/ticket', {method: 'POST',
        body: form({username: 'root@pam', password})})).json();
    document.cookie = 'PVEAuthCookie=' + encodeURIComponent(login.data.ticket) + '; path=/';
    const term = await (await fetch('/api2/json/nodes/pve1/termproxy', {method: 'POST', body: form({}),
        headers: {CSRFPreventionToken: login.data.CSRFPreventionToken}})).json();
    const {port, ticket, user} = term.data;
    const url = 'ws://' + location.host + '/api2/json/nodes/pve1/vncwebsocket?port=' + port
        + '&vncticket=' + encodeURIComponent(ticket);
    const socket = new WebSocket(url, 'binary');
    socket.binaryType = 'arraybuffer';
    let shown = '';
    const until = (text) => new Promise((resolve, reject) => {
        const check = () => shown.includes(text) ? resolve() : null;
        socket.onmessage = (event) => { shown += new TextDecoder().decode(event.data); check(); };
        socket.onclose = () => reject(new Error('closed early: ' + JSON.stringify(shown)));
        check();
    });
    await new Promise((resolve, reject) => { socket.onopen = resolve; socket.onerror = reject; });
    const protocol = socket.protocol;
    socket.send(user + ':' + ticket + '\\n');
    await until('# ');
    socket.send('0:5:hello');
    await until('hello');
    socket.send('1:100:30:');
    socket.send('0:10:\\rstty size');
    socket.send('0:1:\\r');
    await until('30 100');
    socket.close();
    return {protocol, shown};
}"""


@pytest.fixture
def mock() -> Iterator[PVEMock]:
    with running_mock() as running:
        yield running


def test_a_browser_opens_a_termproxy_console_and_types_into_it(browser: Browser, mock: PVEMock) -> None:
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        page.goto(mock.url + "/openapi.json")  # any page of the mock: the console's origin
        result: dict[str, Any] = page.evaluate(CONSOLE, [mock.password])
    finally:
        context.close()
    assert result["protocol"] == "binary"  # AnyEvent.pm:705-715: the subprotocol asked for
    shown = result["shown"]
    assert shown.startswith("OKroot@pve1:~# hello")  # termproxy's OK, the prompt, the echo
    assert "30 100\r\n" in shown  # the resize reached the terminal
