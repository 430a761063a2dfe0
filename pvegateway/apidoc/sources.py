"""Where schema trees come from: the pinned manifest, mirrors, upstream, and ``apidoc.js`` files."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PACKAGE_ROOT = Path(__file__).resolve().parents[2]
_JS_PREFIX = "const apiSchema = "
LOCAL_MANIFEST = "local.json"


class SchemaError(Exception):
    """A schema could not be found, read or verified; the message says what to do."""


def apidoc_dir() -> Path:
    env = os.environ.get("PVEGATEWAY_APIDOC_DIR")
    if env:
        return Path(env)
    local = PACKAGE_ROOT / "apidoc"
    if (local / "sources.json").exists():
        return local
    return Path.home() / ".local" / "share" / "pvegateway" / "apidoc"


def manifest(directory: Path | None = None, *, local_imports: bool = True) -> dict[str, Any]:
    """The pinned versions (``sources.json``) plus, unless told not to, the locally imported ones
    (``local.json``, not tracked)."""
    directory = directory or apidoc_dir()
    data: dict[str, Any] = {"default": "9.2", "versions": {}}
    path = directory / "sources.json"
    if path.exists():
        data = json.loads(path.read_text())
    local = directory / LOCAL_MANIFEST
    if local_imports and local.exists():
        data.setdefault("versions", {}).update(json.loads(local.read_text()).get("versions", {}))
    return data


def tree_from_text(text: str) -> list[Any]:
    """The tree from either the JSON itself or a raw ``apidoc.js`` (``const apiSchema = [...];``)."""
    stripped = text.lstrip()
    if stripped.startswith("["):
        decoded = json.loads(stripped)
    else:
        start = text.find(_JS_PREFIX)
        if start < 0:
            raise SchemaError("neither a JSON tree nor an apidoc.js with 'const apiSchema = [...]'")
        decoded, _end = json.JSONDecoder().raw_decode(text, start + len(_JS_PREFIX))
    if not isinstance(decoded, list):
        raise SchemaError("the schema is not a list of tree nodes")
    return decoded


def json_from_apidoc_js(raw: bytes) -> bytes:
    """The JSON literal inside ``apidoc.js`` as the exact bytes it was written with."""
    text = raw.decode("utf-8")
    start = text.find(_JS_PREFIX)
    if start < 0:
        return raw
    _decoded, end = json.JSONDecoder().raw_decode(text, start + len(_JS_PREFIX))
    stop = end
    while stop < len(text) and text[stop].isspace():
        stop += 1
    if stop < len(text) and text[stop] == ";":
        end = stop  # whitespace up to the statement's ';' belongs to the literal as written
    return text[start + len(_JS_PREFIX):end].encode("utf-8")


@dataclass(frozen=True, slots=True)
class Resolved:
    name: str
    path: Path


def schema_bytes(raw: bytes) -> bytes:
    """The JSON tree inside ``raw`` (a tree or an ``apidoc.js``) as written, checked to be a non-empty
    tree of API paths; ``SchemaError`` says why not. For schemas fetched from elsewhere."""
    try:
        data = json_from_apidoc_js(raw)
        tree = tree_from_text(data.decode("utf-8"))
    except (SchemaError, ValueError) as err:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise SchemaError(f"not an apidoc schema ({str(err).splitlines()[0]})") from None
    except RecursionError:  # JSON nested deeper than the decoder goes: no PVE tree is
        raise SchemaError("not an apidoc schema (nested too deeply)") from None
    if not tree or not all(isinstance(node, dict) and "path" in node for node in tree):
        raise SchemaError("not an apidoc schema (no tree of API paths)")
    return data


def resolve(apidoc: str | os.PathLike[str] | None) -> Resolved:
    """A version name from the manifest, or a path to a JSON tree or apidoc.js."""
    directory = apidoc_dir()
    info = manifest(directory)
    name = str(apidoc) if apidoc is not None else str(info.get("default", "9.2"))
    version = info.get("versions", {}).get(name)
    if version is not None:
        path = directory / version["file"]
        if not path.exists():
            raise SchemaError(f"schema {name} is not installed at {path}: run 'make install' "
                              f"or 'pvegateway apidoc install'")
        return Resolved(name, path)
    path = Path(name).expanduser()
    if path.exists():
        return Resolved(path.stem.removeprefix("pve-"), path)
    known = ", ".join(sorted(info.get("versions", {}))) or "none"
    raise SchemaError(f"unknown schema {name!r}: not a file and not a known version (known: {known})")


def load_tree(resolved: Resolved) -> list[Any]:
    try:
        return tree_from_text(resolved.path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise SchemaError(f"cannot read schema {resolved.path}: {err}") from None


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def fetch(url: str, *, timeout: float = 60.0) -> bytes:
    if not url.startswith(("https://", "http://")):
        raise SchemaError(f"refusing to fetch {url!r}: only http(s) URLs")
    import urllib.request  # here: every start loads a schema, few download one (it costs a start ~50 ms)

    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310  # nosec B310 # scheme checked above
        return bytes(response.read())


def install(mirror: Path | None, *, directory: Path | None = None, log: Any = print) -> list[str]:
    """Install every pinned version: from ``mirror`` when it has the file, else from upstream."""
    directory = directory or apidoc_dir()
    info = manifest(directory, local_imports=False)  # imported versions have nothing to install from
    installed: list[str] = []
    problems: list[str] = []
    for name, version in info.get("versions", {}).items():
        target = directory / version["file"]
        want = version["sha256"]
        if target.exists() and sha256(target.read_bytes()) == want:
            log(f"apidoc {name}: already installed ({target})")
            installed.append(name)
            continue
        try:
            data = _obtain(name, version, mirror)
        except SchemaError as err:
            problems.append(str(err))
            continue
        got = sha256(data)
        if got != want:
            problems.append(f"apidoc {name}: sha256 mismatch (got {got}, pinned {want})")
            continue
        write_atomic(target, data)
        log(f"apidoc {name}: installed {target}")
        installed.append(name)
    if problems:
        raise SchemaError("\n".join(problems))
    return installed


def _obtain(name: str, version: dict[str, Any], mirror: Path | None) -> bytes:
    local = mirror / str(version["file"]) if mirror is not None else None
    if local is not None and local.exists():
        return local.read_bytes()
    upstream = version.get("upstream")
    if not upstream:
        where = f"mirror {mirror}" if mirror else "no mirror given"
        raise SchemaError(f"apidoc {name}: {version['file']} not found ({where}) and no public upstream; "
                          f"set APIDOC_MIRROR to a directory holding it, or import it from a node")
    try:
        raw = fetch(upstream["url"])
    except (OSError, SchemaError) as err:
        raise SchemaError(f"apidoc {name}: download from {upstream['url']} failed: {err}") from None
    if upstream.get("sha256") and sha256(raw) != upstream["sha256"]:
        raise SchemaError(f"apidoc {name}: upstream file changed (sha256 {sha256(raw)})")
    return json_from_apidoc_js(raw) if upstream.get("kind") == "apidoc.js" else raw


def import_schema(source: str, version: str, *, directory: Path | None = None) -> Path:
    """``pvegateway apidoc import``: a JSON tree or apidoc.js, from a file or URL, saved as VERSION."""
    directory = directory or apidoc_dir()
    raw = fetch(source) if source.startswith(("http://", "https://")) else Path(source).read_bytes()
    data = json_from_apidoc_js(raw)
    tree_from_text(data.decode("utf-8"))  # refuse anything that is not a tree
    target = directory / f"pve-{version}.json"
    write_atomic(target, data)
    local_path = directory / LOCAL_MANIFEST
    local: dict[str, Any] = json.loads(local_path.read_text()) if local_path.exists() else {}
    local.setdefault("versions", {})[version] = {
        "file": target.name, "sha256": sha256(data), "upstream": None, "note": f"imported from {source}",
    }
    write_atomic(local_path, (json.dumps(local, indent=2) + "\n").encode())
    return target
