"""A websockets echo server with a strict keepalive, for tests/relay.rs.

    python keepalive_server.py

websockets 15 (the asyncio implementation) pings every client every second
(`ping_interval=1`) and fails a client that has not answered within a second
(`ping_timeout=1`) with close 1011 "keepalive ping timeout": the classic end
of a client whose event loop was blocked. Text and binary messages are echoed.

Binds 127.0.0.1 port 0 and prints exactly one stdout line once serving:

    listening on http://127.0.0.1:PORT

SIGINT / SIGTERM: closes the server and exits 0. Runs in the tests' shared
venv (websockets is pinned in tests/fastapi_chat/requirements.txt).
"""
import asyncio
import signal

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed


async def echo(ws):
    try:
        async for message in ws:
            await ws.send(message)
    except ConnectionClosed:
        pass  # the keepalive's 1011 ends the loop this way


async def main():
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with serve(echo, "127.0.0.1", 0, ping_interval=1, ping_timeout=1) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"listening on http://127.0.0.1:{port}", flush=True)
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
