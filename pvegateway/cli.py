"""``pvegateway``: serve | routes | openapi | apidoc {install, import, list, diff} | seed {capture, schema}."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .apidoc.sources import SchemaError, import_schema, install
from .secrets import key_lines, secret_from
from .secrets import read_secret_file as _read_secret_file

if TYPE_CHECKING:
    from .app import Gateway
    from .extension import Extension


def _mock_secret(flag: str | None, path: str | None, variable: str, what: str) -> str | None:
    """A FILE, the environment or (visible to every local user, kept for scripts) the flag itself."""
    return secret_from(path, variable, what) if path else flag or secret_from(None, variable, what)


def _mock_options(args: argparse.Namespace, state_dir: Path) -> dict[str, Any]:
    from . import statedir
    from .ratelimit.cli import mock_options_from_args

    return {
        **mock_options_from_args(args),
        "seed": args.seed,
        "root_password": _mock_secret(args.root_password, args.root_password_file, "PVEGATEWAY_ROOT_PASSWORD",
                                      "the root password"),
        "secret": statedir.secret(state_dir), "tasks": args.tasks, "auth_delay": args.auth_delay,
        "state_file": args.state,
        "control_key": _mock_secret(args.control_key, args.control_key_file, "PVEGATEWAY_CONTROL_KEY",
                                    "the control key"),
    }


def _proxy_options(args: argparse.Namespace) -> dict[str, Any]:
    """Secrets come from files or the environment, never from argv (which every local user can read)."""
    from .backends.proxy.options import ServiceCredential

    keys = key_lines(_read_secret_file(args.api_keys, "gateway API keys") if args.api_keys else
                     os.environ.get("PVEGATEWAY_API_KEYS", "").replace(",", "\n"))
    token = _read_secret_file(args.service_token_file, "the service token") if args.service_token_file else \
        os.environ.get("PVEGATEWAY_SERVICE_TOKEN")
    service = None
    if args.service_user:
        password = _read_secret_file(args.service_password_file, "the service password") \
            if args.service_password_file else os.environ.get("PVEGATEWAY_SERVICE_PASSWORD")
        service = ServiceCredential(username=args.service_user, password=password)
    elif token:
        service = ServiceCredential(token=token)
    return {
        "upstreams": args.upstream or [], "ca_file": args.ca, "fingerprints": _bound_fingerprints(args),
        "insecure": args.insecure, "connect_timeout": args.connect_timeout, "read_timeout": args.read_timeout,
        "api_keys": keys, "service": service, "check_responses": args.check_responses,
    }


class _InOrder(argparse.Action):
    """``append``, and the order in which ``--upstream`` and ``--fingerprint`` came, in ``args.given``:
    a fingerprint pins the upstream given before it."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        setattr(namespace, self.dest, [*(getattr(namespace, self.dest, None) or []), values])
        namespace.given = [*getattr(namespace, "given", []), (self.dest, values)]


def _bound_fingerprints(args: argparse.Namespace) -> list[str]:
    """``--fingerprint`` values as ProxyOptions reads them: one given after an ``--upstream`` becomes
    ``URL=FINGERPRINT`` for that upstream; one already in that form, or before any upstream, stays."""
    from .backends.proxy.tls import split_pin

    bound: list[str] = []
    upstream: str | None = None
    for dest, value in getattr(args, "given", []):
        if dest == "upstream":
            upstream = value
        elif upstream is not None and split_pin(value)[0] is None:
            bound.append(f"{upstream}={value}")
        else:
            bound.append(value)
    return bound


def _schema_source(args: argparse.Namespace, options: dict[str, Any], state_dir: Path) -> str | None:
    """``--apidoc upstream``: the schema the proxy's own nodes publish, else the fallback version."""
    if args.apidoc != "upstream":
        return str(args.apidoc) if args.apidoc else None
    if args.mode != "proxy":
        raise SystemExit("pvegateway: --apidoc upstream needs --mode proxy")
    from .backends.proxy.options import ProxyOptions
    from .backends.proxy.schema_fetch import upstream_schema

    return upstream_schema(ProxyOptions(**options), state_dir, args.apidoc_fallback,
                           lambda text: print(text, file=sys.stderr, flush=True))


def _gateway(args: argparse.Namespace, apidoc: str | None, options: dict[str, Any], state_dir: Path) -> Gateway:
    """The gateway the flags describe: schema, backend, rate limits, observability, codegen endpoints."""
    from . import codegen
    from .apidoc.schema import load_schema
    from .app import Gateway, make_backend
    from .observe.cli import from_args as observability_from_args
    from .ratelimit.cli import limiter_from_args, workers_warning

    schema = load_schema(apidoc)
    backend = make_backend(args.mode, schema, **options)
    limiter = limiter_from_args(args)
    warning = workers_warning(args)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    observability = observability_from_args(backend.name, args)
    generator = codegen.extension(codegen.from_args(args, state_dir), limits=limiter.limits if limiter else None)
    extensions: list[Extension] = [observability, *([generator] if generator else [])]
    return Gateway(schema, backend, send_reason=args.server == "uvicorn", limiter=limiter,
                   observer=observability.observer, extensions=extensions)


def _serve(args: argparse.Namespace) -> int:
    from . import statedir
    from .backends.proxy.options import ProxyConfigError
    from .http import listen, server

    if args.workers < 1:
        print("pvegateway: --workers needs at least 1", file=sys.stderr)
        return 2
    if args.workers > 1 and args.mode == "mock":
        print("pvegateway: the mock keeps its cluster in one process's memory; several workers would each "
              "get their own cluster. Run one worker (use --state FILE to keep state across restarts).",
              file=sys.stderr)
        return 2
    listen.ssl_paths_ok(args.tls_cert, args.tls_key)
    state_dir = Path(args.state_dir).expanduser() if args.state_dir else statedir.default_state_dir()
    state_dir.mkdir(parents=True, exist_ok=True)
    cert, key, fingerprint = args.tls_cert, args.tls_key, None
    if not args.http and not cert:
        cert_path, key_path, fingerprint = statedir.certificate(state_dir)
        cert, key = str(cert_path), str(key_path)
    elif cert and not args.http:
        fingerprint = statedir.fingerprint(Path(cert))
    try:
        options = _proxy_options(args) if args.mode == "proxy" else _mock_options(args, state_dir)
        apidoc = _schema_source(args, options, state_dir)
        app = _gateway(args, apidoc, options, state_dir)
    except (ValueError, ProxyConfigError) as err:
        print(f"pvegateway: {err}", file=sys.stderr)
        return 2
    sock = listen.bind(args.host, args.port)
    port = sock.getsockname()[1]  # --port 0: the one the system picked
    scheme = "http" if args.http else "https"
    target = f" to {', '.join(options['upstreams'])}" if args.mode == "proxy" else ""
    print(f"pvegateway: PVE {app.schema.version} API ({len(app.schema.operations)} operations), "
          f"{args.mode} mode{target}, listening on {scheme}://{args.host}:{port}/api2/json", flush=True)
    if fingerprint:
        print(f"pvegateway: TLS certificate {cert}, SHA-256 fingerprint {fingerprint}", flush=True)
    server.tune_gc()
    runner = server.run_uvicorn if args.server == "uvicorn" else server.run_hypercorn
    cert, key = (None, None) if args.http else (cert, key)
    if args.workers > 1:
        from .http import workers

        served = workers.announcing_ready(app)
        return workers.serve_workers(args.workers, sock, lambda parent: runner(
            served, sock, cert, key, args.log_level, args.shutdown_timeout, orphan_of=parent), args.shutdown_timeout)
    runner(app, sock, cert, key, args.log_level, args.shutdown_timeout)
    return 0


def _routes(args: argparse.Namespace) -> int:
    from .apidoc.schema import load_schema

    schema = load_schema(args.apidoc)
    for op in schema.operations:
        print(f"{op.method:<7}{op.path}  {op.name}")
    return 0


def _openapi(args: argparse.Namespace) -> int:
    from .apidoc.schema import load_schema
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
        from .apidoc import installed
        from .apidoc.sources import apidoc_dir

        directory = apidoc_dir()
        default, entries = installed.installed_versions(directory)
        if args.json:
            print(json.dumps(installed.to_json(directory, default, entries), indent=2))
        else:
            sys.stdout.write(installed.render_text(directory, default, entries))
    elif args.action == "diff":
        from .apidoc import diff
        from .apidoc.schema import load_schema

        result = diff.diff_schemas(load_schema(args.old), load_schema(args.new), descriptions=args.descriptions)
        if args.json:
            print(json.dumps(diff.to_json(result), indent=2, ensure_ascii=False))
        else:
            sys.stdout.write(diff.render_text(result))
    return 0


def _proxy_arguments(serve: argparse.ArgumentParser) -> None:
    proxy = serve.add_argument_group("proxy mode", "secrets are read from files or the environment, never argv")
    proxy.add_argument("--upstream", action=_InOrder, metavar="URL",
                       help="a PVE node, https://HOST:8006; repeat for the nodes of one cluster (failover)")
    proxy.add_argument("--apidoc-fallback", metavar="VERSION",
                       help="with --apidoc upstream: the local version used if no node serves its schema")
    proxy.add_argument("--ca", metavar="FILE", help="CA bundle for the upstreams (e.g. the cluster's pve-root-ca.pem)")
    proxy.add_argument("--fingerprint", action=_InOrder, metavar="SHA256",
                       help="pin the SHA-256 fingerprint of the certificate of the --upstream given just before "
                            "(or URL=SHA256 for the upstream at URL); each node accepts only its own pins")
    proxy.add_argument("--insecure", action="store_true", help="do not verify upstream certificates (testing only)")
    proxy.add_argument("--connect-timeout", type=float, default=5.0, metavar="SECONDS")
    proxy.add_argument("--read-timeout", type=float, default=30.0, metavar="SECONDS",
                       help="longest wait for upstream bytes (PVE's own proxy waits 30 s)")
    proxy.add_argument("--api-keys", metavar="FILE",
                       help="gateway API keys, one per line (or PVEGATEWAY_API_KEYS, comma-separated): callers "
                            "sending 'Authorization: Bearer KEY' act as the service account")
    proxy.add_argument("--service-token-file", metavar="FILE",
                       help="the service account's API token user@realm!id=secret (or PVEGATEWAY_SERVICE_TOKEN)")
    proxy.add_argument("--service-user", metavar="USER@REALM", help="the service account as user and password")
    proxy.add_argument("--service-password-file", metavar="FILE",
                       help="its password (or PVEGATEWAY_SERVICE_PASSWORD)")
    proxy.add_argument("--check-responses", action="store_true",
                       help="compare answers with the schema's returns; report drift in a header and the log")


def _operating_arguments(serve: argparse.ArgumentParser) -> None:
    from .codegen.options import add_arguments as codegen_arguments
    from .observe.cli import add_arguments as observe_arguments
    from .ratelimit.cli import add_arguments as ratelimit_arguments

    ratelimit_arguments(serve)
    codegen_arguments(serve)
    observe_arguments(serve)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="pvegateway", description="Proxmox VE API gateway and mock")
    sub = top.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the PVE API")
    serve.add_argument("--mode", choices=("mock", "proxy"), default="mock")
    serve.add_argument("--apidoc", default=None, help="schema version (e.g. 9.2, 9.1.11) or path; proxy mode: "
                                                      "'upstream' fetches the nodes' own schema at startup")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8006)
    serve.add_argument("--http", action="store_true", help="plain HTTP even if a certificate is given")
    serve.add_argument("--tls-cert")
    serve.add_argument("--tls-key")
    serve.add_argument("--server", choices=("uvicorn", "hypercorn"), default="uvicorn")
    serve.add_argument("--workers", type=int, default=1,
                       help="proxy: processes serving the socket, under a supervising parent (mock: 1)")
    serve.add_argument("--shutdown-timeout", type=float, default=30.0, metavar="SECONDS",
                       help="on SIGTERM, how long requests in flight may take to finish (idle connections close "
                            "at once)")
    serve.add_argument("--seed", help="mock: a JSON cluster description (default: a small 3-node cluster)")
    serve.add_argument("--root-password", help="mock: root@pam's password (default: the seed's; argv is visible "
                                                "to local users: prefer --root-password-file or "
                                                "PVEGATEWAY_ROOT_PASSWORD)")
    serve.add_argument("--root-password-file", metavar="FILE", help="mock: root@pam's password, from FILE")
    serve.add_argument("--state", help="mock: save the cluster to FILE on shutdown, load it on start")
    serve.add_argument("--state-dir", help="TLS certificate and ticket secret (default ~/.local/state/pvegateway)")
    serve.add_argument("--tasks", default="immediate", help="mock: immediate | polls:N | delay:SECONDS")
    serve.add_argument("--auth-delay", type=float, default=0.0, help="mock: seconds before a 401 (PVE: 3)")
    serve.add_argument("--control-key-file", metavar="FILE", help="mock: enable /_gateway/ with the bearer key in FILE")
    serve.add_argument("--control-key", help="mock: enable /_gateway/ with this bearer key "
                                             "(or PVEGATEWAY_CONTROL_KEY; prefer the variable: argv is visible)")
    serve.add_argument("--log-level", default="warning")
    _proxy_arguments(serve)
    _operating_arguments(serve)
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
    listing = actions.add_parser("list", help="known versions: state, operation count, sha256, file, default")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    diff = actions.add_parser("diff", help="what changed between two versions: operations, parameters, returns, "
                                           "permissions")
    diff.add_argument("old", help="version name (e.g. 9.1.11) or path of a schema tree")
    diff.add_argument("new", help="version name (e.g. 9.2) or path of a schema tree")
    diff.add_argument("--json", action="store_true", help="machine-readable output (format in apidoc/diff.py)")
    diff.add_argument("--descriptions", action="store_true", help="also report changed descriptions and prose")
    apidoc.set_defaults(func=_apidoc)

    from .capture.cli import add_parser as seed_parser

    seed_parser(sub)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        result: int = args.func(args)
    except SchemaError as err:
        print(f"pvegateway: {err}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # the reader went away (`pvegateway routes | head`): stop quietly, as Unix tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    return result


if __name__ == "__main__":
    sys.exit(main())
