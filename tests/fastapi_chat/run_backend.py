#!/usr/bin/env python3
"""Start the FastAPI chat backend under uvicorn on 127.0.0.1, OS-chosen port.

    CHAT_BUG=no-sender CHAT_DEBUG=1 python run_backend.py [--port-file /tmp/chat.port]

Binds 127.0.0.1:0 itself and hands the listening socket to uvicorn (h11 for
HTTP, the websockets sans-I/O implementation for WebSocket). Once uvicorn has
run the app's startup (tables created) and is serving, prints exactly one line
on stdout:

    listening on http://127.0.0.1:PORT

and, with --port-file, writes "127.0.0.1:PORT" to that file (temp file +
rename; the file is deleted at start and at exit). uvicorn's own logs (and
the access log, with --access-log) go to stderr. SIGTERM / SIGINT: graceful
shutdown (open WebSockets get a 1012 close), exit status 0.

CHAT_DB: SQLite file (default: a fresh temp dir, removed at exit).
CHAT_BUG / --bug and CHAT_DEBUG / --debug: see app.py.
"""
import argparse
import copy
import os
import shutil
import signal
import socket
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
BUGS = ("none", "no-sender", "error-after-save", "wrong-field", "no-user")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    p.add_argument("--port-file", help="also write 'host:port' to this file once listening")
    p.add_argument("--bug", choices=BUGS, help="overrides CHAT_BUG")
    p.add_argument("--debug", choices=["0", "1"], help="overrides CHAT_DEBUG")
    p.add_argument("--access-log", action="store_true", help="uvicorn access log (on stderr)")
    p.add_argument("--log-level", default="info", help="uvicorn log level (default info)")
    return p.parse_args()


def main():
    args = parse_args()
    if args.bug:
        os.environ["CHAT_BUG"] = args.bug
    if args.debug:
        os.environ["CHAT_DEBUG"] = args.debug

    port_file = os.path.abspath(args.port_file) if args.port_file else None
    if port_file:
        try:  # never let a stale file from an earlier run look like readiness
            os.unlink(port_file)
        except FileNotFoundError:
            pass

    tmpdir = None
    if not os.environ.get("CHAT_DB"):
        tmpdir = tempfile.mkdtemp(prefix="fastapi_chat_")
        os.environ["CHAT_DB"] = os.path.join(tmpdir, "chat.sqlite3")
    try:
        return serve(args, port_file)
    finally:
        if port_file:
            try:
                os.unlink(port_file)
            except FileNotFoundError:
                pass
        if tmpdir:
            shutil.rmtree(tmpdir, ignore_errors=True)


def serve(args, port_file):
    sys.path.insert(0, HERE)
    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    import app as chat_app  # validates CHAT_BUG, opens CHAT_DB

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, 0))
    sock.listen(128)
    sock.set_inheritable(True)
    host, port = sock.getsockname()[:2]

    # uvicorn's default logging config sends the access log to stdout; stdout
    # carries only the readiness line here.
    log_config = copy.deepcopy(LOGGING_CONFIG)
    log_config["handlers"]["access"]["stream"] = "ext://sys.stderr"

    class ReadyServer(uvicorn.Server):
        async def startup(self, sockets=None):
            await super().startup(sockets=sockets)
            if stopped_by:  # signalled before uvicorn had its own handlers
                self.should_exit = True
            if self.started and not self.should_exit:
                if port_file:
                    tmp = f"{port_file}.tmp.{os.getpid()}"
                    with open(tmp, "w") as fh:
                        fh.write(f"{host}:{port}\n")
                    os.replace(tmp, port_file)
                print(f"listening on http://{host}:{port}", flush=True)

    config = uvicorn.Config(
        chat_app.app,
        http="h11",
        ws="websockets-sansio",
        lifespan="on",
        log_config=log_config,
        log_level=args.log_level,
        access_log=args.access_log,
        timeout_graceful_shutdown=5,
    )
    server = ReadyServer(config)

    sys.stderr.write(
        f"fastapi_chat: CHAT_BUG={chat_app.BUG} DEBUG={chat_app.DEBUG} DB={os.environ['CHAT_DB']}\n")
    sys.stderr.flush()

    # uvicorn re-raises the signal that stopped it once it has shut down (so the
    # default action would kill us with 143 / KeyboardInterrupt); these handlers
    # are the ones it restores and re-raises into: they just note it.
    stopped_by = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, frame: stopped_by.append(signum))

    server.run(sockets=[sock])
    sock.close()
    if not server.started:
        sys.stderr.write("fastapi_chat: uvicorn never started\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
