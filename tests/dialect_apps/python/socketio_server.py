"""python-socketio chat server (ASGI AsyncServer served by uvicorn) for wsdiag dialect tests.

Usage: python socketio_server.py [--host 127.0.0.1] [--port 0] [--ping-interval 25] [--ping-timeout 20]

Binds the listening socket itself (port 0 = any free port), hands it to uvicorn and prints exactly
one stdout line `listening on http://127.0.0.1:PORT` once uvicorn is serving. Exits 0 on SIGINT /
SIGTERM after a graceful uvicorn shutdown.

Socket.IO (namespace "/", path /socket.io/):
  * client emits `chat message` {room, text} with an ack callback -> the sender joins `room`, the
    server emits `message.created` {id, room, text, sender} to the room (sender = auth.user given
    at connect, else the Socket.IO sid) and acks {ok: true, id}. Missing room/text -> ack
    {ok: false, error: "room and text are required"} and nothing is broadcast.
  * `join` room (ack {ok, room}) and `upload` bytes (ack: their length), as the Express chat of
    ../socketio_chat.js has them, so ../socketio_client.js drives both servers.
"""

import argparse
import asyncio
import contextlib
import signal
import socket
import sys

import socketio
import uvicorn

sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins="*")
app = socketio.ASGIApp(sio)

_next_id = 0


@sio.event
async def connect(sid, environ, auth):
    user = auth.get("user") if isinstance(auth, dict) else None
    await sio.save_session(sid, {"user": user or sid})


@sio.on("join")
async def join(sid, room):
    await sio.enter_room(sid, room)
    return {"ok": True, "room": room}


@sio.on("upload")
async def upload(sid, data):
    return len(data) if isinstance(data, (bytes, bytearray)) else 0


@sio.on("chat message")
async def chat_message(sid, data):
    global _next_id
    room = data.get("room") if isinstance(data, dict) else None
    text = data.get("text") if isinstance(data, dict) else None
    if not room or not text:
        return {"ok": False, "error": "room and text are required"}
    _next_id += 1
    session = await sio.get_session(sid)
    await sio.enter_room(sid, room)
    await sio.emit(
        "message.created",
        {"id": _next_id, "room": room, "text": text, "sender": session["user"]},
        room=room,
    )
    return {"ok": True, "id": _next_id}


class _Server(uvicorn.Server):
    # uvicorn re-raises a captured SIGTERM/SIGINT after shutdown (exit status 143/130); the test
    # harness expects a clean exit 0, so shutdown is requested through should_exit instead.
    @contextlib.contextmanager
    def capture_signals(self):
        yield


async def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ping-interval", type=float, default=25.0)
    parser.add_argument("--ping-timeout", type=float, default=20.0)
    args = parser.parse_args(argv)

    # Engine.IO heartbeat settings (seconds); shorter values let fixtures capture ping/pong.
    sio.eio.ping_interval = args.ping_interval
    sio.eio.ping_interval_grace_period = 0
    sio.eio.ping_timeout = args.ping_timeout

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    port = sock.getsockname()[1]

    config = uvicorn.Config(app, log_level="warning", lifespan="off")
    server = _Server(config)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: setattr(server, "should_exit", True))
    serving = asyncio.ensure_future(server.serve(sockets=[sock]))
    while not server.started:
        if serving.done():
            return serving.result() or 1
        await asyncio.sleep(0.02)
    print(f"listening on http://{args.host}:{port}", flush=True)
    await serving
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])) or 0)
