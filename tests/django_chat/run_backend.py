#!/usr/bin/env python3
"""Start the chat backend under daphne on 127.0.0.1, OS-chosen port.

    CHAT_BUG=sender_not_set CHAT_DEBUG=1 python run_backend.py --port-file /tmp/chat.port

Applies migrations (and the seed data) to the SQLite file named by CHAT_DB
(default: a fresh temp dir, removed at exit), then runs daphne's Server with the
Twisted endpoint "tcp:port=0:interface=127.0.0.1". Once the socket is listening,
the real "host:port" is written to --port-file (atomically: temp file + rename)
and printed on stdout. SIGTERM / SIGINT stop the reactor cleanly; the port file
is removed at exit.
"""
import argparse
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

# daphne.server installs the asyncio Twisted reactor on import; it must come
# before anything else imports twisted.internet.reactor.
import daphne.server  # noqa: E402
from daphne.access import AccessLogGenerator  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port-file", required=True, help="file that receives 'host:port' once listening")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    p.add_argument("--bug", choices=["none", "sender_not_set", "render_crash"],
                   help="overrides CHAT_BUG")
    p.add_argument("--debug", choices=["0", "1"], help="overrides CHAT_DEBUG")
    p.add_argument("--access-log", action="store_true", help="daphne access log on stderr")
    p.add_argument("-v", "--verbosity", type=int, default=1, help="daphne verbosity (default 1)")
    return p.parse_args()


class PortReportingServer(daphne.server.Server):
    """daphne Server that publishes the actual bound port once listening."""

    def __init__(self, *args, port_file, **kwargs):
        super().__init__(*args, **kwargs)
        self.port_file = port_file

    def listen_success(self, port):
        super().listen_success(port)
        host = port.getHost()
        address = f"{host.host}:{host.port}"
        tmp = f"{self.port_file}.tmp.{os.getpid()}"
        with open(tmp, "w") as fh:
            fh.write(address + "\n")
        os.replace(tmp, self.port_file)
        print(address, flush=True)


def main():
    args = parse_args()
    if args.bug:
        os.environ["CHAT_BUG"] = args.bug
    if args.debug:
        os.environ["CHAT_DEBUG"] = args.debug

    port_file = os.path.abspath(args.port_file)
    try:  # never let a stale file from an earlier run look like readiness
        os.unlink(port_file)
    except FileNotFoundError:
        pass

    sys.path.insert(0, HERE)
    from chat.bugs import current_bug

    bug = current_bug()  # validates CHAT_BUG before creating anything

    tmpdir = None
    if not os.environ.get("CHAT_DB"):
        tmpdir = tempfile.mkdtemp(prefix="django_chat_")
        os.environ["CHAT_DB"] = os.path.join(tmpdir, "chat.sqlite3")
    try:
        serve(args, bug, port_file)
    finally:
        try:
            os.unlink(port_file)
        except FileNotFoundError:
            pass
        if tmpdir:
            shutil.rmtree(tmpdir, ignore_errors=True)


def serve(args, bug, port_file):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatproject.settings")

    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)

    from django.conf import settings

    from chatproject.asgi import application

    sys.stderr.write(
        f"django_chat: CHAT_BUG={bug} DEBUG={settings.DEBUG} DB={os.environ['CHAT_DB']}\n"
    )
    sys.stderr.flush()

    server = PortReportingServer(
        application=application,
        endpoints=[f"tcp:port=0:interface={args.host}"],
        signal_handlers=True,  # Twisted handles SIGTERM/SIGINT -> reactor.stop()
        action_logger=AccessLogGenerator(sys.stderr) if args.access_log else None,
        verbosity=args.verbosity,
        port_file=port_file,
    )
    server.run()
    if not server.listening_addresses:
        sys.stderr.write("django_chat: daphne never listened\n")
        sys.exit(1)


if __name__ == "__main__":
    main()
