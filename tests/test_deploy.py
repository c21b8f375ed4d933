"""docker-compose.yml and the Dockerfile: they parse, and every command and flag they use
exists in the CLI. (No Docker daemon is needed: CI checks the files, not the images.)"""

import json
import re
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from node.cli import build_parser
from node.network_init import init_network

ROOT = Path(__file__).resolve().parent.parent


def _interpolate(text: str) -> str:
    """Compose's ``${VAR:-default}``, with the defaults."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", text)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(_interpolate((ROOT / "docker-compose.yml").read_text()))
    return data


def _nodes(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in compose["services"].items() if k.startswith("node-")}


def test_four_nodes_each_with_its_own_postgresql_and_volume(compose: dict[str, Any]) -> None:
    nodes = _nodes(compose)
    assert sorted(nodes) == ["node-1", "node-2", "node-3", "node-4"]
    volumes = set()
    for name, service in nodes.items():
        i = name.split("-")[1]
        [db_name] = service["depends_on"]
        assert db_name == f"db-{i}"
        assert service["depends_on"][db_name]["condition"] == "service_healthy"
        db = compose["services"][db_name]
        assert db["image"].startswith("postgres:") and "healthcheck" in db
        [volume] = db["volumes"]
        assert volume.endswith(":/var/lib/postgresql/data")
        volumes.add(volume.split(":")[0])
        command = service["command"]
        url = urlsplit(command[command.index("--db-url") + 1])
        assert url.scheme == "postgresql+psycopg" and url.hostname == db_name
        assert "./deploy/net:/net" in service["volumes"]
    assert volumes == set(compose["volumes"]) and len(volumes) == 4


def test_every_command_and_flag_exists_in_the_cli(compose: dict[str, Any]) -> None:
    parser = build_parser()
    for name, service in compose["services"].items():
        if "command" not in service or service.get("image", "").startswith("postgres"):
            continue
        args = parser.parse_args(service["command"])  # SystemExit on an unknown command/flag
        assert callable(args.func), name


def test_init_writes_configs_the_node_services_can_run(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    init = compose["services"]["init"]["command"]
    out = tmp_path / "net"
    args = build_parser().parse_args([a if a != "/net" else str(out) for a in init])
    assert args.func(args) == 0
    for name, service in _nodes(compose).items():
        command = service["command"]
        config_path = Path(command[command.index("--config") + 1].replace("/net", str(out), 1))
        config = json.loads(config_path.read_text())
        [published] = service["ports"]
        assert published == f"{config['port']}:{config['port']}"
        assert config["host"] == "0.0.0.0"
        for peer, url in config["peers"].items():
            target = urlsplit(url)
            assert target.hostname in compose["services"] and target.hostname != name, peer
        # signed requests name the node: as its peers reach it, and as its published port
        port = config["port"]
        assert set(config["public_names"]) == {
            f"{name}:{port}",
            f"127.0.0.1:{port}",
            f"localhost:{port}",
        }
    assert (out / "verifier-keys.txt").is_file()


def test_the_dockerfile_installs_every_package_and_runs_the_cli() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"
    ]["find"]["include"]
    for pattern in packages:
        package = pattern.rstrip("*")
        assert f"COPY {package} ./{package}" in dockerfile
    assert 'ENTRYPOINT ["shanhe"]' in dockerfile
    assert "pip install" in dockerfile


def test_init_refuses_a_peer_url_that_is_not_http(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        init_network(tmp_path / "n", 1, peer_url="node-{i}:{port}")
