"""A TCP proxy between a Comptoir process and its PostgreSQL, that the test can cut.

``cut()`` drops every open connection and refuses new ones (the database is down);
``cut(silent=True)`` drops them and then accepts new connections without ever answering (the
network lost the packets: only a client-side timeout ends the wait); ``restore()`` forwards again
on the same port.
"""

from __future__ import annotations

import contextlib
import socket
import threading


class Proxy:
    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.port = 0
        self._listener: socket.socket | None = None
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._silent = False

    # --- control -----------------------------------------------------------------------------

    def start(self) -> int:
        self._listen()
        return self.port

    def cut(self, *, silent: bool = False) -> None:
        with self._lock:
            self._silent = silent
            if not silent and self._listener is not None:
                _drop(self._listener)  # shutdown wakes the thread waiting in accept()
                self._listener = None
            dropped = list(self._open)
            self._open.clear()
        for sock in dropped:
            _drop(sock)
        if silent and self._listener is None:
            self._listen()

    def restore(self) -> None:
        with self._lock:
            self._silent = False
            held = list(self._open)  # connections accepted while silent: never answered
            self._open.clear()
        for sock in held:
            _drop(sock)
        if self._listener is None:
            self._listen()

    def close(self) -> None:
        self.cut()

    # --- plumbing ----------------------------------------------------------------------------

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        with self._lock:
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed by cut()
            with self._lock:
                self._open.add(client)
                silent = self._silent
            if silent:
                continue  # held open, never answered
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _drop(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open.add(upstream)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        _drop(source)
        _drop(sink)


def _drop(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
