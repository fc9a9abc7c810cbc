"""python -m monitor [serve] [--host H] [--port P] [--dev]   serve the monitor with uvicorn
python -m monitor create-user --username U --name N --role operator|admin   (password prompted)
python -m monitor create-gateway --name N   (prints the gateway's token once)
python -m monitor add-arc --name N --host H --port P --account A [--key HEX] ...   (an ARC:
    alarms are forwarded there with SIA DC-09, docs/arc-forwarding.md)
python -m monitor arc-status   (each ARC's link: last ACK, failing since, alarms not yet ACKed)

Every command needs VIGIL_ENVIRONMENT (production, test or development); `--dev` stands for
VIGIL_ENVIRONMENT=development. With neither, the monitor refuses to start: development seals
device keys under a published key and sends cookies without Secure.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys

import uvicorn

from monitor.api.main import create_app, freeze_startup_heap, uvicorn_config
from monitor.core.config import settings_for
from monitor.core.db import Database
from monitor.errors import MonitorError
from monitor.services import arc_forwarding, auth, provisioning

MIN_PASSWORD = auth.MIN_PASSWORD


def _serve(args: argparse.Namespace) -> None:
    settings = settings_for(args.dev)
    app = create_app(settings)
    freeze_startup_heap()
    uvicorn.Server(uvicorn_config(app, settings, args.host, args.port)).run()


def _create_user(args: argparse.Namespace) -> None:
    settings = settings_for(args.dev)
    password = getpass.getpass(f"Password for {args.username}: ")
    if len(password) < MIN_PASSWORD:
        raise SystemExit(f"use at least {MIN_PASSWORD} characters")
    db = Database(settings.database_url)
    db.migrate()
    with db.session() as s:
        auth.create_user(s, "cli", args.username, args.name, args.role, password)
    print(f"created {args.role} {args.username}")


def _create_gateway(args: argparse.Namespace) -> None:
    db = Database(settings_for(args.dev).database_url)
    db.migrate()
    with db.session() as s:
        gw, token = provisioning.create_gateway(s, "cli", args.name)
        gid = gw.id
    print(f"gateway {gid} ({args.name}); token, shown once: {token}")


def _add_arc(args: argparse.Namespace) -> None:
    db = Database(settings_for(args.dev).database_url)
    db.migrate()
    with db.session() as s:
        r = arc_forwarding.add_receiver(
            s,
            "cli",
            name=args.name,
            host=args.host,
            port=args.port,
            account=args.account,
            protocol=args.protocol,
            receiver_number=args.receiver,
            line_number=args.line,
            aes_key_hex=args.key,
            null_interval_s=args.null_interval,
        )
        rid = r.id
    print(f"ARC {rid} ({args.name}): {args.protocol}://{args.host}:{args.port} #{args.account}")


def _arc_status(args: argparse.Namespace) -> None:
    db = Database(settings_for(args.dev).database_url)
    with db.session() as s:
        for row in arc_forwarding.health(s):
            print(json.dumps(row))


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0].startswith("-"):
        argv.insert(0, "serve")
    parser = argparse.ArgumentParser(
        prog="python -m monitor",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--dev",
        action="store_true",
        help="development mode (VIGIL_ENVIRONMENT=development): known keys, no Secure cookies",
    )
    serve = sub.add_parser("serve", help="serve the API and console", parents=[common])
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(func=_serve)
    user = sub.add_parser(
        "create-user", help="create an operator or admin account", parents=[common]
    )
    user.add_argument("--username", required=True)
    user.add_argument("--name", required=True)
    user.add_argument("--role", choices=auth.ROLES, required=True)
    user.set_defaults(func=_create_user)
    gw = sub.add_parser(
        "create-gateway", help="register a gateway and print its token", parents=[common]
    )
    gw.add_argument("--name", required=True)
    gw.set_defaults(func=_create_gateway)
    arc = sub.add_parser(
        "add-arc", help="forward alarms to an alarm receiving centre (DC-09)", parents=[common]
    )
    arc.add_argument("--name", required=True)
    arc.add_argument("--host", required=True)
    arc.add_argument("--port", type=int, required=True)
    arc.add_argument("--account", required=True, help="3-16 hex digits, as the ARC issued it")
    arc.add_argument("--protocol", choices=("tcp", "udp"), default="tcp")
    arc.add_argument("--receiver", default="0", help="receiver number, 1-6 hex digits")
    arc.add_argument("--line", default="0", help="line number, 1-6 hex digits")
    arc.add_argument("--key", default=None, help="AES-128/192/256 key as 32/48/64 hex digits")
    arc.add_argument("--null-interval", type=int, default=60, help="NULL supervision, s; 0 off")
    arc.set_defaults(func=_add_arc)
    status = sub.add_parser("arc-status", help="each ARC link's health", parents=[common])
    status.set_defaults(func=_arc_status)
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except MonitorError as e:
        raise SystemExit(f"error: {e.message}") from e


if __name__ == "__main__":
    main()
