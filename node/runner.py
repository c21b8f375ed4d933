"""``shanhe node run``: one validator process serving its HTTP API and peer traffic."""

import dataclasses
import gc
import logging
import sys
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
    uvicorn.run(
        app,
        host=config.host,
        port=config.port,
        http=GuardedHttpToolsProtocol,  # bounded heads, slow clients timed out, connections capped
        timeout_keep_alive=5,
        log_level="warning",
        access_log=False,
        proxy_headers=False,
    )
    return 0
