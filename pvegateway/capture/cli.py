"""``pvegateway seed capture`` and ``pvegateway seed schema``: arguments, credentials, output."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

from ..secrets import read_secret_file


def add_parser(sub: Any) -> None:
    seed = sub.add_parser("seed", help="mock seeds: capture a real cluster, print the seed format's JSON Schema")
    actions = seed.add_subparsers(dest="action", required=True)
    capture = actions.add_parser(
        "capture", help="read a cluster through its API (GETs only) and print a seed for 'serve --mode mock --seed'",
        description="Secrets are read from files or the environment, never argv. Progress goes to stderr, "
                    "the seed to stdout (or --output).")
    capture.add_argument("--from", dest="source", required=True, metavar="URL", help="a node, https://HOST:8006")
    capture.add_argument("--token-file", metavar="FILE",
                         help="an API token user@realm!id=secret (or PVEGATEWAY_CAPTURE_TOKEN); read-only "
                              "(PVEAuditor) is enough")
    capture.add_argument("--user", metavar="USER@REALM", help="log in as this user instead of a token")
    capture.add_argument("--password-file", metavar="FILE", help="its password (or PVEGATEWAY_CAPTURE_PASSWORD)")
    capture.add_argument("--ca", metavar="FILE", help="CA bundle for the node (e.g. the cluster's pve-root-ca.pem)")
    capture.add_argument("--fingerprint", metavar="SHA256", action="append", default=[],
                         help="pin the node certificate's SHA-256 fingerprint")
    capture.add_argument("--insecure", action="store_true", help="do not verify the node's certificate")
    capture.add_argument("--include", metavar="AREAS",
                         help="comma-separated areas (default all): nodes, storage, guests, access, pools, ha, "
                              "options, firewall, sdn, jobs, config")
    capture.add_argument("--redact", metavar="REGEX", action="append", default=[],
                         help="replace every match (your hostnames, addresses...) by a made-up name, the same "
                              "one everywhere; repeat for several patterns")
    capture.add_argument("--users-password-file", metavar="FILE",
                         help="the password every captured user gets in the mock (default: a new one, said once "
                              "on stderr)")
    capture.add_argument("--concurrency", type=int, default=4, metavar="N", help="requests at once (default 4)")
    capture.add_argument("--apidoc", default=None, help="schema version whose layout is walked (default: the default)")
    capture.add_argument("--output", "-o", metavar="FILE", help="write the seed here instead of stdout")
    capture.set_defaults(func=run)
    schema = actions.add_parser("schema", help="print the JSON Schema a seed file is checked against")
    schema.set_defaults(func=print_schema)


def print_schema(args: argparse.Namespace) -> int:
    from ..backends.mock.seed_schema import SEED_SCHEMA

    json.dump(SEED_SCHEMA, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


def _credential(args: argparse.Namespace) -> Any:
    from ..backends.proxy.options import ServiceCredential

    if args.user:
        password = read_secret_file(args.password_file, "the password") if args.password_file else \
            os.environ.get("PVEGATEWAY_CAPTURE_PASSWORD")
        return ServiceCredential(username=args.user, password=password)
    token = read_secret_file(args.token_file, "the API token") if args.token_file else \
        os.environ.get("PVEGATEWAY_CAPTURE_TOKEN")
    if not token:
        raise SystemExit("pvegateway: seed capture needs --token-file (or PVEGATEWAY_CAPTURE_TOKEN), "
                         "or --user and --password-file")
    return ServiceCredential(token=token)


def run(args: argparse.Namespace) -> int:
    from ..apidoc.schema import load_schema
    from ..backends.proxy.options import ProxyConfigError, ProxyOptions
    from .client import ReadOnlyClient, Unreachable
    from .run import capture, parse_areas
    from .scrub import Redactor

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        areas = parse_areas(args.include)
        redact = Redactor(args.redact)
        credential = _credential(args)
        options = ProxyOptions(upstreams=[args.source], ca_file=args.ca, fingerprints=args.fingerprint,
                               insecure=args.insecure)
    except (ValueError, ProxyConfigError) as err:
        say(f"pvegateway: {err}")
        return 2
    password = read_secret_file(args.users_password_file, "the users' password") \
        if args.users_password_file else None
    operations = load_schema(args.apidoc).operations

    async def go() -> Any:
        client = ReadOnlyClient(options, credential, concurrency=args.concurrency)
        try:
            return await capture(client, operations, areas, say=say, password=password, redact=redact or None)
        finally:
            await client.close()

    try:
        result = asyncio.run(go())
    except Unreachable as err:
        say(f"pvegateway: capture failed: {err}")
        return 1
    text = json.dumps(result.seed, indent=1, sort_keys=False) + "\n"
    if args.output:
        with open(args.output, "w", encoding="utf-8") as out:
            out.write(text)
    else:
        sys.stdout.write(text)
    if password is None:
        say(f"capture: every captured user logs in to the mock with password {result.seed['root_password']} "
            "(kept in the seed as root_password; --users-password-file chooses it)")
    if result.problems:
        say(f"capture: {len(result.problems)} area(s) captured only in part: " + "; ".join(result.problems))
    return 0
