"""An echo WebSocket under uvicorn that accepts permessage-deflate, for
tests/relay.rs.

    python deflate_echo.py

A bare ASGI app (no framework): `GET` of any path answers a small HTML page
(so a browser has an origin to open the socket from), and a WebSocket on any
path echoes every text and binary message. uvicorn serves it with h11 and the
websockets sans-I/O implementation, whose default is to accept a client's
permessage-deflate offer (`ws_per_message_deflate`, set here explicitly) and
then compress what it sends.

Binds 127.0.0.1 port 0 itself, hands the socket to uvicorn and prints exactly
one stdout line once serving:

    listening on http://127.0.0.1:PORT

SIGINT / SIGTERM: uvicorn's graceful shutdown. Runs in the tests' shared venv
(uvicorn and websockets are pinned in tests/fastapi_chat/requirements.txt).
"""
import socket

import uvicorn

PAGE = b"<!doctype html><meta charset=utf-8><title>deflate echo</title><p>WebSocket echo on any path</p>\n"


async def app(scope, receive, send):
    if scope["type"] == "http":
        await send({
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/html; charset=utf-8")],
        })
        await send({"type": "http.response.body", "body": PAGE})
    elif scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        while True:
            event = await receive()
            if event["type"] != "websocket.receive":
                return  # websocket.disconnect
            if event.get("text") is not None:
                await send({"type": "websocket.send", "text": event["text"]})
            else:
                await send({"type": "websocket.send", "bytes": event["bytes"]})


class ReadyServer(uvicorn.Server):
    """Prints the ready line once uvicorn serves (its own banner goes to
    stderr and names port 0, not the bound one)."""

    def __init__(self, config, address):
        super().__init__(config)
        self.address = address

    async def startup(self, sockets=None):
        await super().startup(sockets=sockets)
        if self.started and not self.should_exit:
            host, port = self.address
            print(f"listening on http://{host}:{port}", flush=True)


def main():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    config = uvicorn.Config(
        app,
        http="h11",
        ws="websockets-sansio",
        ws_per_message_deflate=True,
        lifespan="off",
        log_level="warning",
    )
    ReadyServer(config, sock.getsockname()[:2]).run(sockets=[sock])


if __name__ == "__main__":
    main()
