"""Red team, issue #11 item 4: a deposit racing an erasure. The source hospital's PUT of a
payload passes the erasure check, then awaits its body; meanwhile the block erasing the
resident commits and the vault shreds her key material. The vault then refuses to store
(``Erased``), and the node answered 500 with a traceback instead of 410 resident-erased.
Replayed here by shredding the vault first, the state the race leaves the handler in."""

from tests.test_erasure_node import ERASED, SOURCE, Scene, scene  # noqa: F401 (fixture)


def test_a_deposit_racing_the_erasure_is_410_not_500(scene: Scene) -> None:  # noqa: F811
    scene.node.vault.erase([ERASED])  # what the node does once the erasure block commits
    r = scene.call(SOURCE, "PUT", "/v1/health/cases/s-0b/payload", b"a document, late")
    assert r.status_code == 410, r.text
    assert r.json()["type"].endswith("resident-erased"), r.text
