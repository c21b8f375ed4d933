"""A minimal keep-alive HTTP/1.1 POST client for peer envelopes.

A node sends several envelopes per height to every peer; with httpx each one cost more CPU
than verifying it (request and response models, connection pool, sniffing the async
library), about a seventh of a node's time at light load. Envelopes need one thing from the
answer, its status code, so this client writes the request and reads back only the status line,
the headers and a Content-Length body on one connection it keeps open.
"""

import asyncio
import contextlib
import ssl
from urllib.parse import urlsplit


class PostError(Exception):
    """The connection failed, timed out or answered something that is not HTTP/1.1."""


class KeepAlivePoster:
    def __init__(self, url: str, timeout: float = 5.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"peer URL must be http(s)://host[:port], not {url!r}")
        self.tls = ssl.create_default_context() if parts.scheme == "https" else None
        self.host, self.port = parts.hostname, parts.port or (443 if self.tls else 80)
        self.base = parts.path.rstrip("/")
        self.timeout = timeout
        self._stream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self.reused = False

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        """POST and return the status; raises PostError (the connection is then dropped).

        A kept connection the server has since closed (uvicorn closes idle ones after 5 s)
        fails at once: the request is then sent again, once, on a new connection. Were it
        dropped instead, the votes in it would wait for consensus to re-send them.
        """
        try:
            return await self._attempt(path, body, headers)
        except PostError:
            if not self.reused:
                raise
            return await self._attempt(path, body, headers)

    async def _attempt(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        self.reused = self._stream is not None
        try:
            return await asyncio.wait_for(self._exchange(path, body, headers), self.timeout)
        except TimeoutError as exc:
            self.reused = False  # the peer is slow, not gone: do not send it all again
            await self.close()
            raise PostError("timed out") from exc
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            await self.close()
            raise PostError(str(exc) or type(exc).__name__) from exc

    async def _exchange(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        if self._stream is None:
            self._stream = await asyncio.open_connection(self.host, self.port, ssl=self.tls)
        reader, writer = self._stream
        lines = [f"POST {self.base}{path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        lines.append(f"Content-Length: {len(body)}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        await writer.drain()
        status_line = await reader.readline()
        if not status_line:
            raise ConnectionResetError("the peer closed the connection")
        version, status, _ = status_line.decode("latin-1").split(" ", 2)
        if not version.startswith("HTTP/1."):
            raise ValueError(f"not an HTTP/1.x answer: {version!r}")
        length, keep = 0, True
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" or (name == "connection" and value == "close"):
                keep = False  # framing we do not read: take the status, open anew next time
        if keep:
            await reader.readexactly(length)
        else:
            await self.close()
        return int(status)

    async def close(self) -> None:
        if self._stream is not None:
            writer = self._stream[1]
            self._stream = None
            writer.close()
            with contextlib.suppress(OSError, TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), 1.0)
