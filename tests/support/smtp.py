"""A small real SMTP server on 127.0.0.1 that misbehaves on request: slow, trickling, dropping, refusing.

aiosmtpd covers well-behaved servers; this one plays the faults of issue 9 over a real TCP socket,
one thread per connection, and records every message it took in (the copies a reader would get).
"""

from __future__ import annotations

import email
import email.policy
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Behaviour:
    """How the server answers. Every delay is in seconds."""

    greeting_trickle: float = 0.0  # > 0: send `220-` lines this often, forever, instead of a greeting
    rcpt_reply: Callable[[str], str | None] = lambda address: None  # e.g. "452 4.2.2 mailbox full"
    data_reply: str = "250 2.0.0 queued"
    data_delay: float = 0.0  # wait this long before answering the end of DATA
    keep_before_drop: bool = True  # with drop_after_data: the message was stored before the drop
    drop_after_data: bool = False  # close the connection instead of answering the end of DATA
    silent_after_data: bool = False  # never answer the end of DATA (hold the connection open)
    data_received: threading.Event = field(default_factory=threading.Event)


@dataclass
class Copy:
    """One message the server took in."""

    rcpt: list[str]
    message_id: str
    to: str
    subject: str
    raw: bytes


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        b = self.server.behaviour
        try:
            self._session(b)
        except OSError:
            pass

    def _send(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def _session(self, b: Behaviour) -> None:
        if b.greeting_trickle > 0:
            while not self.server.closing.is_set():
                self._send("220-still warming up")
                time.sleep(b.greeting_trickle)
            return
        self._send("220 faulty.example ESMTP")
        rcpt: list[str] = []
        while True:
            line = self.rfile.readline()
            if not line:
                return
            cmd = line.decode("utf-8", "replace").strip()
            verb = cmd[:4].upper()
            if verb in ("EHLO", "HELO"):
                self._send("250-faulty.example")
                self._send("250 8BITMIME")
            elif verb == "MAIL":
                rcpt = []
                self._send("250 2.1.0 ok")
            elif verb == "RCPT":
                address = cmd.partition(":")[2].strip().strip("<>")
                reply = b.rcpt_reply(address)
                if reply:
                    self._send(reply)
                else:
                    rcpt.append(address)
                    self._send("250 2.1.5 ok")
            elif verb == "DATA":
                if not rcpt:
                    self._send("503 5.5.1 no recipients")
                    continue
                self._send("354 go ahead")
                data = self._read_data()
                b.data_received.set()
                if b.drop_after_data:
                    if b.keep_before_drop:
                        self.server.keep(rcpt, data)
                    return  # the connection closes without a reply
                if b.silent_after_data:
                    self.server.closing.wait(60)
                    return
                if b.data_delay:
                    time.sleep(b.data_delay)
                if b.data_reply.startswith("2"):
                    self.server.keep(rcpt, data)
                self._send(b.data_reply)
            elif verb == "RSET":
                rcpt = []
                self._send("250 2.0.0 ok")
            elif verb == "QUIT":
                self._send("221 2.0.0 bye")
                return
            else:
                self._send("502 5.5.2 not implemented")

    def _read_data(self) -> bytes:
        lines = []
        while True:
            line = self.rfile.readline()
            if not line or line == b".\r\n":
                return b"".join(lines)
            lines.append(line[1:] if line.startswith(b"..") else line)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, behaviour: Behaviour) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.behaviour = behaviour
        self.copies: list[Copy] = []
        self.closing = threading.Event()
        self.lock = threading.Lock()

    def keep(self, rcpt: list[str], data: bytes) -> None:
        msg = email.message_from_bytes(data, policy=email.policy.default)
        copy = Copy(list(rcpt), str(msg.get("Message-ID", "")), str(msg.get("To", "")), str(msg.get("Subject", "")), data)
        with self.lock:
            self.copies.append(copy)


@contextmanager
def faulty_smtp(behaviour: Behaviour | None = None) -> Iterator[_Server]:
    """Serve SMTP on 127.0.0.1 (the port is `server.server_address[1]`) with the given faults."""
    server = _Server(behaviour or Behaviour())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.closing.set()
        server.shutdown()
        server.server_close()


def port_of(server: _Server) -> int:
    return int(server.server_address[1])

