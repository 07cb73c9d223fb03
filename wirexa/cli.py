"""`wirexa up` runs the engine with embedded defaults; `wirexa projects ...` administers projects."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from decimal import Decimal, InvalidOperation

import uvloop

from wirexa.config import Settings, load_settings
from wirexa.store.db import make_engine, migrate
from wirexa.store.projects import MEDIA_AUTH, Project, ProjectStore


def _decimal(value: str) -> Decimal:
    try:
        return Decimal(value)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"'{value}' is not a number") from None


def _print_credentials(project: Project, settings: Settings | None = None) -> None:
    print(f"Project ID: {project.sid}")
    print(f"API token:  {project.auth_token}")
    if settings is not None:
        base = f"http://{settings.host}:{settings.port}"
        print(f"REST API:   {base}/api/laml/2010-04-01/Accounts/{project.sid}/Calls.json")


def cmd_up(settings: Settings) -> int:
    from wirexa.engine import Engine  # imported here so admin commands start fast

    engine = Engine(settings)
    project, created = engine.ensure_default_project()
    data = settings.data_dir.resolve() if not settings.database_url else engine.db.url.render_as_string()
    ready = asyncio.Event()

    async def announce() -> None:
        await ready.wait()
        print(f"Wirexa listening on http://{settings.host}:{settings.port}  (data: {data})")
        print(f"SIP: udp {settings.sip_host}:{settings.sip_port}  trunk: {engine.trunk().host}:{engine.trunk().port}")
        if engine.sandbox is not None:
            print(f"Sandbox carrier (virtual phones): {engine.sandbox.http_url}  e.g. call +15005550001")
        if created:
            print("Created the default project; keep these credentials:")
        _print_credentials(project, settings)
        sys.stdout.flush()

    async def main() -> None:
        announcer = asyncio.create_task(announce())
        try:
            await engine.serve(ready)
        finally:
            announcer.cancel()

    try:
        uvloop.run(main())
    except KeyboardInterrupt:
        pass
    except OSError as exc:  # a port in use, an address not on this host...
        print(f"wirexa: cannot start: {exc}", file=sys.stderr)
        return 1
    print("Wirexa stopped.")
    return 0


def cmd_sandbox(settings: Settings, args: argparse.Namespace) -> int:
    from wirexa.sandbox import serve_sandbox

    uvloop.run(serve_sandbox(
        args.sip_host, args.sip_port if args.sip_port is not None else settings.sandbox_sip_port,
        args.http_host, args.http_port if args.http_port is not None else settings.sandbox_http_port,
        settings.data_dir / "sandbox", args.rules,
    ))
    return 0


def _store(settings: Settings) -> ProjectStore:
    if not settings.database_url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = make_engine(settings.sqlalchemy_url, settings.sqlite_synchronous)
    migrate(db)
    return ProjectStore(db)


def cmd_projects(settings: Settings, args: argparse.Namespace) -> int:
    store = _store(settings)
    if args.projects_cmd == "create":
        project = store.create(
            args.name, cps=args.cps, billing_enabled=args.billing,
            balance=args.balance, price_per_minute=args.price_per_minute,
        )
        _print_credentials(project)
        return 0
    if args.projects_cmd == "list":
        for p in store.list():
            billing = f"billing on, balance {p.balance}" if p.billing_enabled else "billing off"
            cps = p.cps if p.cps is not None else f"{settings.default_cps} (default)"
            print(f"{p.sid}  {p.friendly_name!r}  {p.status}  cps={cps}  {billing}")
        return 0
    if args.projects_cmd == "rotate-token":
        rotated = store.rotate_token(args.project_id)
        if rotated is None:
            print(f"no project {args.project_id}", file=sys.stderr)
            return 1
        _print_credentials(rotated)
        return 0
    if args.projects_cmd == "set":
        changed = store.set_limits(
            args.project_id, cps=args.cps, billing_enabled=args.billing,
            balance=args.balance, price_per_minute=args.price_per_minute, media_auth=args.media_auth,
        )
        if changed is None:
            print(f"no project {args.project_id}", file=sys.stderr)
            return 1
        print(f"{changed.sid}: cps={changed.cps} billing={changed.billing_enabled} "
              f"balance={changed.balance} price_per_minute={changed.price_per_minute} "
              f"media_auth={changed.media_auth or 'api'}")
        return 0
    raise AssertionError(args.projects_cmd)


def _limit_options(p: argparse.ArgumentParser, creating: bool) -> None:
    p.add_argument("--cps", type=_decimal, help="outbound calls per second (default: engine default)")
    p.add_argument("--billing", action=argparse.BooleanOptionalAction, default=False if creating else None,
                   help="refuse new calls when the balance is used up")
    p.add_argument("--balance", type=_decimal, default=Decimal(0) if creating else None, help="credit balance")
    p.add_argument("--price-per-minute", type=_decimal, help="price per started minute")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wirexa", description=__doc__)
    parser.add_argument("--config", help="TOML settings file (also WIREXA_CONFIG)")
    parser.add_argument("--data-dir", help="state directory (default ./wirexa-data; WIREXA_DATA_DIR)")
    parser.add_argument("--database-url", help="e.g. postgresql+psycopg://... (WIREXA_DATABASE_URL)")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="run the engine with embedded defaults")
    up.add_argument("--host", help="listen address (default 127.0.0.1; WIREXA_HOST)")
    up.add_argument("--port", type=int, help="listen port (default 8080; WIREXA_PORT)")

    sandbox = sub.add_parser("sandbox", help="run only the sandbox carrier (virtual phones)")
    sandbox.add_argument("--sip-host", default="127.0.0.1")
    sandbox.add_argument("--sip-port", type=int, help="default 5080 (WIREXA_SANDBOX_SIP_PORT)")
    sandbox.add_argument("--http-host", default="127.0.0.1")
    sandbox.add_argument("--http-port", type=int, help="default 8090 (WIREXA_SANDBOX_HTTP_PORT)")
    sandbox.add_argument("--rules", help="TOML rules file for the virtual phones")

    projects = sub.add_parser("projects", help="create, list and administer projects")
    psub = projects.add_subparsers(dest="projects_cmd", required=True)
    create = psub.add_parser("create", help="create a project and print its credentials")
    create.add_argument("name")
    _limit_options(create, creating=True)
    psub.add_parser("list", help="list projects")
    rotate = psub.add_parser("rotate-token", help="replace a project's API token")
    rotate.add_argument("project_id")
    setp = psub.add_parser("set", help="change a project's limits and billing")
    setp.add_argument("project_id")
    _limit_options(setp, creating=False)
    setp.add_argument("--media-auth", choices=MEDIA_AUTH,
                      help="recording downloads that need Basic auth: api (the /2010-04-01 path only; "
                           "the default), all (also the short /recordings URLs) or none")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    overrides = {
        k: v for k, v in {
            "data_dir": args.data_dir,
            "database_url": args.database_url,
            "host": getattr(args, "host", None),
            "port": getattr(args, "port", None),
        }.items() if v is not None
    }
    settings = load_settings(args.config, **overrides)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "up":
        return cmd_up(settings)
    if args.command == "sandbox":
        return cmd_sandbox(settings, args)
    return cmd_projects(settings, args)


if __name__ == "__main__":
    sys.exit(main())
