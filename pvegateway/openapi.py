"""OpenAPI 3.1 document of a loaded apidoc tree, and the docs pages that show it.

The document is built once per gateway (``routes`` is called at startup) and ``/openapi.json`` serves
the pre-encoded bytes. PVE's JSON-schema dialect is converted to JSON Schema 2020-12; what JSON Schema
cannot say (PVE formats, property strings, Perl regexes) is kept in ``x-pve-*`` keys.
"""

from __future__ import annotations

import copy
import hashlib
import html
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from . import docs_assets
from .schema.perl import truthy

if TYPE_CHECKING:
    from .apidoc.operation import Operation
    from .app import Schema

JSONDict = dict[str, Any]

SERVER_URL = "/api2/json"

TAG_DESCRIPTIONS: Mapping[str, str] = {
    "access": "Authentication (tickets), users, groups, roles, ACLs, realms, API tokens and TFA.",
    "cluster": "Cluster-wide configuration and state: resources, backup jobs, HA, firewall, SDN, "
    "replication, notifications, mappings, ACME, Ceph flags and options.",
    "nodes": "Per-node operations: QEMU VMs, LXC containers, storage content, network, tasks, "
    "services, disks, Ceph, APT, certificates and more.",
    "pools": "Resource pools.",
    "storage": "Datacenter storage configuration.",
    "version": "API version information.",
}

_SCALAR_TYPES = frozenset(("string", "integer", "number", "array", "object", "null"))
_NUMERIC_KEYS = frozenset(("minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems"))
# PVE keys kept as they are or under an ``x-pve-`` name (string values only).
_RENAMED: Mapping[str, str] = {
    "description": "description",
    "title": "title",
    "typetext": "x-pve-typetext",
    "pattern": "x-pve-pattern",
    "format_description": "x-pve-format-description",
    "alias": "x-pve-alias",
    "keyAlias": "x-pve-key-alias",
    "requires": "x-pve-requires",
    "type-property": "x-pve-type-property",
}
_SKIPPED = frozenset(("type", "optional", "verbose_description"))
_NUMBER = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$")
_ID_CHARS = re.compile(r"[^A-Za-z0-9]+")
_WRITE_METHODS = frozenset(("POST", "PUT", "DELETE"))
_UPLOAD = re.compile(r"^/nodes/\{node\}/storage/\{storage\}/upload$")

_COOKIE = "PVEAuthCookie"
_TOKEN = "PVEAPIToken"  # noqa: S105 (a scheme name, not a secret)
_CSRF = "CSRFPreventionToken"

SECURITY_SCHEMES: Mapping[str, JSONDict] = {
    _COOKIE: {
        "type": "apiKey",
        "in": "cookie",
        "name": "PVEAuthCookie",
        "description": "The `ticket` returned by `POST /access/ticket` (valid for 2 hours). Browsers "
        "cannot send this cookie from the docs page; use an API token for \"Try it out\".",
    },
    _TOKEN: {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "API token: the header value is `PVEAPIToken=USER@REALM!TOKENID=SECRET`, e.g. "
        "`PVEAPIToken=root@pam!monitoring=aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee`. No CSRF token needed.",
    },
    _CSRF: {
        "type": "apiKey",
        "in": "header",
        "name": "CSRFPreventionToken",
        "description": "The `CSRFPreventionToken` returned by `POST /access/ticket`; required with "
        "ticket (cookie) authentication for POST, PUT and DELETE.",
    },
}

_READ_SECURITY: list[JSONDict] = [{_COOKIE: []}, {_TOKEN: []}]

_ERROR_SCHEMA: JSONDict = {
    "type": "object",
    "description": "PVE error envelope. `message` usually ends in a newline.",
    "properties": {
        "data": {"type": "null"},
        "message": {"type": "string"},
        "errors": {
            "type": "object",
            "description": "Per-parameter messages (`name`, `name.key` or `name[0]`).",
            "additionalProperties": {"type": "string"},
        },
    },
    "required": ["data", "message"],
}


def _error_response(description: str, example: JSONDict | None = None) -> JSONDict:
    media: JSONDict = {"schema": {"$ref": "#/components/schemas/Error"}}
    if example is not None:
        media["example"] = example
    return {"description": description, "content": {"application/json": media}}


RESPONSES: Mapping[str, JSONDict] = {
    "BadRequest": _error_response(
        "Parameter verification failed; `errors` maps each parameter to its message.",
        {
            "data": None,
            "message": "Parameter verification failed.\n",
            "errors": {"vmid": "type check ('integer') failed - got 'abc'"},
        },
    ),
    "Unauthorized": {
        "description": "No or invalid credentials (`No ticket`, `Authentication failed!`, "
        "`Permission denied - invalid csrf token`). The body is empty: the reason is in the status "
        "line. PVE delays this answer by 3 seconds.",
    },
    "LoginFailed": _error_response(
        "Authentication failure (answered after 3 seconds).",
        {"data": None, "message": "authentication failure\n"},
    ),
    "Forbidden": _error_response(
        "Permission check failed.",
        {"data": None, "message": "Permission check failed (/vms/100, VM.Audit)\n"},
    ),
    "InternalServerError": _error_response(
        "The handler failed (e.g. the resource does not exist or is in the wrong state). Errors "
        "raised outside the handler have a plain-text body instead.",
        {"data": None, "message": "Configuration file 'nodes/pve/qemu-server/999.conf' does not exist\n"},
    ),
    "NotImplemented": _error_response(
        "No such method for this path.",
        {"data": None, "message": "Method 'GET /foo' not implemented"},
    ),
}


def _number(value: Any) -> int | float | None:
    """``minimum`` and friends as JSON numbers (the tree sometimes has them as strings)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return value
    if isinstance(value, str) and _NUMBER.match(value.strip()):
        text = value.strip()
        number = float(text)
        if number.is_integer() and re.fullmatch(r"[+-]?\d+", text):
            return int(text)
        return number
    return None


def _plain(value: Any) -> Any:
    """A JSON-encodable deep copy: the document shares nothing with the operations."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


class _Converter:
    """PVE dialect -> JSON Schema 2020-12, memoised by the identity of the source mapping.

    The expanded ``net0`` .. ``net31`` keys share one source schema, so they share one result too.
    Results are shared between places in the document: never mutate one after it was returned.
    """

    def __init__(self) -> None:
        self._memo: dict[int, JSONDict] = {}
        self._keep: list[Mapping[str, Any]] = []

    def convert(self, source: Any) -> JSONDict:
        if not _is_mapping(source):
            return {}
        key = id(source)
        cached = self._memo.get(key)
        if cached is not None:
            return cached
        result = self._convert(source)
        self._memo[key] = result
        self._keep.append(source)  # keeps the id unique for the converter's lifetime
        return result

    def _convert(self, s: Mapping[str, Any], property_key: bool = False) -> JSONDict:
        out: JSONDict = {}
        pve_type = s.get("type")
        is_bool = pve_type == "boolean"
        if is_bool:
            out["type"] = "integer"
            out["enum"] = [0, 1]
            out["x-pve-type"] = "boolean"
        elif isinstance(pve_type, str) and pve_type in _SCALAR_TYPES:
            out["type"] = pve_type
        elif isinstance(pve_type, str) and "|" in pve_type:
            types = [t for t in pve_type.split("|") if t in _SCALAR_TYPES]
            if types:
                out["type"] = types
        # "any" or missing: no type constraint
        out_type = out.get("type")
        default: Any = None
        for key, value in s.items():
            if key in _SKIPPED:
                continue
            renamed = _RENAMED.get(key)
            if renamed is not None:
                if value and isinstance(value, str):
                    out[renamed] = value
            elif key == "format":
                if _is_mapping(value):
                    out["x-pve-property-string"] = {
                        str(k): self._convert(v, True) if _is_mapping(v) else {} for k, v in value.items()
                    }
                elif value and isinstance(value, str):
                    out["x-pve-format"] = value
            elif key == "default":
                default = value
            elif key in _NUMERIC_KEYS:
                number = _number(value)
                if number is not None:
                    out[key] = number
            elif key == "enum":
                if isinstance(value, list) and not is_bool:
                    values = [_coerce(out_type, v) for v in value if v is not None]
                    if values:
                        out["enum"] = values
            elif key == "items":
                if _is_mapping(value):
                    out["items"] = self.convert(value)
            elif key == "properties":
                if _is_mapping(value):
                    out["properties"] = {str(k): self.convert(v) for k, v in value.items()}
                    required = [str(k) for k, v in value.items() if _required(v)]
                    if required:
                        out["required"] = required
            elif key == "additionalProperties":
                out[key] = self.convert(value) if _is_mapping(value) else truthy(value)
            elif key == "default_key":
                if truthy(value):
                    out["x-pve-default-key"] = True
            elif key == "oneOf":
                # The variants overlap (they differ by the value of a sibling property), so anyOf.
                if isinstance(value, list) and value:
                    out["anyOf"] = [self.convert(v) for v in value]
            elif key == "instance-types" and isinstance(value, list):
                out["x-pve-instance-types"] = [str(v) for v in value]
            # any other key is PVE-internal (GUI hints, links, typos): dropped
        if default is not None:
            default = _coerce("boolean" if is_bool else out_type, default)
            # OpenAPI tools check defaults against the schema; PVE sometimes documents them in prose.
            out["default" if _default_fits(out, default) else "x-pve-default"] = default
        if property_key and _required(s):
            out["x-pve-required"] = True
        return out


def _is_mapping(value: Any) -> bool:
    return isinstance(value, dict) or isinstance(value, Mapping)  # noqa: SIM101 (dict: fast path)


def _required(schema: Any) -> bool:
    """PVE reports a missing value unless it is optional, an alias, in a group, oneOf or null."""
    if not _is_mapping(schema) or schema.get("type") == "null" or "oneOf" in schema:
        return False
    return not (truthy(schema.get("optional")) or truthy(schema.get("alias")) or truthy(schema.get("group")))


def _coerce(json_type: Any, value: Any) -> Any:
    """An ``enum`` or ``default`` value in the JSON type of its schema."""
    if json_type == "boolean":
        return 1 if truthy(value) else 0
    if json_type in ("integer", "number"):
        number = _number(value)
        return value if number is None else number
    if json_type == "string" and isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


def _default_fits(schema: JSONDict, value: Any) -> bool:
    """Whether ``value`` satisfies the keywords of ``schema`` that a default could break."""
    json_type = schema.get("type")
    if isinstance(json_type, str) and not _TYPE_CHECKS[json_type](value):
        return False
    if "enum" in schema and value not in schema["enum"]:
        return False
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            return False
        if "maximum" in schema and value > schema["maximum"]:
            return False
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            return False
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            return False
    return True


_TYPE_CHECKS: Mapping[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
    "null": lambda v: v is None,
}


def _operation_id(op: Operation) -> str:
    words = [_ID_CHARS.sub("_", segment.strip("{}")).strip("_") for segment in op.path.split("/")]
    return "_".join([op.method.lower(), *[w for w in words if w]]).lower()


def _summary(description: str) -> str:
    first = description.strip().split("\n", 1)[0].strip()
    return first if len(first) <= 120 else first[:117].rstrip() + "..."


def _tag(op: Operation) -> str:
    segments = [s for s in op.path.split("/") if s]
    return segments[0] if segments else "root"


def _security(op: Operation) -> list[JSONDict] | None:
    """Operation-level ``security`` (None: the document's default applies)."""
    if op.is_open:
        return []
    token: list[JSONDict] = [{_TOKEN: []}] if op.allowtoken else []
    if op.method in _WRITE_METHODS and not _UPLOAD.match(op.path):
        return [{_COOKIE: [], _CSRF: []}, *token]
    return None if token else [{_COOKIE: []}]


def _without_description(schema: JSONDict) -> JSONDict:
    if "description" not in schema:
        return schema
    return {k: v for k, v in schema.items() if k != "description"}


class _Builder:
    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.convert = _Converter().convert
        self.body_schemas: JSONDict = {}
        self.used_ids: set[str] = set()
        self.shared_schemas: JSONDict = {}
        self.refs_by_id: dict[int, JSONDict] = {}
        self.refs_by_content: dict[str, JSONDict] = {}

    def build(self) -> JSONDict:
        paths: JSONDict = {}
        tags: dict[str, None] = {}
        for op in self.schema.operations:
            tag = _tag(op)
            tags[tag] = None
            paths.setdefault(op.path, {})[op.method.lower()] = self.operation(op, tag)
        return {
            "openapi": "3.1.0",
            "info": {
                "title": "Proxmox VE API",
                "version": self.schema.version,
                "description": (
                    f"The Proxmox VE {self.schema.version} API as served by pvegateway, generated from "
                    "PVE's own apidoc schema.\n\n"
                    "Authenticate with an API token (`Authorization: PVEAPIToken=USER@REALM!TOKENID="
                    "SECRET`) or with the ticket and CSRF token from `POST /access/ticket`.\n\n"
                    "PVE accepts booleans only as `0`/`1` (`x-pve-type: boolean`). `x-pve-format` names "
                    "a PVE format, `x-pve-property-string` describes the keys of a `key=value,...` "
                    "string and `x-pve-pattern` is a Perl regex anchored at both ends."
                ),
            },
            "servers": [{"url": SERVER_URL}],
            "tags": [
                {"name": t, "description": TAG_DESCRIPTIONS.get(t, f"/{t}")} for t in sorted(tags)
            ],
            "security": copy.deepcopy(_READ_SECURITY),
            "paths": paths,
            "components": {
                "securitySchemes": copy.deepcopy(dict(SECURITY_SCHEMES)),
                "responses": copy.deepcopy(dict(RESPONSES)),
                "schemas": {
                    "Error": copy.deepcopy(_ERROR_SCHEMA),
                    **self.shared_schemas,
                    **self.body_schemas,
                },
            },
        }

    def unique_id(self, op: Operation) -> str:
        base = _operation_id(op)
        candidate, n = base, 2
        while candidate in self.used_ids:
            candidate, n = f"{base}_{n}", n + 1
        self.used_ids.add(candidate)
        return candidate

    def operation(self, op: Operation, tag: str) -> JSONDict:
        op_id = self.unique_id(op)
        out: JSONDict = {"tags": [tag], "operationId": op_id}
        if op.description:
            out["summary"] = _summary(op.description)
            if op.description.strip() != out["summary"]:
                out["description"] = op.description
        props: Mapping[str, Any] = op.parameters.get("properties") or {}
        parameters = [self.path_parameter(op, name, props.get(name)) for name in op.path_params]
        rest = {k: v for k, v in props.items() if k not in op.path_params}
        if op.method in ("GET", "DELETE"):
            parameters.extend(self.query_parameter(k, v) for k, v in rest.items())
        else:
            body = self.request_body(op, op_id, rest)
            if body is not None:
                out["requestBody"] = body
        if parameters:
            out["parameters"] = parameters
        out["responses"] = self.responses(op)
        security = _security(op)
        if security is not None:
            out["security"] = security
        out["x-pve-name"] = op.name
        if op.permissions is not None:
            out["x-pve-permissions"] = _plain(op.permissions)
        out["x-pve-protected"] = op.protected
        if op.proxyto:
            out["x-pve-proxyto"] = op.proxyto
        out["x-pve-allowtoken"] = op.allowtoken
        return out

    def path_parameter(self, op: Operation, name: str, source: Any) -> JSONDict:
        schema = self.convert(source) if isinstance(source, Mapping) else {"type": "string"}
        param: JSONDict = {"name": name, "in": "path", "required": True}
        description = schema.get("description")
        if name == op.greedy_param:
            note = "May contain `/` (the rest of the path)."
            description = f"{description.rstrip('.')}. {note}" if description else note
            param["x-pve-greedy"] = True
        if description:
            param["description"] = description
        param["schema"] = _without_description(schema)
        return param

    def query_parameter(self, name: str, source: Any) -> JSONDict:
        schema = self.convert(source)
        param: JSONDict = {"name": name, "in": "query"}
        if _required(source):
            param["required"] = True
        if "description" in schema:
            param["description"] = schema["description"]
        param["schema"] = _without_description(schema)
        return param

    def request_body(self, op: Operation, op_id: str, props: Mapping[str, Any]) -> JSONDict | None:
        top = op.parameters
        extra = top.get("additionalProperties", True)
        allows_extra = truthy(extra) if not isinstance(extra, Mapping) else True
        if not props and not allows_extra:
            return None
        body: JSONDict = {"type": "object"}
        if props:
            body["properties"] = self.body_properties(op, props)
            required = [k for k, v in props.items() if _required(v)]
            if required:
                body["required"] = required
        if "additionalProperties" in top:
            body["additionalProperties"] = (
                self.convert(extra) if isinstance(extra, Mapping) else truthy(extra)
            )
        name = f"{op_id}_body"
        self.body_schemas[name] = body
        ref = {"schema": {"$ref": f"#/components/schemas/{name}"}}
        return {
            "required": "required" in body,
            "content": {"application/x-www-form-urlencoded": ref, "application/json": ref},
        }

    def body_properties(self, op: Operation, props: Mapping[str, Any]) -> JSONDict:
        """Converted properties; the expanded ``net0`` .. ``net31`` refer to one shared component."""
        seen: dict[int, int] = {}
        for value in props.values():
            seen[id(value)] = seen.get(id(value), 0) + 1
        out: JSONDict = {}
        for key, value in props.items():
            converted = self.convert(value)
            out[key] = self.shared_ref(op, key, converted) if seen[id(value)] > 1 else converted
        return out

    def shared_ref(self, op: Operation, key: str, converted: JSONDict) -> JSONDict:
        ref = self.refs_by_id.get(id(converted))
        if ref is not None:
            return ref
        content = json.dumps(converted, sort_keys=True)
        ref = self.refs_by_content.get(content)
        if ref is None:
            segments = [s for s in op.path.split("/") if s]
            after_node = segments.index("{node}") + 1 if "{node}" in segments else 0
            context = segments[after_node] if after_node < len(segments) else segments[0]
            base = f"{_ID_CHARS.sub('_', context)}.{_ID_CHARS.sub('_', key.rstrip('0123456789'))}"
            name, n = base, 2
            while name in self.shared_schemas:
                name, n = f"{base}_{n}", n + 1
            self.shared_schemas[name] = converted
            ref = {"$ref": f"#/components/schemas/{name}"}
            self.refs_by_content[content] = ref
        self.refs_by_id[id(converted)] = ref
        return ref

    def responses(self, op: Operation) -> JSONDict:
        returns = self.convert(op.returns) if op.returns else {}
        envelope: JSONDict = {"data": returns}
        if returns.get("type") == "array":
            envelope["total"] = {
                "type": "integer",
                "description": "Total number of entries (sent by some list calls, omitted when 0).",
            }
        if op.method == "GET" and op.path == "/nodes/{node}/network":
            envelope["changes"] = {
                "type": "string",
                "description": "Diff of the pending network configuration (omitted when empty).",
            }
        out: JSONDict = {
            "200": {
                "description": "Success.",
                "content": {
                    "application/json": {
                        "schema": {"type": "object", "properties": envelope, "required": ["data"]}
                    }
                },
            },
            "400": {"$ref": "#/components/responses/BadRequest"},
        }
        if op.is_open:
            out["401"] = {"$ref": "#/components/responses/LoginFailed"}
        else:
            out["401"] = {"$ref": "#/components/responses/Unauthorized"}
            out["403"] = {"$ref": "#/components/responses/Forbidden"}
        out["500"] = {"$ref": "#/components/responses/InternalServerError"}
        out["501"] = {"$ref": "#/components/responses/NotImplemented"}
        return out


def build_document(schema: Schema) -> dict[str, Any]:
    """The OpenAPI 3.1.0 document of every operation of ``schema``."""
    return _Builder(schema).build()


def encode_document(document: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON, as served."""
    return encode_document_part(document)


# --- serving -----------------------------------------------------------------------------------


class OpenAPIEndpoint:
    """ASGI endpoint of ``/openapi.json``: the document is built and encoded once, on first use.

    Building it costs ~0.1-0.2 s, which would double the gateway's startup; most deployments never
    ask for it, and once built every request is answered from the cached bytes. Under a
    ``root_path`` the server URL gets the prefix: the encoded bytes are patched (no re-encoding),
    once per prefix.
    """

    MAX_PREFIXES = 8

    def __init__(self, schema: Schema) -> None:
        self._schema = schema
        self._document: dict[str, Any] | None = None
        self.build_seconds = 0.0
        self.body = b""
        self.etag = ""
        self._servers = _servers_json(SERVER_URL)
        self._prefixed: dict[str, tuple[bytes, str]] = {}

    @property
    def document(self) -> dict[str, Any]:
        if self._document is None:
            started = time.perf_counter()
            self._document = build_document(self._schema)
            self.build_seconds = time.perf_counter() - started
            self.body = encode_document(self._document)
            self.etag = _etag(self.body)
            if self.body.count(self._servers) != 1:  # pragma: no cover - guarded by build_document
                raise RuntimeError("servers entry not found in the encoded document")
        return self._document

    def body_for(self, root_path: str) -> tuple[bytes, str]:
        """The encoded document and its ETag for a deployment under ``root_path``."""
        self.document  # noqa: B018 - builds the document on first use
        root = root_path.rstrip("/")
        if not root:
            return self.body, self.etag
        cached = self._prefixed.get(root)
        if cached is None:
            body = self.body.replace(self._servers, _servers_json(root + SERVER_URL), 1)
            cached = (body, _etag(body))
            if len(self._prefixed) < self.MAX_PREFIXES:
                self._prefixed[root] = cached
        return cached

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body, etag = self.body_for(str(scope.get("root_path", "")))
        headers = {"ETag": etag, "Cache-Control": "no-cache"}
        request_headers = dict(scope.get("headers") or [])
        if request_headers.get(b"if-none-match", b"").decode("latin-1") == etag:
            response = Response(status_code=304, headers=headers)
        else:
            response = Response(body, media_type="application/json", headers=headers)
        await response(scope, receive, send)


def _servers_json(url: str) -> bytes:
    return b'"servers":' + encode_document_part([{"url": url}])


def encode_document_part(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _etag(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


_SWAGGER_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - Swagger UI</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css{v}">
<link rel="icon" type="image/png" sizes="32x32" href="{assets}/favicon-32x32.png{v}">
<link rel="icon" type="image/png" sizes="16x16" href="{assets}/favicon-16x16.png{v}">
<style>body {{ margin: 0; }}</style>
</head>
<body>
<div id="swagger-ui"></div>
<script src="{assets}/swagger-ui-bundle.js{v}"></script>
<script src="{assets}/swagger-ui-standalone-preset.js{v}"></script>
<script>
window.ui = SwaggerUIBundle({{
  url: {spec_url},
  dom_id: "#swagger-ui",
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  plugins: [SwaggerUIBundle.plugins.DownloadUrl],
  layout: "StandaloneLayout",
  deepLinking: true,
  docExpansion: "none",
  defaultModelsExpandDepth: -1,
  filter: true,
  persistAuthorization: true,
  tryItOutEnabled: false,
  displayRequestDuration: true,
  validatorUrl: null
}});
</script>
</body>
</html>
"""

_REDOC_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - ReDoc</title>
<link rel="icon" type="image/png" sizes="32x32" href="{assets}/favicon-32x32.png{v}">
<style>body {{ margin: 0; padding: 0; }}</style>
</head>
<body>
<div id="redoc"></div>
<script src="{assets}/redoc.standalone.js{v}"></script>
<script>
Redoc.init({spec_url}, {{ hideHostname: false, jsonSampleExpandLevel: 2 }}, document.getElementById("redoc"));
</script>
</body>
</html>
"""

_ASSETS_MISSING = (
    "The documentation assets ({missing}) are not installed.\n"
    "Run `make install` (or `python -m pvegateway.docs_assets install`) and reload this page.\n"
    "The OpenAPI document itself is available at {spec}.\n"
)


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def _js_string(text: str) -> str:
    """A JavaScript string literal that is safe inside a <script> element."""
    return json.dumps(text).replace("</", "<\\/")


class DocsPages:
    """``/docs``, ``/redoc`` and ``/docs/assets/{name}``, served from ``docs_assets.VENDOR_DIR``."""

    def __init__(self, title: str, vendor_dir: Path | None = None) -> None:
        self.title = title
        self.vendor_dir = vendor_dir if vendor_dir is not None else docs_assets.VENDOR_DIR

    def _missing(self, names: Sequence[str]) -> list[str]:
        return [name for name in names if not (self.vendor_dir / name).is_file()]

    def _page(self, request: Request, template: str, needs: Sequence[str]) -> Response:
        root = _root(request)
        missing = self._missing(needs)
        if missing:
            text = _ASSETS_MISSING.format(missing=", ".join(missing), spec=f"{root}/openapi.json")
            return PlainTextResponse(text, status_code=503, headers={"Cache-Control": "no-store"})
        page = template.format(
            title=html.escape(self.title),
            assets=html.escape(f"{root}/docs/assets"),
            v=html.escape(f"?v={docs_assets.ASSETS_VERSION}"),
            spec_url=_js_string(f"{root}/openapi.json"),
        )
        return HTMLResponse(page, headers={"Cache-Control": "no-cache"})

    async def swagger(self, request: Request) -> Response:
        return self._page(request, _SWAGGER_PAGE, docs_assets.SWAGGER_FILES)

    async def redoc(self, request: Request) -> Response:
        return self._page(request, _REDOC_PAGE, docs_assets.REDOC_FILES)

    async def asset(self, request: Request) -> Response:
        name = str(request.path_params["name"])
        media_type = docs_assets.ASSETS.get(name)
        path = self.vendor_dir / name
        if media_type is None:
            return PlainTextResponse("no such asset\n", status_code=404)
        if not path.is_file():
            return PlainTextResponse(
                f"{name} is not installed: run `make install`\n", status_code=404
            )
        return FileResponse(
            path, media_type=media_type, headers={"Cache-Control": "public, max-age=86400"}
        )


def routes(schema: Schema) -> list[Route]:
    """``/openapi.json`` (built once, on first use), ``/docs``, ``/redoc`` and their assets."""
    spec = OpenAPIEndpoint(schema)
    pages = DocsPages(f"Proxmox VE {schema.version} API")
    endpoint: Callable[..., Any] = spec
    return [
        Route("/openapi.json", endpoint, methods=["GET"], name="openapi"),
        Route("/docs", pages.swagger, methods=["GET"], name="swagger-ui"),
        Route("/redoc", pages.redoc, methods=["GET"], name="redoc"),
        Route("/docs/assets/{name}", pages.asset, methods=["GET"], name="docs-assets"),
    ]
