"""Cosignature bookkeeping: early lines wait for their head, bounded; served notes parse."""

from node.cosigning import MAX_EARLY_HEADS, Cosignatures, lines_of


def test_lines_for_a_head_not_reached_yet_wait_and_are_bounded() -> None:
    c = Cosignatures()
    assert c.receive("a", 5, "— a x\n", tree_size=5, validators=4)  # first in the inbox
    assert not c.receive("b", 5, "— b y\n", tree_size=5, validators=4)  # flush already due
    assert not c.receive("c", 9, "— c z\n", tree_size=5, validators=4)  # early
    for name in "defgh":
        c.receive(name, 9, f"— {name}\n", tree_size=5, validators=4)
    assert len(c.early[9]) == 4  # no more lines per head than validators
    for size in range(10, 10 + 2 * MAX_EARLY_HEADS):
        c.receive("a", size, "— a\n", tree_size=5, validators=4)
    assert len(c.early) <= MAX_EARLY_HEADS
    c.reached(9)
    assert [s for _, s, _ in c.inbox] == [5, 5, 9, 9, 9, 9]
    assert all(s > 9 for s in c.early)


def test_a_served_note_gives_its_size_and_signature_lines() -> None:
    note = "example.org/log\n3\n" + "A" * 43 + "=\n\n— node-1 AAAA\n— node-2 BBBB\n"
    assert lines_of(note) == (3, [("node-1", "— node-1 AAAA\n"), ("node-2", "— node-2 BBBB\n")])
    assert lines_of("not a checkpoint") is None
