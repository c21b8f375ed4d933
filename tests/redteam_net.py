"""A small deterministic event loop of ``Tendermint`` machines for red-team scenarios: the
test decides who hears whom (``links``), fires timeouts in simulated time and re-broadcasts
as the node does (only when a machine made no progress for a whole second)."""

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field

from consensus.machine import Decision, Ready, Tendermint, Timeout
from consensus.messages import Message

DELAY = 0.01
REBROADCAST = 1.0


@dataclass
class MiniNet:
    machines: dict[str, Tendermint]
    links: Callable[[str, str], bool] = lambda src, dst: True
    """Does a message from src reach dst now?"""
    now: float = 0.0
    queue: list[tuple[float, int, Callable[[], None]]] = field(default_factory=list)
    seq: int = 0
    decisions: dict[str, Decision] = field(default_factory=dict)
    sent: dict[str, list[Message]] = field(default_factory=dict)
    """Every message each machine sent, in order (what a relaying peer could keep)."""
    marks: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    started: set[str] = field(default_factory=set)

    def at(self, delay: float, action: Callable[[], None]) -> None:
        self.seq += 1
        heapq.heappush(self.queue, (self.now + delay, self.seq, action))

    def start(self, name: str) -> None:
        self.started.add(name)
        self.handle(name, self.machines[name].start())
        self._tick(name)

    def _tick(self, name: str) -> None:
        def tick() -> None:
            m = self.machines[name]
            mark = (m.height, m.round, int(m.step))
            if self.marks.get(name) == mark:
                self.handle(name, m.rebroadcast())
            self.marks[name] = mark
            self._tick(name)

        self.at(REBROADCAST, tick)

    def handle(self, name: str, ready: Ready) -> None:
        for msg in ready.messages:
            self.sent.setdefault(name, []).append(msg)
            for dst in self.machines:
                if dst != name:
                    self.send(name, dst, msg)
        for t in ready.timeouts:
            self.at(t.delay, lambda t=t: self._timeout(name, t))  # type: ignore[misc]
        if ready.decision is not None:
            self.decisions[name] = ready.decision

    def _timeout(self, name: str, t: Timeout) -> None:
        self.handle(name, self.machines[name].timeout(t))

    def send(self, src: str, dst: str, msg: Message) -> None:
        if not self.links(src, dst):
            return

        def deliver() -> None:
            if dst in self.started:
                self.handle(dst, self.machines[dst].receive(msg))

        self.at(DELAY, deliver)

    def inject(self, dst: str, msg: Message) -> None:
        """A message handed to ``dst`` by a peer (any peer may relay others' messages)."""
        self.handle(dst, self.machines[dst].receive(msg))

    def run(self, until: float, stop: Callable[[], bool] = lambda: False) -> None:
        while self.queue and self.queue[0][0] <= until and not stop():
            when, _, action = heapq.heappop(self.queue)
            self.now = when
            action()
        self.now = max(self.now, until)
