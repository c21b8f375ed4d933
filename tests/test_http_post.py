"""The peer envelope client against a scripted HTTP server: framing, reuse, failures."""

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from node.http_post import KeepAlivePoster, PostError

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> tuple[str, dict[str, str], bytes]:
    start = (await reader.readline()).decode()
    headers = {}
    while (line := await reader.readline()) != b"\r\n":
        if not line:
            raise ConnectionError("the client went away")
        name, _, value = line.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    return start, headers, await reader.readexactly(int(headers["content-length"]))


async def serve(script: Script) -> tuple[asyncio.Server, str, list[int]]:
    connections: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        try:
            await script(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}", connections


def run(coro: Awaitable[None]) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]


def test_posts_body_and_headers_and_reuses_the_connection() -> None:
    seen: list[tuple[str, dict[str, str], bytes]] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            seen.append(await read_request(reader))
            if len(seen) == 1:
                writer.write(b"HTTP/1.1 204 No Content\r\nserver: x\r\n\r\n")
            else:
                writer.write(b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 5\r\n\r\nnope!")
            await writer.drain()

    async def main() -> None:
        server, url, connections = await serve(script)
        poster = KeepAlivePoster(url + "/base/")
        assert await poster.post("/v1/p2p", b'{"a":1}', {"content-type": "application/json"}) == 204
        assert await poster.post("/v1/p2p", b"{}", {"signature": "sig1=:AA==:"}) == 401
        await poster.close()
        server.close()
        assert connections == [1]  # one connection for both
        assert seen[0][0] == "POST /base/v1/p2p HTTP/1.1\r\n"
        assert seen[0][1]["content-type"] == "application/json"
        assert seen[0][2] == b'{"a":1}'
        assert seen[1][1]["signature"] == "sig1=:AA==:" and seen[1][2] == b"{}"

    run(main())


def test_unread_framing_or_close_opens_a_new_connection() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
        )
        await writer.drain()

    async def main() -> None:
        server, url, connections = await serve(script)
        poster = KeepAlivePoster(url)
        assert await poster.post("/p", b"1", {}) == 200
        assert await poster.post("/p", b"2", {}) == 200
        await poster.close()
        server.close()
        assert len(connections) == 2

    run(main())


@pytest.mark.parametrize(
    "answer",
    [
        b"",
        b"garbage\r\n",
        b"SPDY/3 200 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nab",
    ],
)
def test_broken_answers_raise_and_the_next_post_reconnects(answer: bytes) -> None:
    calls: list[int] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        calls.append(1)
        if len(calls) == 1:
            writer.write(answer)
            await writer.drain()
            return  # closes the connection
        writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        await writer.drain()

    async def main() -> None:
        server, url, connections = await serve(script)
        poster = KeepAlivePoster(url)
        with pytest.raises(PostError):
            await poster.post("/p", b"x", {})
        assert await poster.post("/p", b"y", {}) == 204
        await poster.close()
        server.close()
        assert len(connections) == 2

    run(main())


def test_a_kept_connection_the_server_closed_is_replaced_without_an_error() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)  # one request per connection, then close (an idle timeout)
        writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        await writer.drain()

    async def main() -> None:
        server, url, connections = await serve(script)
        poster = KeepAlivePoster(url)
        for n in range(3):
            assert await poster.post("/p", str(n).encode(), {}) == 204
            await asyncio.sleep(0.05)  # the server's close arrives before the next post
        await poster.close()
        server.close()
        assert len(connections) == 3

    run(main())


def test_a_broken_answer_on_a_new_connection_is_not_sent_twice() -> None:
    requests: list[int] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        requests.append(1)
        writer.write(b"garbage\r\n")
        await writer.drain()

    async def main() -> None:
        server, url, _ = await serve(script)
        with pytest.raises(PostError):
            await KeepAlivePoster(url).post("/p", b"x", {})
        server.close()
        assert requests == [1]

    run(main())


def test_a_silent_peer_times_out_and_a_missing_one_fails() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(5)

    async def main() -> None:
        server, url, _ = await serve(script)
        with pytest.raises(PostError):
            await KeepAlivePoster(url, timeout=0.2).post("/p", b"x", {})
        server.close()
        await server.wait_closed()
        with pytest.raises(PostError):
            await KeepAlivePoster(url).post("/p", b"x", {})

    run(main())


def test_only_http_urls() -> None:
    with pytest.raises(ValueError):
        KeepAlivePoster("ftp://example.org/")
    assert KeepAlivePoster("https://node1.example").port == 443
