"""Mock handler: ``POST /nodes/{node}/storage/{storage}/upload`` (pve-storage ``API2/Storage/Status.pm`` upload).

PVE receives the whole file into ``/var/tmp/pveupload-*`` first (the HTTP server does, before any handler
runs), then the handler checks the storage and the file name, and an ``imgcopy`` worker verifies the
checksum and copies the file into the storage's directory. The mock keeps that order and those messages,
with the file itself reduced to what the cluster state needs: its size (and digest, when asked for).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable

from ....errors import PVEError
from ...base import Call
from ..runtime import Mock, user_of
from ..state import Storage, Volume
from . import _filepart
from . import _metrics as m
from . import _storage_config as cfg

# Storage.pm: $ISO_EXT_RE_0, $VZTMPL_EXT_RE_1, $SAFE_CHAR_CLASS_RE + $UPLOAD_IMPORT_EXT_RE_1
_ISO = re.compile(r"[^/]+\.(?:iso|img)$", re.IGNORECASE)
_VZTMPL = re.compile(r"[^/]+\.tar\.(gz|xz|zst|bz2)$", re.IGNORECASE)
_IMPORT = re.compile(r"[a-zA-Z0-9\-.+=_]+\.(ova|qcow2|raw|vmdk)$")
_MOUNTED = {"nfs", "cifs", "glusterfs", "cephfs"}  # path defaults to /mnt/pve/<storage>
SUBDIR = {"iso": "template/iso", "vztmpl": "template/cache", "import": "import"}


def directory(storage: Storage) -> str:
    """The storage's ``path``; a storage without one (LVM, ZFS, RBD, ...) takes no uploads."""
    path = storage.config.get("path")
    if path is None and storage.type in _MOUNTED:
        path = f"/mnt/pve/{storage.storage}"
    if path is None:
        raise PVEError(500, f"can't upload to storage type '{storage.type}'\n")
    return str(path)


def normalize(filename: str) -> str:
    """``PVE::Storage::normalize_content_filename``: no directories, and only ``[a-zA-Z0-9_.-]``."""
    name = filename.removesuffix("\n")
    name = re.sub(r"^.*[/\\]", "", name)
    return re.sub(r"[^a-zA-Z0-9_.-]", "_", name)


def file_format(content: str, filename: str) -> str:
    """The volume's format as the content listing shows it; PVE's exact extension checks and messages."""
    if content == "iso":
        if not _ISO.search(filename):
            raise PVEError.params({"filename": "wrong file extension"})
        return "iso"
    if content == "vztmpl":
        match = _VZTMPL.search(filename)
        if match is None:
            raise PVEError.params({"filename": "wrong file extension"})
        return "t" + match.group(1).lower()
    if content == "import":
        match = _IMPORT.search(filename)
        if match is None:
            raise PVEError.params({"filename": "invalid filename or wrong extension"})
        return match.group(1)
    raise PVEError.params({"content": f"upload content type '{content}' not allowed"})


def _target(mock: Mock, call: Call) -> tuple[str, Storage, str, str, str]:
    """Node, storage, content, format and destination path, checked in the handler's order."""
    params = call.params
    storage = cfg.lookup(mock, str(params["storage"]))
    node = str(params["node"])
    if not m.storage_enabled(storage):
        raise PVEError(500, f"storage '{storage.storage}' is disabled\n")
    if not storage.available_on(node):
        raise PVEError(500, f"storage '{storage.storage}' is not available on node '{node}'\n")
    base = directory(storage)
    if call.upload is None:  # no multipart body: the HTTP server made no temporary file
        raise PVEError(500, "missing temporary file name\n")
    content = str(params["content"])
    filename = normalize(str(params["filename"]))
    fmt = file_format(content, filename)
    if content not in storage.content:
        raise PVEError(500, f"storage '{storage.storage}' does not support '{content}' content\n")
    mock.node(node)  # a node that is not the local one is reached by its address (remote_node_ip)
    return node, storage, content, fmt, f"{base}/{SUBDIR[content]}/{filename}"


def _checksum_failure(call: Call, got: str | None, log: list[str]) -> str | None:
    algorithm = call.params.get("checksum-algorithm")
    if not algorithm:
        return None
    expected = str(call.params.get("checksum") or "")
    if got is not None and got.lower() == expected.lower():
        log.append("calculating checksum...OK, checksum verified")
        return None
    log.append("calculating checksum...")  # PVE prints a bare newline so the error is the last line
    return f"checksum mismatch: got '{got}' != expect '{expected}'"


def _adder(storage: Storage, node: str, volume: Volume) -> Callable[[], None]:
    def add() -> None:
        storage.bucket(node)[volume.volid] = volume  # PVE overwrites an existing file of that name

    return add


async def upload(mock: Mock, call: Call) -> str:
    """Receive the file, then check and answer like PVE: a UPID, or an error that changes nothing."""
    algorithm = call.params.get("checksum-algorithm")
    received = None
    if call.upload is not None:  # the whole body first, as pve-http-server does; nothing changes meanwhile
        received = await _filepart.receive(call.upload, str(algorithm) if algorithm else None)
    node, storage, content, fmt, dest = _target(mock, call)
    assert received is not None  # nosec B101 # narrowing: _target refuses a call without an upload
    tmpfile = f"/var/tmp/pveupload-{secrets.token_hex(16)}"  # noqa: S108  # nosec B108 # a name PVE logs, never opened
    log = [f"starting file import from: {tmpfile}"]
    error = _checksum_failure(call, received.digest, log)
    finish: Callable[[], None] | None = None
    if error is None:
        command = f"cp -- {tmpfile} {dest}"
        log += [f"target node: {node}", f"target file: {dest}", f"file size is: {received.size}",
                f"command: {command}"]
        volid = f"{storage.storage}:{content}/{dest.rsplit('/', 1)[1]}"
        bucket = storage.bucket(node)
        replaced = bucket[volid].size if volid in bucket else 0
        if storage.used(node) - replaced + received.size > storage.total:
            error = f"import failed: command '{command}' failed: exit code 1"
        else:
            log.append("finished file import successfully")
            volume = Volume(volid=volid, storage=storage.storage, node=node, content=content,
                            size=received.size, format=fmt, ctime=mock.clock.now())
            finish = _adder(storage, node, volume)
    return mock.tasks.start(node, "imgcopy", "", user_of(call), finish=finish, log=log, error=error)
