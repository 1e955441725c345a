"""Receive Tjar webhooks, and manage a store's webhook subscriptions.

Each ACTION has its own options: tjar-pipelines webhooks ACTION --help.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from tjar_pipelines.client import WEBHOOK_EVENTS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    def action(name: str, help_text: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name, help=help_text, description=help_text[0].upper() + help_text[1:] + "."
        )

    serve = action("serve", "run the receiver: POST /webhooks/tjar/{slug}, GET /healthz")
    serve.add_argument("--host", default="127.0.0.1", metavar="ADDRESS", help="address to bind")
    serve.add_argument(
        "--port", type=int, default=8787, metavar="PORT", help="port to bind (0 = any free port)"
    )
    serve.add_argument(
        "--workers", type=int, default=1, metavar="N", help="receiver processes sharing the port"
    )
    serve.add_argument(
        "--log-level",
        default="warning",
        choices=("debug", "info", "warning", "error"),
        help="log level of the receiver",
    )
    register = action("register", "subscribe a URL to a store's events through the Tjar API")
    register.add_argument(
        "--store", required=True, metavar="SLUG", help="the store, as named in the registry"
    )
    register.add_argument(
        "--url", required=True, metavar="URL", help="public URL of /webhooks/tjar/{slug}"
    )
    register.add_argument(
        "--event",
        action="append",
        choices=WEBHOOK_EVENTS,
        metavar="EVENT",
        help=f"event to subscribe to (repeatable; default: all of {', '.join(WEBHOOK_EVENTS)})",
    )
    register.add_argument(
        "--name", default="tjar_pipelines", metavar="NAME", help="name of the subscription"
    )
    register.add_argument(
        "--secret-file",
        type=Path,
        metavar="PATH",
        help="where to write the signing secret Tjar returns (mode 600; never printed)",
    )
    listing = action("list", "list a store's webhook subscriptions")
    listing.add_argument(
        "--store", required=True, metavar="SLUG", help="the store, as named in the registry"
    )
    dead = action("dead-letters", "show queued events that could not be mapped to a partition")
    dead.add_argument("--limit", type=int, default=50, metavar="N", help="newest events to show")


def run(args: argparse.Namespace) -> int:
    from tjar_pipelines.client import TjarClient
    from tjar_pipelines.settings import Settings
    from tjar_pipelines.stores import env_name, load_registry

    settings = Settings.from_env()
    registry = load_registry(settings.stores_file)
    if args.action == "serve":
        return _serve(args, registry, settings)
    if args.action == "dead-letters":
        return _dead_letters(args, settings)
    store = registry.get(args.store)
    with TjarClient(store.connection(), store.client_settings()) as client:
        if args.action == "list":
            for hook in client.list_webhooks():
                print(f"{hook.identifier}\t{hook.name}\t{hook.url}\t{','.join(hook.events)}")
            return 0
        hook = client.register_webhook(
            name=args.name, url=args.url, events=args.event or WEBHOOK_EVENTS
        )
    print(f"Registered webhook {hook.identifier} of store {store.slug} -> {hook.url}")
    variable = store.webhook_secret_env or env_name(store.slug, "WEBHOOK_SECRET")
    if hook.secret is None:
        print(f"Tjar returned no secret: copy it from the dashboard into {variable}.")
    elif args.secret_file:
        args.secret_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(args.secret_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)  # open() sets the mode of a new file only
        with os.fdopen(fd, "w") as handle:
            handle.write(hook.secret.reveal() + "\n")
        print(
            f"Signing secret written to {args.secret_file} (mode 600); set {variable} to it "
            "for the receiver."
        )
    else:
        print(
            f"Tjar returned a signing secret; rerun with --secret-file to save it, or copy it "
            f"from the dashboard into {variable}. It is not printed here."
        )
    return 0


def _serve(args: argparse.Namespace, registry, settings) -> int:
    import logging

    import uvicorn

    from tjar_pipelines.serving import bind
    from tjar_pipelines.webhooks.receiver import create_app

    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    missing = [s.slug for s in registry.stores if s.webhook_secret_env is None]
    if missing:
        print(
            f"note: stores without webhook_secret_env answer 503: {', '.join(missing)}",
            file=sys.stderr,
        )
    if args.workers > 1:
        print(
            f"Tjar webhook receiver on http://{args.host}:{args.port} ({args.workers} workers)",
            flush=True,
        )
        uvicorn.run(
            "tjar_pipelines.webhooks.receiver:app_from_env",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level=args.log_level,
            access_log=False,
        )
        return 0
    sock = bind(args.host, args.port)
    host, port = sock.getsockname()[:2]
    print(f"Tjar webhook receiver on http://{host}:{port} -> {settings.queue_path}", flush=True)
    app = create_app(registry, settings.queue_path)
    config = uvicorn.Config(app, log_level=args.log_level, access_log=False, lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])
    return 0


def _dead_letters(args: argparse.Namespace, settings) -> int:
    from tjar_pipelines.webhooks.queue import WebhookQueue

    with WebhookQueue(settings.queue_path) as queue:
        rows = queue.dead_letters(args.limit)
    for seq, store, delivery, event, reason in rows:
        print(f"{seq}\t{store}\t{delivery}\t{event}\t{reason}")
    if not rows:
        print("no dead letters")
    return 0
