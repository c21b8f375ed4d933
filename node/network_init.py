"""``shanhe init``: keys, genesis and one config per node for a new network; and what a
validator that joins a running network, or rotates its key, needs on its disk."""

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from node.genesis import Genesis, NodeConfig, default_public_names
from node.identity import write_network_secret
from node.keys import read_signer, write_signer
from signing.http_signatures import authority_of
from tlog.note import Signer

# GB/T 2260 codes of Quzhou city and its districts and counties
DIVISIONS = [
    ("330800", "衢州市 Quzhou"),
    ("330802", "柯城区 Kecheng"),
    ("330803", "衢江区 Qujiang"),
    ("330822", "常山县 Changshan"),
    ("330824", "开化县 Kaihua"),
    ("330825", "龙游县 Longyou"),
    ("330881", "江山市 Jiangshan"),
]


def demo_agencies(validators: int) -> list[tuple[str, str, str, str, list[str]]]:
    """(id, name, division, kind, roles) of the demo network's genesis agencies. The bureaus of
    the divisions that run validators govern the network. Agencies with a service counter
    (every bureau's service hall, the Kaihua hospital's desk of the demo) hold the ``counter``
    role: only they take assisted steps for residents (``contracts/authority.py``). The three
    hospitals are designated medical institutions of the medical insurance (``designated``):
    they share test results on the statutory basis. Medical insurance is pooled city-wide in
    Quzhou (浙江省医疗保障条例 art. 17): the city's bureau and, for the demo's proof of
    insurance, the Longyou and Kecheng branches."""
    out = [
        (
            f"ssb-{code}",
            f"{name} 社会保险事业管理中心",
            code,
            "social_security_bureau",
            ["pension", "counter", "governance"]
            if i < max(validators, 1)
            else ["pension", "counter"],
        )
        for i, (code, name) in enumerate(DIVISIONS)
    ]
    out += [
        (
            "hosp-330802",
            "柯城区人民医院 Kecheng People's Hospital",
            "330802",
            "hospital",
            ["health", "designated"],
        ),
        (
            "hosp-330824",
            "开化县人民医院 Kaihua People's Hospital",
            "330824",
            "hospital",
            ["health", "counter", "designated"],
        ),
        (
            "hosp-330881",
            "江山市人民医院 Jiangshan People's Hospital",
            "330881",
            "hospital",
            ["health", "designated"],
        ),
        (
            "clinic-330825",
            "龙游县龙洲街道社区卫生服务中心 Longzhou Community Health Centre, Longyou",
            "330825",
            "primary_clinic",
            ["health", "counter"],
        ),
        (
            "hsa-330800",
            "衢州市医疗保障局 Quzhou Healthcare Security Administration",
            "330800",
            "medical_insurance_bureau",
            ["health", "counter"],
        ),
        (
            "hsa-330825",
            "龙游县医疗保障局 Longyou Healthcare Security Bureau",
            "330825",
            "medical_insurance_bureau",
            ["health", "counter"],
        ),
        (
            "hsa-330802",
            "柯城区医疗保障局 Kecheng Healthcare Security Bureau",
            "330802",
            "medical_insurance_bureau",
            ["health", "counter"],
        ),
        (
            "hc-330800",
            "衢州市卫生健康委员会 Quzhou Health Commission",
            "330800",
            "health_commission",
            ["health"],
        ),
        ("audit-330800", "衢州市审计局 Quzhou Audit Bureau", "330800", "auditor", ["audit"]),
    ]
    return out


def validator_names(n: int) -> list[str]:
    if n <= len(DIVISIONS):
        return [f"node-{code}" for code, _ in DIVISIONS[:n]]
    return [f"node-{i + 1}" for i in range(n)]


def is_network(directory: Path) -> bool:
    return (directory / "genesis.json").is_file()


def init_network(
    out: Path,
    nodes: int,
    chain_id: str = "shanhe-quzhou-dev",
    base_port: int = 8700,
    host: str = "127.0.0.1",
    peer_url: str = "http://{host}:{port}",
    public_names: Sequence[str] = (),
) -> list[Path]:
    """Write the network into ``out``; return the node config paths (node i at base_port+i-1).

    ``peer_url`` is how the nodes reach each other: ``{host}``, ``{port}`` and ``{i}`` (1-based)
    are filled in; docker-compose uses ``http://node-{i}:{port}`` (service names). Each node's
    public names (what signed requests must be signed for) are the authority of its peer URL,
    the loopback names when it listens on a loopback or wildcard address, and ``public_names``
    (templates like ``peer_url``'s, ``host[:port]`` or a URL)."""
    if not peer_url.startswith(("http://", "https://")):
        raise ValueError("--peer-url must be an http(s) URL template")
    if nodes < 1:
        raise ValueError("a network needs at least one node")
    if is_network(out):
        raise FileExistsError(f"{out} already holds a network")
    out.mkdir(parents=True, exist_ok=True)
    names = validator_names(nodes)
    signers = [Signer.generate(name) for name in names]
    agencies = []
    for agency_id, name, division, kind, roles in demo_agencies(nodes):
        signer = Signer.generate(agency_id)
        write_signer(out / "agencies" / f"{agency_id}.key", signer)
        agencies.append(
            {
                "id": agency_id,
                "name": name,
                "division": division,
                "kind": kind,
                "roles": roles,
                "key": signer.verifier().encode(),
            }
        )
    genesis = Genesis(
        chain_id=chain_id,
        origin=f"shanhe.example/{chain_id}",
        validators=tuple(s.verifier() for s in signers),
        agencies=tuple(agencies),
    )
    write_network_secret(out / "agencies" / "network-secret")
    (out / "genesis.json").write_text(
        json.dumps(genesis.to_json(), indent=2, ensure_ascii=False) + "\n"
    )
    (out / "verifier-keys.txt").write_text("".join(s.verifier().encode() + "\n" for s in signers))
    urls = {
        name: peer_url.format(host=host, port=base_port + i, i=i + 1)
        for i, name in enumerate(names)
    }
    configs = []
    for i, signer in enumerate(signers):
        node_dir = out / f"node-{i + 1}"
        write_signer(node_dir / "node.key", signer)
        port = base_port + i
        names = [authority_of(urls[signer.name]), *default_public_names(host, port)]
        names += [authority_of(t.format(host=host, port=port, i=i + 1)) for t in public_names]
        config = NodeConfig(
            name=signer.name,
            base_dir=node_dir,
            host=host,
            port=port,
            peers={n: u for n, u in urls.items() if n != signer.name},
            public_names=list(dict.fromkeys(names)),
        )
        path = node_dir / "config.json"
        path.write_text(json.dumps(config.to_json(), indent=2) + "\n")
        configs.append(path)
    return configs


def node_configs(out: Path) -> list[Path]:
    return sorted(out.glob("node-*/config.json"), key=lambda p: int(p.parent.name.split("-")[1]))


# ------------------------------------------------------------ joining a running network
VALIDATOR_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@dataclass(frozen=True)
class Joined:
    config: Path
    verifier: str
    """The new validator's verifier key: what ``add_validator`` takes."""
    url: str
    """Where the other validators will reach it: what ``add_validator`` takes."""


def join_network(
    genesis_file: Path,
    peers: dict[str, str],
    out: Path,
    name: str | None = None,
    host: str = "127.0.0.1",
    port: int = 8700,
    url: str | None = None,
) -> Joined:
    """The directory of a validator that joins a running network (``shanhe validator join``):
    the network's genesis, a node key (made here unless ``out/node.key`` exists) and a config
    whose peers are the validators it syncs from until governance adds it. It starts from
    the genesis and catches up by block sync; the validators governance added since genesis
    it learns from the blocks."""
    if (out / "config.json").exists():
        raise FileExistsError(f"{out / 'config.json'} exists")
    Genesis.load(genesis_file)  # it must parse; it is copied byte for byte
    if not peers:
        raise ValueError("give at least one peer (--peer NAME=URL of a running validator)")
    for peer_name, peer_url in peers.items():
        if not peer_url.startswith(("http://", "https://")):
            raise ValueError(f"peer {peer_name}: {peer_url!r} is not an http(s) URL")
    key_path = out / "node.key"
    existing = key_path.exists()
    if existing:
        signer = read_signer(key_path)
        if name is not None and signer.name != name:
            raise ValueError(f"{key_path} is the key of {signer.name}, not of {name}")
    elif name is None or not VALIDATOR_NAME.match(name):
        raise ValueError("--name: 1-64 letters, digits or ._- (the new validator's name)")
    else:
        signer = Signer.generate(name)
    if signer.name in peers:
        raise ValueError(f"{signer.name} cannot be its own peer")
    if not existing:
        write_signer(key_path, signer)
    (out / "genesis.json").write_bytes(genesis_file.read_bytes())
    public = url or f"http://{host}:{port}"
    # peers sign every envelope for the URL governance gives them (``@authority``): it must
    # be one of this node's names, or it hears nobody (and nothing says so)
    names = [authority_of(public), *default_public_names(host, port)]
    config = NodeConfig(
        name=signer.name,
        base_dir=out,
        genesis_file="genesis.json",
        host=host,
        port=port,
        peers=dict(sorted(peers.items())),
        public_names=list(dict.fromkeys(names)),
    )
    path = out / "config.json"
    path.write_text(json.dumps(config.to_json(), indent=2) + "\n")
    return Joined(path, signer.verifier().encode(), public)


def next_key(config_path: Path) -> str:
    """Make the node's next validator key (``shanhe validator rotate-key``) at the config's
    ``next_key_file``, never overwriting one; return its verifier key, what
    ``rotate_validator_key`` takes. The node signs with it from the height at which that
    change takes effect."""
    config = NodeConfig.load(config_path)
    current = read_signer(config.path(config.key_file))
    following = Signer.generate(current.name)
    write_signer(config.path(config.next_key_file), following)
    return following.verifier().encode()
