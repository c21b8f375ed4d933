"""``shanhe node run``: one validator process serving its HTTP API and peer traffic."""

import contextlib
import dataclasses
import gc
import logging
import os
import sys
import threading
from pathlib import Path

import uvicorn
from sqlalchemy.exc import SQLAlchemyError

from node.genesis import NodeConfig
from node.http_guard import GuardedHttpToolsProtocol
from node.keys import KeyFileError
from node.service import Node


def run_node(config_path: Path, db_url: str | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO,
        format=f"%(asctime)s {config_path.parent.name} %(name)s %(levelname)s %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        config = NodeConfig.load(config_path)
        if db_url:
            config = dataclasses.replace(config, db_url=db_url)
        node = Node(config)
    except (OSError, ValueError, KeyError, KeyFileError) as exc:
        print(f"error: cannot start node from {config_path}: {exc}", file=sys.stderr)
        return 2
    except SQLAlchemyError as exc:  # e.g. the database is not up yet: compose restarts us
        print(f"error: cannot open the node database: {type(exc).__name__}", file=sys.stderr)
        return 1
    # The CLI is the composition root: only here does the node meet the HTTP layer.
    from api.app import create_app

    app = create_app(node)
    # What exists now (modules, the app, its routes) lives as long as the process: keep it
    # out of the collector's full passes, which otherwise rescan it and pause the node's
    # only event loop for ~0.1 s at a time under load (docs/benchmarks.md).
    gc.freeze()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=config.host,
            port=config.port,
            log_level="warning",
            access_log=False,
            proxy_headers=False,
            timeout_graceful_shutdown=5,
            http=GuardedHttpToolsProtocol,  # bounded heads, slow clients timed out, capped
            timeout_keep_alive=5,
        )
    )
    node.on_fatal = lambda: _exit_soon(server)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: uvicorn re-raises it once shut down
        server.run()
    if node.failed is not None:
        return 1  # the fatal line is logged: see Node._fail
    if not server.started:
        print(f"error: could not serve on {config.host}:{config.port}", file=sys.stderr)
        return 1
    return 0


def _exit_soon(server: uvicorn.Server) -> None:
    """A node whose commit failed must not go on serving: shut down as on Ctrl-C, and if
    that hangs, end the process anyway."""
    server.should_exit = True
    watchdog = threading.Timer(30, os._exit, (1,))
    watchdog.daemon = True
    watchdog.start()
