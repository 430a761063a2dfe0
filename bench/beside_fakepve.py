"""fakepve 0.5.0 beside the gateway (``bench/served.py``), started over HTTPS as its README starts it.

fakepve is AGPL and registers a pytest plugin (``pytest11``): it never goes into the project's virtualenv.
It gets its own, ``bench/.venv-fakepve`` (git-ignored), made on first use with the pinned version; without
network access the bench runs without it and says so. Its guests are the mock's default seed's, so both
answer ``/nodes`` and ``/cluster/resources`` over the same cluster.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.parse
from pathlib import Path

VERSION = "0.5.0"
VENV = Path(__file__).resolve().parent / ".venv-fakepve"
PASSWORD = "secret"  # nosec B105 # fakepve's documented default login, on 127.0.0.1 only


def python() -> tuple[Path | None, str]:
    """The virtualenv's interpreter with fakepve installed (made now if need be), or None and why not."""
    interpreter = VENV / "bin" / "python"
    marker = VENV / f"fakepve-{VERSION}.installed"
    if marker.exists():
        return interpreter, ""
    made = subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], capture_output=True, text=True,
                          timeout=300)
    if made.returncode:
        return None, f"python -m venv failed: {made.stderr.strip()[-200:]}"
    installed = subprocess.run([str(interpreter), "-m", "pip", "install", "-q", f"fakepve[crypto]=={VERSION}"],
                               capture_output=True, text=True, timeout=600)
    if installed.returncode:
        return None, f"pip install fakepve=={VERSION} failed: {installed.stderr.strip()[-200:]}"
    marker.touch()
    return interpreter, ""


def guests_file(directory: Path) -> Path:
    """The mock's default guests in fakepve's guests file (its README's ``{"guests": [...]}``)."""
    from pvegateway.backends.mock.seed import DEFAULT_SEED

    guests = []
    for guest in DEFAULT_SEED["guests"]:
        config = guest["config"]
        guests.append({"vmid": guest["vmid"], "type": guest["kind"], "node": guest["node"],
                       "status": guest["status"], "config": config,
                       "name": config.get("name", config.get("hostname", f"guest{guest['vmid']}"))})
    path = directory / "fakepve-guests.json"
    path.write_text(json.dumps({"guests": guests}))
    return path


def argv(interpreter: Path, guests: Path, port: int) -> list[str]:
    """Tasks end at once (``--time-scale 0``), as the mock's do."""
    return [str(interpreter), "-m", "fakepve", str(guests), "--host", "127.0.0.1", "--port", str(port),
            "--time-scale", "0"]


LOGIN = ("POST", "/api2/json/access/ticket", urllib.parse.urlencode({"username": "root@pam", "password": PASSWORD}))
