"""A small real IMAP4rev1 server over TLS on 127.0.0.1, enough for a newsletter reader: CAPABILITY,
LOGIN, SELECT/EXAMINE, UID SEARCH ALL, UID FETCH (BODY.PEEK[]), LOGOUT. Logs every command.
"""

from __future__ import annotations

import socketserver
import ssl
import threading
import time
from typing import Any


class ImapServer:
    """Serve `messages` (bytes, UIDs 1..n) of one folder to user/password; use as a context manager."""

    def __init__(self, tls: ssl.SSLContext, user: str, password: str, folder: str = "INBOX") -> None:
        self.messages: list[bytes] = []
        self.commands: list[str] = []
        self.trickle = 0.0  # seconds between two bytes of every answer (a server that stalls the reader)
        self.trickle_from = ""  # ... from this command's answer on (e.g. "UID"); "" from the greeting
        self.user, self.password, self.folder = user, password, folder
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                outer._session(self.rfile, self.wfile)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

            def get_request(self) -> Any:
                sock, addr = super().get_request()
                return tls.wrap_socket(sock, server_side=True), addr

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> ImapServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _session(self, rfile: Any, wfile: Any) -> None:
        slow = [self.trickle > 0 and not self.trickle_from]

        def send(line: str | bytes) -> None:
            data = line if isinstance(line, bytes) else line.encode() + b"\r\n"
            if not slow[0]:
                wfile.write(data)
                return
            for i in range(len(data)):
                wfile.write(data[i : i + 1])
                wfile.flush()
                time.sleep(self.trickle)

        send("* OK IMAP4rev1 test server ready")
        authed = selected = False
        while True:
            raw = rfile.readline()
            if not raw:
                return
            tag, _, rest = raw.decode().rstrip("\r\n").partition(" ")
            verb, _, args = rest.partition(" ")
            verb = verb.upper()
            slow[0] = slow[0] or (self.trickle > 0 and verb == self.trickle_from)
            self.commands.append(f"{verb} {args}" if verb != "LOGIN" else "LOGIN ***")
            if verb == "CAPABILITY":
                send("* CAPABILITY IMAP4rev1")
                send(f"{tag} OK CAPABILITY done")
            elif verb == "LOGIN":
                user, _, password = args.partition(" ")
                if user.strip('"') == self.user and password.strip('"') == self.password:
                    authed = True
                    send(f"{tag} OK logged in")
                else:
                    send(f"{tag} NO [AUTHENTICATIONFAILED] invalid credentials")
            elif verb in ("SELECT", "EXAMINE") and authed:
                if args.strip('"') != self.folder:
                    send(f"{tag} NO no such folder")
                    continue
                selected = True
                send(f"* {len(self.messages)} EXISTS")
                send("* OK [UIDVALIDITY 7] UIDs valid")
                send(f"{tag} OK [READ-ONLY] {verb} done")
            elif verb == "UID" and selected:
                sub, _, more = args.partition(" ")
                if sub.upper() == "SEARCH":
                    send("* SEARCH " + " ".join(str(i + 1) for i in range(len(self.messages))))
                    send(f"{tag} OK SEARCH done")
                elif sub.upper() == "FETCH":
                    uid = int(more.split(" ", 1)[0])
                    body = self.messages[uid - 1]
                    send(f"* {uid} FETCH (UID {uid} BODY[] {{{len(body)}}}".encode() + b"\r\n" + body + b")\r\n")
                    send(f"{tag} OK FETCH done")
                else:
                    send(f"{tag} BAD unknown UID command")
            elif verb == "LOGOUT":
                send("* BYE")
                send(f"{tag} OK LOGOUT done")
                return
            else:
                send(f"{tag} BAD {verb} not supported here")
