"""A fault-injecting TCP proxy for the tests: sits between triage and a real IMAP server.

Per connection it can refuse, cut after N bytes from the server, cut when the client
sends a command (after forwarding it, so the server may have acted), cut when the
server's answer contains a marker (before forwarding it, so the client never learns the
outcome), or stall the server's answers forever. Rules are taken one per connection
from a queue; `random_cuts` fills it from a seeded RNG.
"""

from __future__ import annotations

import random
import socket
import threading
from collections import Counter, deque
from dataclasses import dataclass
from typing import Callable

Filter = Callable[[bytes], bytes]


@dataclass(frozen=True)
class Rule:
    """What to do to one connection; all fields empty means pass it through."""

    refuse: bool = False
    cut_after_server_bytes: int | None = None
    cut_on_client: bytes | None = None
    cut_on_server: bytes | None = None
    stall_on_client: bytes | None = None
    client_filter: Filter | None = None  # rewrites what the client sends (emulates a quirk)
    server_filter: Filter | None = None  # rewrites what the server answers


PASS = Rule()


class FaultProxy:
    """Listen on 127.0.0.1:port and relay to upstream, applying one Rule per connection."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.rules: deque[Rule] = deque()
        self.default = PASS
        self.client_log = bytearray()
        self.connections = 0
        self.faults = 0
        self.kinds: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._stop = threading.Event()
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
        for s in list(self._open):
            _close(s)

    def random_cuts(self, count: int, seed: int, pass_ratio: float = 0.1) -> None:
        """Queue `count` rules: random byte cuts, cuts at STORE/APPEND/FETCH, some clean passes."""
        rng = random.Random(seed)
        for _ in range(count):
            roll = rng.random()
            if roll < pass_ratio:
                rule = PASS
            elif roll < pass_ratio + 0.2:
                rule = Rule(cut_on_server=b"Append completed")
            elif roll < pass_ratio + 0.4:
                rule = Rule(cut_on_client=b"STORE")
            elif roll < pass_ratio + 0.5:
                rule = Rule(cut_on_client=b"FETCH")
            else:
                rule = Rule(cut_after_server_bytes=rng.randint(200, 30_000))
            self.rules.append(rule)

    def _next_rule(self) -> Rule:
        with self._lock:
            self.connections += 1
            return self.rules.popleft() if self.rules else self.default

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            rule = self._next_rule()
            if rule.refuse:
                self.faults += 1
                self.kinds["refused"] += 1
                _close(client)
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=10)
                server.settimeout(None)
            except OSError:
                _close(client)
                continue
            self._open += [client, server]
            state = {"server_bytes": 0, "stalled": False, "cut": False}
            threading.Thread(target=self._pump_client, args=(client, server, rule, state),
                             daemon=True).start()
            threading.Thread(target=self._pump_server, args=(server, client, rule, state),
                             daemon=True).start()

    def _cut(self, state: dict, kind: str, *sockets: socket.socket) -> None:
        if not state["cut"]:
            state["cut"] = True
            self.faults += 1
            self.kinds[kind] += 1
        for s in sockets:
            _close(s)

    def _pump_client(self, client: socket.socket, server: socket.socket, rule: Rule,
                     state: dict) -> None:
        try:
            while data := client.recv(65536):
                if rule.client_filter:
                    data = rule.client_filter(data)
                with self._lock:
                    self.client_log += data
                if rule.stall_on_client and rule.stall_on_client in data:
                    state["stalled"] = True
                server.sendall(data)
                if rule.cut_on_client and rule.cut_on_client in data:
                    self._cut(state, f"after client sent {rule.cut_on_client.decode()}", client, server)
                    return
        except OSError:
            pass
        _close(server)

    def _pump_server(self, server: socket.socket, client: socket.socket, rule: Rule,
                     state: dict) -> None:
        try:
            while data := server.recv(65536):
                if state["stalled"]:
                    continue  # swallow everything: the client waits forever
                if rule.server_filter:
                    data = rule.server_filter(data)
                if rule.cut_on_server and rule.cut_on_server in data:
                    self._cut(state, f"before server said {rule.cut_on_server.decode()}", client, server)
                    return
                limit = rule.cut_after_server_bytes
                if limit is not None and state["server_bytes"] + len(data) > limit:
                    client.sendall(data[: max(0, limit - state["server_bytes"])])
                    self._cut(state, "after N bytes", client, server)
                    return
                state["server_bytes"] += len(data)
                client.sendall(data)
        except OSError:
            pass
        if not state["stalled"]:
            _close(client)


def _close(s: socket.socket) -> None:
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    s.close()
