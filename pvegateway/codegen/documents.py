"""The generated documents of any installed schema version, built once per version and kept encoded.

A build loads the tree (when it is not the running one) and converts it: a startup's worth of CPU
(``make bench`` prints the schema load and the document build), done in a worker thread so the
gateway keeps answering meanwhile, once per (kind, version): concurrent first requests wait for the
same build. Only names from the manifest (pinned and locally imported versions)
are accepted, never paths: a ``version`` parameter must not make the gateway read arbitrary files.
"""

from __future__ import annotations

import asyncio
import os
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..apidoc.sources import apidoc_dir, manifest
from ..openapi.document import build_document, encode_document
from .opschemas import build_operation_schemas

if TYPE_CHECKING:
    from ..apidoc.schema import Schema

Builder = Callable[["Schema"], dict[str, Any]]
BUILDERS: dict[str, Builder] = {"openapi": build_document, "jsonschema": build_operation_schemas}


def installed_versions() -> dict[str, Path]:
    """Version names whose file is present: the manifest's pinned versions and local imports."""
    directory = apidoc_dir()
    found: dict[str, Path] = {}
    for name, info in manifest(directory).get("versions", {}).items():
        path = directory / str(info.get("file", ""))
        if info.get("file") and path.is_file():
            found[str(name)] = path
    return found


@dataclass(frozen=True, slots=True)
class Built:
    version: str
    body: bytes


def _file_key(path: Path | None) -> tuple[str, int, int] | None:
    """A file's identity for the cache: a re-imported version under the same name is built again."""
    if path is None:
        return None
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return str(path), stat.st_mtime_ns, stat.st_size


class Documents:
    """Encoded documents by (kind, schema file); at most ``capacity`` kept (each is megabytes)."""

    def __init__(self, running: Callable[[], Schema], capacity: int = 8) -> None:
        self._running = running
        self.capacity = capacity
        self._built: OrderedDict[tuple[Any, ...], Built] = OrderedDict()
        self._locks: dict[tuple[Any, ...], asyncio.Lock] = {}

    def known(self, version: str | None) -> bool:
        return version is None or version == self._running().version or version in installed_versions()

    def choices(self) -> list[str]:
        return sorted({self._running().version, *installed_versions()})

    async def get(self, kind: str, version: str | None) -> Built:
        """The ``kind`` document of ``version`` (None: the schema the gateway serves now)."""
        running = self._running()
        schema: Schema | None = running if version is None or version == running.version else None
        path = running.source if schema is not None else installed_versions()[str(version)]
        file_key = _file_key(path)
        key = (kind, file_key) if file_key is not None else (kind, id(running), running)
        built = self._built.get(key)
        if built is not None:
            self._built.move_to_end(key)
            return built
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            built = self._built.get(key)
            if built is None:
                built = await asyncio.to_thread(_build, BUILDERS[kind], schema, str(version))
                self._built[key] = built
                while len(self._built) > self.capacity:
                    self._built.popitem(last=False)
        self._locks.pop(key, None)
        return built


def _build(builder: Builder, schema: Schema | None, version: str) -> Built:
    from ..apidoc.schema import load_schema

    loaded = schema if schema is not None else load_schema(version)
    document = builder(loaded)
    return Built(loaded.version, encode_document(document))  # compact UTF-8 JSON, like /openapi.json
