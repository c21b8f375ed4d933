"""``shanhe node run`` wiring that the process tests cannot see."""

import gc
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from node.network_init import init_network
from node.runner import run_node


def test_the_startup_heap_is_frozen_before_serving(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    [config] = init_network(tmp_path / "net", 1)
    seen: dict[str, Any] = {}

    def fake_run(server: uvicorn.Server) -> None:
        seen["frozen"] = gc.get_freeze_count()
        seen["config"] = server.config
        server.started = True

    monkeypatch.setattr(uvicorn.Server, "run", fake_run)
    gc.unfreeze()
    try:
        assert run_node(config) == 0
    finally:
        gc.unfreeze()
    assert seen["frozen"] > 10_000  # the imported modules and the app, not a handful
    assert seen["config"].access_log is False
