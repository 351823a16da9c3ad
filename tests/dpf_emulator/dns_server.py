"""DNS listeners: one UDP and one TCP socket on the same address and port.

``DnsListener(address, port, responder)`` binds both sockets (port 0 picks a
free port for both) and answers each query with ``responder(wire, tcp)``.
:func:`make_responder` builds that callable from an :class:`~.dnsdata.Answerer`
and a function returning the zone snapshots this server sees right now.

UDP answers are limited to 512 bytes, or to the EDNS payload size the client
advertises; larger answers go out empty with the TC bit so that clients retry
over TCP.
"""

from __future__ import annotations

import socket
import socketserver
import struct
import threading
from collections.abc import Callable, Sequence

import dns.exception
import dns.flags
import dns.message
import dns.rcode

from .dnsdata import Answerer, Snapshot

Responder = Callable[[bytes, bool], "bytes | None"]
UDP_LIMIT = 512
TCP_IDLE_SECONDS = 10.0


def _formerr(wire: bytes) -> bytes | None:
    if len(wire) < 12:
        return None
    flags = dns.flags.QR | (int.from_bytes(wire[2:4], "big") & 0x7900) | dns.rcode.FORMERR
    return wire[:2] + struct.pack("!HHHHH", flags, 0, 0, 0, 0)


def make_responder(
    answerer: Answerer, snapshots: Callable[[], Sequence[Snapshot]], recursive: bool = False
) -> Responder:
    def respond(wire: bytes, tcp: bool) -> bytes | None:
        try:
            query = dns.message.from_wire(wire)
        except dns.message.ShortHeader:
            return None
        except dns.exception.DNSException:
            return _formerr(wire)
        if query.flags & dns.flags.QR:
            return None
        response = answerer.respond(query, snapshots(), recursive)
        if tcp:
            limit = 65535
        elif query.edns >= 0:
            limit = max(UDP_LIMIT, query.payload)
        else:
            limit = UDP_LIMIT
        try:
            return response.to_wire(max_size=limit)
        except dns.exception.TooBig:
            response.answer = []
            response.authority = []
            response.additional = []
            response.flags |= dns.flags.TC
            return response.to_wire(max_size=limit)

    return respond


class _UdpHandler(socketserver.BaseRequestHandler):
    server: _UdpServer

    def handle(self) -> None:
        data, sock = self.request
        answer = self.server.responder(data, False)
        if answer is not None:
            sock.sendto(answer, self.client_address)


class _TcpHandler(socketserver.BaseRequestHandler):
    server: _TcpServer

    def _read(self, size: int) -> bytes | None:
        chunks = b""
        while len(chunks) < size:
            chunk = self.request.recv(size - len(chunks))
            if not chunk:
                return None
            chunks += chunk
        return chunks

    def handle(self) -> None:
        self.request.settimeout(TCP_IDLE_SECONDS)
        try:
            while True:
                head = self._read(2)
                if head is None:
                    return
                wire = self._read(struct.unpack("!H", head)[0])
                if wire is None:
                    return
                answer = self.server.responder(wire, True)
                if answer is None:
                    return
                self.request.sendall(struct.pack("!H", len(answer)) + answer)
        except OSError:
            return


class _UdpServer(socketserver.ThreadingUDPServer):
    daemon_threads = True
    allow_reuse_address = True
    responder: Responder


class _TcpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    responder: Responder


class _UdpServer6(_UdpServer):
    address_family = socket.AF_INET6


class _TcpServer6(_TcpServer):
    address_family = socket.AF_INET6


class DnsListener:
    def __init__(self, address: str, port: int, responder: Responder) -> None:
        self.address = address
        self.requested_port = port
        self.responder = responder
        self._udp: _UdpServer | None = None
        self._tcp: _TcpServer | None = None
        self._threads: list[threading.Thread] = []

    @property
    def bound(self) -> tuple[str, int]:
        if self._udp is None:
            raise RuntimeError("listener not started")
        return (self.address, self._udp.server_address[1])

    def _bind(self) -> tuple[_UdpServer, _TcpServer]:
        # With port 0 the kernel picks the UDP port, and that port may already
        # be taken for TCP, so a few attempts may be needed.
        last: OSError | None = None
        for _ in range(50):
            udp_class, tcp_class = (
                (_UdpServer6, _TcpServer6) if ":" in self.address else (_UdpServer, _TcpServer)
            )
            udp = udp_class(
                (self.address, self.requested_port), _UdpHandler, bind_and_activate=False
            )
            try:
                udp.server_bind()
                port = udp.server_address[1]
                tcp = tcp_class((self.address, port), _TcpHandler, bind_and_activate=False)
                try:
                    tcp.server_bind()
                    tcp.server_activate()
                except OSError:
                    tcp.server_close()
                    raise
            except OSError as error:
                udp.server_close()
                last = error
                if self.requested_port != 0:
                    break
                continue
            return udp, tcp
        assert last is not None
        raise last

    def start(self) -> None:
        self._udp, self._tcp = self._bind()
        self._udp.responder = self.responder
        self._tcp.responder = self.responder
        for server in (self._udp, self._tcp):
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"dns-{self.address}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        servers = [s for s in (self._udp, self._tcp) if s is not None]
        stoppers = [threading.Thread(target=s.shutdown) for s in servers]
        for thread in stoppers:
            thread.start()
        for thread in stoppers:
            thread.join()
        for server in servers:
            server.server_close()
        self._udp = self._tcp = None
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()
