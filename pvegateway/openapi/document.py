"""The OpenAPI 3.1 document of a loaded apidoc tree: paths, envelopes, errors, security."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..schema.perl import truthy
from .convert import Converter, is_required, plain

if TYPE_CHECKING:
    from ..apidoc.operation import Operation
    from ..apidoc.schema import Schema

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


_ID_CHARS = re.compile(r"[^A-Za-z0-9]+")
_WRITE_METHODS = frozenset(("POST", "PUT", "DELETE"))

_COOKIE = "PVEAuthCookie"
_TOKEN = "PVEAPIToken"  # noqa: S105  # nosec B105 # a scheme name, not a secret
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


# Statuses one of PVE's handlers answers besides the framework's (which every operation documents):
# pve-access-control src/PVE/API2/TFA.pm:192 raises HTTP_NOT_FOUND for an unknown entry.
HANDLER_STATUSES: Mapping[str, Mapping[str, JSONDict]] = {
    "GET /access/tfa/{userid}/{id}": {"404": _error_response(
        "No such TFA entry.", {"data": None, "message": "No such tfa entry 'recovery'"})},
}

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
    if op.method in _WRITE_METHODS and not op.is_upload:
        return [{_COOKIE: [], _CSRF: []}, *token]
    return None if token else [{_COOKIE: []}]


def _without_description(schema: JSONDict) -> JSONDict:
    if "description" not in schema:
        return schema
    return {k: v for k, v in schema.items() if k != "description"}


class _Builder:
    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.convert = Converter().convert
        self.body_schemas: JSONDict = {}
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

    def operation(self, op: Operation, tag: str) -> JSONDict:
        out: JSONDict = {"tags": [tag], "operationId": op.id}
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
            body = self.request_body(op, op.id, rest)
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
            out["x-pve-permissions"] = plain(op.permissions)
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
        if is_required(source):
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
            required = [k for k, v in props.items() if is_required(v)]
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
        extra = HANDLER_STATUSES.get(op.key)
        if extra is not None:  # in status order, as the others
            out = dict(sorted({**out, **copy.deepcopy(dict(extra))}.items()))
        return out


def build_document(schema: Schema) -> dict[str, Any]:
    """The OpenAPI 3.1.0 document of every operation of ``schema``."""
    return _Builder(schema).build()


def encode_document(document: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON, as served."""
    return encode_document_part(document)



def encode_document_part(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
