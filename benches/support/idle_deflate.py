"""Resident memory per idle WebSocket through wsdiag when permessage-deflate
is negotiated, the way browsers and Python servers use it.

Run by `cargo bench --bench proxy` (its `idle` part) with the test venv's
Python (tests/django_chat/setup_venv.sh): `python idle_deflate.py WSDIAG N`.
The upstream is a websockets 15 echo server and the N clients are
websockets 15 clients; both negotiate permessage-deflate with context
takeover, as a browser against uvicorn or daphne does. For each of three
cases a fresh proxy (capture on) holds the N WebSockets:

- `no compression`: the clients offer no extension;
- `deflate, idle`: negotiated, nothing sent;
- `deflate, after a message`: each WebSocket carried one compressed
  message each way, so each side's context (window) is in use.

Prints one line per case: `CASE: X.X KiB each`, the growth of the proxy's
VmRSS over N.
"""

import asyncio
import logging
import re
import resource
import sys
import tempfile

import websockets

MESSAGE = '{"type":"chat_message","message":"hello, this is a chat message"}'


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def echo(ws):
    async for message in ws:
        await ws.send(message)


async def proxy(binary, upstream_port, capture):
    process = await asyncio.create_subprocess_exec(
        binary, "proxy", "--upstream", f"http://127.0.0.1:{upstream_port}",
        "--listen", "127.0.0.1:0", "--quiet", "--capture", capture, "--overwrite",
        stdout=asyncio.subprocess.PIPE)
    while True:
        line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        if not line:
            raise SystemExit(f"{binary} exited before listening")
        found = re.search(r"proxy on \S*?127\.0\.0\.1:(\d+)", line)
        if found:
            return process, found.group(1)


async def measure(binary, upstream_port, n, compression, send):
    with tempfile.TemporaryDirectory() as dir:
        process, port = await proxy(binary, upstream_port, f"{dir}/capture.jsonl")
        before = rss_kib(process.pid)
        sockets = []
        for _ in range(n):
            sockets.append(await websockets.connect(
                f"ws://127.0.0.1:{port}/ws", ping_interval=None, compression=compression))
        for ws in sockets if send else sockets[-1:]:
            await ws.send(MESSAGE)
            await ws.recv()
        after = rss_kib(process.pid)
        for ws in sockets:
            await ws.close()
        process.send_signal(2)
        await process.wait()
        return (after - before) / n


async def main():
    binary, n = sys.argv[1], int(sys.argv[2])
    # wsdiag's start-up check of the upstream opens a connection and sends
    # no request; the server would log that as a failed handshake.
    logging.getLogger("websockets").setLevel(logging.CRITICAL)
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    async with websockets.serve(echo, "127.0.0.1", 0) as server:
        upstream_port = server.sockets[0].getsockname()[1]
        for case, compression, send in [
            ("no compression", None, False),
            ("deflate, idle", "deflate", False),
            ("deflate, after a message", "deflate", True),
        ]:
            kib = await measure(binary, upstream_port, n, compression, send)
            print(f"{case}: {kib:.1f} KiB each", flush=True)


asyncio.run(main())
