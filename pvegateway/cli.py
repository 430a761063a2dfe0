"""``pvegateway``: serve | routes | openapi | apidoc {install, import, list}."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .apidoc.sources import SchemaError, import_schema, install, manifest, sha256


def _serve(args: argparse.Namespace) -> int:
    from . import statedir
    from .app import create_app
    from .http import server

    if args.mode == "proxy":
        print("proxy mode is not available yet in this build", file=sys.stderr)
        return 2
    if args.workers != 1:
        print("pvegateway: the mock keeps its cluster in one process's memory; several workers would each "
              "get their own cluster. Run one worker (use --state FILE to keep state across restarts).",
              file=sys.stderr)
        return 2
    server.ssl_paths_ok(args.tls_cert, args.tls_key)
    state_dir = Path(args.state_dir).expanduser() if args.state_dir else statedir.default_state_dir()
    state_dir.mkdir(parents=True, exist_ok=True)
    cert, key, fingerprint = args.tls_cert, args.tls_key, None
    if not args.http and not cert:
        cert_path, key_path, fingerprint = statedir.certificate(state_dir)
        cert, key = str(cert_path), str(key_path)
    elif cert and not args.http:
        fingerprint = statedir.fingerprint(Path(cert))
    try:
        app = create_app(
            args.apidoc, "mock", send_reason=args.server == "uvicorn", seed=args.seed,
            root_password=args.root_password or os.environ.get("PVEGATEWAY_ROOT_PASSWORD"),
            secret=statedir.secret(state_dir), tasks=args.tasks, auth_delay=args.auth_delay,
            state_file=args.state,
            control_key=args.control_key or os.environ.get("PVEGATEWAY_CONTROL_KEY"),
        )
    except ValueError as err:
        print(f"pvegateway: {err}", file=sys.stderr)
        return 2
    sock = server.bind(args.host, args.port)
    scheme = "http" if args.http else "https"
    print(f"pvegateway: PVE {app.schema.version} API ({len(app.schema.operations)} operations), "
          f"{args.mode} mode, listening on {scheme}://{args.host}:{args.port}/api2/json", flush=True)
    if fingerprint:
        print(f"pvegateway: TLS certificate {cert}, SHA-256 fingerprint {fingerprint}", flush=True)
    runner = server.run_uvicorn if args.server == "uvicorn" else server.run_hypercorn
    runner(app, sock, None if args.http else cert, None if args.http else key, args.log_level)
    return 0


def _routes(args: argparse.Namespace) -> int:
    from .app import load_schema

    schema = load_schema(args.apidoc)
    for op in schema.operations:
        print(f"{op.method:<7}{op.path}  {op.name}")
    return 0


def _openapi(args: argparse.Namespace) -> int:
    from .app import load_schema
    from .openapi import build_document

    json.dump(build_document(load_schema(args.apidoc)), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


def _apidoc(args: argparse.Namespace) -> int:
    if args.action == "install":
        mirror = Path(args.mirror) if args.mirror else None
        install(mirror)
    elif args.action == "import":
        target = import_schema(args.source, args.version)
        print(f"imported {args.source} as {args.version}: {target}")
    elif args.action == "list":
        from .apidoc.sources import apidoc_dir

        directory = apidoc_dir()
        for name, info in sorted(manifest(directory).get("versions", {}).items()):
            path = directory / info["file"]
            state = "installed" if path.exists() else "missing"
            digest = sha256(path.read_bytes())[:12] if path.exists() else "-"
            print(f"{name:<10}{state:<11}{info.get('operations', '?')!s:>5} ops  sha256 {digest}  {path}")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="pvegateway", description="Proxmox VE API gateway and mock")
    sub = top.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the PVE API")
    serve.add_argument("--mode", choices=("mock", "proxy"), default="mock")
    serve.add_argument("--apidoc", default=None, help="schema version (e.g. 9.2, 9.1.11) or path")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8006)
    serve.add_argument("--http", action="store_true", help="plain HTTP even if a certificate is given")
    serve.add_argument("--tls-cert")
    serve.add_argument("--tls-key")
    serve.add_argument("--server", choices=("uvicorn", "hypercorn"), default="uvicorn")
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--seed", help="mock: a JSON cluster description (default: a small 3-node cluster)")
    serve.add_argument("--root-password", help="mock: root@pam's password (default: the seed's)")
    serve.add_argument("--state", help="mock: save the cluster to FILE on shutdown, load it on start")
    serve.add_argument("--state-dir", help="TLS certificate and ticket secret (default ~/.local/state/pvegateway)")
    serve.add_argument("--tasks", default="immediate", help="mock: immediate | polls:N | delay:SECONDS")
    serve.add_argument("--auth-delay", type=float, default=0.0, help="mock: seconds before a 401 (PVE: 3)")
    serve.add_argument("--control-key", help="mock: enable /_gateway/ with this bearer key "
                                             "(or PVEGATEWAY_CONTROL_KEY; prefer the variable: argv is visible)")
    serve.add_argument("--log-level", default="warning")
    serve.set_defaults(func=_serve)

    routes = sub.add_parser("routes", help="list every operation: method, path, name")
    routes.add_argument("--apidoc", default=None)
    routes.set_defaults(func=_routes)

    openapi = sub.add_parser("openapi", help="print the OpenAPI document")
    openapi.add_argument("--apidoc", default=None)
    openapi.set_defaults(func=_openapi)

    apidoc = sub.add_parser("apidoc", help="manage schema versions")
    actions = apidoc.add_subparsers(dest="action", required=True)
    inst = actions.add_parser("install", help="install the pinned schemas (mirror or upstream)")
    inst.add_argument("--mirror", default=os.environ.get("APIDOC_MIRROR"))
    imp = actions.add_parser("import", help="import a JSON tree or a node's apidoc.js")
    imp.add_argument("source", help="file or URL")
    imp.add_argument("--as", dest="version", required=True)
    actions.add_parser("list", help="installed versions")
    apidoc.set_defaults(func=_apidoc)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        result: int = args.func(args)
    except SchemaError as err:
        print(f"pvegateway: {err}", file=sys.stderr)
        return 1
    return result


if __name__ == "__main__":
    sys.exit(main())
