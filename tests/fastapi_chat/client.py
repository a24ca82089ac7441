#!/usr/bin/env python3
"""A scripted "frontend" for the fastapi_chat backend.

    python client.py http://127.0.0.1:PORT [--accept json|html] [--content-type json|text]
                     [--room general] [--message cc] [--rest-field text|content]
                     [--auth login|fixed] [--rest-out FILE] [--login-out FILE]

Steps: log in alice (POST /api/login with her password -> JWT), GET the room's
messages (page load), open the WebSocket /ws/rooms/<room>?token=<jwt>, send
{"event":"message.send","payload":{"text":"cc"}} and wait for its
"message.created" broadcast, POST the same text over REST
(Authorization: Bearer <jwt>), GET the list again, wait for the REST message's
broadcast if it was saved, close the socket, and print ONE line of JSON.

Summary keys: ws_saved, ws_message, rest_status, rest_content_type,
rest_body_first_line, rest_json, rest_html_title, rest_saved, rest_broadcast,
listed_texts, ... Exit status 0 whenever the summary could be produced, whatever
the REST outcome (the failures are the point); 1 only if the run itself could
not happen (backend unreachable, login refused, socket refused ...; the summary
then has "error").

--rest-out / --login-out write that HTTP response as recorded in
tests/fixtures/fastapi: the status line, the headers as received ("name: value"
lines), an empty line, then the body, byte for byte.
"""
import argparse
import asyncio
import json
import sys
import time
from urllib.parse import urlsplit

import requests
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

PASSWORDS = {"alice": "alice-pass", "bob": "bob-pass"}
FIXED_TOKENS = {"alice": "alice-token", "bob": "bob-token"}

ACCEPT = {
    # axios' default Accept header: no "text/html" -> Starlette's plain-text traceback
    "json": "application/json, text/plain, */*",
    # a browser navigation: contains "text/html" -> Starlette's HTML traceback page
    "html": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
}

CONTENT_TYPE = {
    "json": "application/json",
    # what fetch() sends for a string body when no Content-Type is set
    "text": "text/plain;charset=UTF-8",
}


class Fatal(Exception):
    pass


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("base", metavar="URL", help="http://127.0.0.1:PORT (backend or proxy)")
    p.add_argument("--accept", choices=sorted(ACCEPT), default="json",
                   help="Accept header of the REST POST (json = axios default)")
    p.add_argument("--content-type", choices=sorted(CONTENT_TYPE), default="json",
                   help="Content-Type of the REST POST (text = fetch() with a string body)")
    p.add_argument("--room", default="general")
    p.add_argument("--message", default="cc")
    p.add_argument("--user", choices=sorted(PASSWORDS), default="alice")
    p.add_argument("--rest-field", default="text", help="JSON key of the REST body (text|content)")
    p.add_argument("--auth", choices=["login", "fixed"], default="login",
                   help="login: the JWT from POST /api/login; fixed: the fixed token <user>-token")
    p.add_argument("--timeout", type=float, default=10.0, help="per-wait timeout, seconds")
    p.add_argument("--rest-out", help="write the REST POST response (status, headers, body) here")
    p.add_argument("--login-out", help="write the login response (status, headers, body) here")
    return p.parse_args()


# --------------------------------------------------------------------------- HTTP

def dump_response(r, path):
    """Status line, headers as received, blank line, body bytes."""
    version = {10: "HTTP/1.0", 11: "HTTP/1.1"}.get(getattr(r.raw, "version", 11), "HTTP/1.1")
    lines = [f"{version} {r.status_code} {r.reason}"]
    lines += [f"{name}: {value}" for name, value in r.raw.headers.items()]
    with open(path, "wb") as fh:
        fh.write(("\n".join(lines) + "\n\n").encode("latin-1"))
        fh.write(r.content)


def body_summary(r):
    text = r.text
    first_line = text.lstrip().split("\n", 1)[0] if text else ""
    out = {
        "rest_status": r.status_code,
        "rest_content_type": r.headers.get("Content-Type"),
        "rest_length": len(r.content),
        "rest_body_first_line": first_line[:300],
        "rest_json": None,
    }
    if "json" in (r.headers.get("Content-Type") or ""):
        try:
            out["rest_json"] = r.json()
        except ValueError:
            pass
    if "<title>" in text:
        out["rest_html_title"] = text.split("<title>", 1)[1].split("</title>", 1)[0].strip()[:300]
    return out


class Account:
    def __init__(self, base, username, auth, timeout):
        self.base = base.rstrip("/")
        self.username = username
        self.auth = auth
        self.timeout = timeout
        self.http = requests.Session()
        self.token = None

    def login(self, record=None):
        r = self.http.post(f"{self.base}/api/login", timeout=self.timeout,
                           json={"username": self.username, "password": PASSWORDS[self.username]})
        if record:
            dump_response(r, record)
        if r.status_code != 200:
            raise Fatal(f"login {self.username}: HTTP {r.status_code}: {r.text[:200]}")
        access = r.json().get("access")
        if not access:
            raise Fatal(f"login {self.username}: no access token in {r.text[:200]}")
        self.token = access if self.auth == "login" else FIXED_TOKENS[self.username]
        return r.status_code

    def auth_headers(self):
        return {"Authorization": f"Bearer {self.token}"}

    def messages_url(self, room):
        return f"{self.base}/api/rooms/{room}/messages"

    def list_messages(self, room):
        r = self.http.get(self.messages_url(room), timeout=self.timeout,
                          headers={"Accept": ACCEPT["json"], **self.auth_headers()})
        items = None
        if r.status_code == 200:
            try:
                items = r.json()
            except ValueError:
                pass
        return r.status_code, items

    def ws_url(self, room):
        parts = urlsplit(self.base)
        scheme = "wss" if parts.scheme == "https" else "ws"
        return f"{scheme}://{parts.netloc}/ws/rooms/{room}?token={self.token}"


# --------------------------------------------------------------------------- WebSocket

class Socket:
    """A connected WebSocket plus a reader task that records every frame."""

    def __init__(self, ws):
        self.ws = ws
        self.received = []
        self.changed = asyncio.Condition()
        self.reader = asyncio.create_task(self._read())

    async def _read(self):
        try:
            async for raw in self.ws:
                try:
                    msg = json.loads(raw)
                except ValueError:
                    msg = {"event": "<non-json>", "raw": str(raw)[:200]}
                async with self.changed:
                    self.received.append(msg)
                    self.changed.notify_all()
        except ConnectionClosed:
            pass
        finally:
            async with self.changed:
                self.changed.notify_all()

    async def wait_for(self, predicate, timeout):
        async def _wait():
            async with self.changed:
                while True:
                    for m in self.received:
                        if predicate(m):
                            return m
                    if self.reader.done():
                        return None
                    await self.changed.wait()
        try:
            return await asyncio.wait_for(_wait(), timeout)
        except asyncio.TimeoutError:
            return None

    async def close(self):
        await self.ws.close(code=1000, reason="client done")
        await asyncio.wait_for(self.reader, 5)
        return {"code": self.ws.close_code, "reason": self.ws.close_reason}


def created(text=None, msg_id=None):
    def pred(m):
        if not isinstance(m, dict) or m.get("event") != "message.created":
            return False
        payload = m.get("payload") or {}
        if msg_id is not None:
            return payload.get("id") == msg_id
        return payload.get("text") == text
    return pred


# --------------------------------------------------------------------------- scenario

async def run(args, summary):
    room, text, t = args.room, args.message, args.timeout
    account = Account(args.base, args.user, args.auth, t)
    loop = asyncio.get_running_loop()

    summary["login_status"] = await loop.run_in_executor(None, account.login, args.login_out)

    status, items = await loop.run_in_executor(None, account.list_messages, room)
    summary["list_before"] = {"status": status, "count": len(items) if items is not None else None}
    known_ids = {m["id"] for m in items or []}

    try:
        ws = await connect(account.ws_url(room), open_timeout=t, max_size=2**22)
    except InvalidStatus as exc:
        raise Fatal(f"websocket rejected: HTTP {exc.response.status_code}")
    except OSError as exc:
        raise Fatal(f"websocket: {exc}")
    sock = Socket(ws)
    summary["ws_connected"] = True
    try:
        # 1) send over the WebSocket
        t0 = time.monotonic()
        await ws.send(json.dumps({"event": "message.send", "payload": {"text": text}}))
        got = await sock.wait_for(created(text=text), t)
        summary["ws_saved"] = got is not None
        summary["ws_delivery_ms"] = round((time.monotonic() - t0) * 1000, 1)
        summary["ws_message"] = (got or {}).get("payload")
        ws_id = summary["ws_message"]["id"] if got else None
        if ws_id is not None:
            known_ids.add(ws_id)

        # 2) the same message over REST
        headers = {"Accept": ACCEPT[args.accept], "Content-Type": CONTENT_TYPE[args.content_type],
                   **account.auth_headers()}
        body = json.dumps({args.rest_field: text})
        r = await loop.run_in_executor(None, lambda: account.http.post(
            account.messages_url(room), data=body.encode(), headers=headers, timeout=t))
        summary.update(body_summary(r))
        summary["rest_request"] = {"body": body, "accept": headers["Accept"],
                                   "content_type": headers["Content-Type"]}
        if args.rest_out:
            dump_response(r, args.rest_out)

        # 3) reload the list
        status, items = await loop.run_in_executor(None, account.list_messages, room)
        items = items or []
        new_rest = [m for m in items if m.get("id") not in known_ids and m.get("text") == text]
        summary["list_status"] = status
        summary["listed_texts"] = [m.get("text") for m in items]
        summary["listed_senders"] = [m.get("sender") for m in items]
        summary["list_contains_ws_message"] = any(m.get("id") == ws_id for m in items)
        summary["rest_saved"] = bool(new_rest)
        summary["rest_message_ids"] = [m["id"] for m in new_rest]

        # 4) a REST-saved message is broadcast to the room as well
        if new_rest:
            seen = await sock.wait_for(created(msg_id=new_rest[0]["id"]), t)
            summary["rest_broadcast"] = seen is not None
        else:
            summary["rest_broadcast"] = None
    finally:
        try:
            summary["ws_close"] = await sock.close()
        except Exception as exc:  # noqa: BLE001
            summary["ws_close"] = {"error": repr(exc)}
        summary["ws_received_events"] = [m.get("event") if isinstance(m, dict) else None
                                         for m in sock.received]


def main():
    args = parse_args()
    summary = {"base": args.base, "room": args.room, "message": args.message,
               "accept": args.accept, "content_type": args.content_type,
               "rest_field": args.rest_field, "auth": args.auth}
    code = 0
    try:
        asyncio.run(run(args, summary))
    except Fatal as exc:
        summary["error"] = str(exc)
        code = 1
    except (requests.RequestException, OSError, asyncio.TimeoutError) as exc:
        summary["error"] = f"{type(exc).__name__}: {exc}"
        code = 1
    print(json.dumps(summary, ensure_ascii=False, default=str), flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
