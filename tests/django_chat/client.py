#!/usr/bin/env python3
"""A scripted "frontend" for the django_chat backend.

    python client.py --base http://127.0.0.1:PORT [--conversation 3] [--message cc]
                     [--rest-field message|contenu] [--auth session|token]
                     [--accept json|html|strict-json]

Steps: log in alice (and bob, the observer), GET the message list (page load),
open both WebSockets, wait for the initial server pushes, send the message over
the WebSocket and wait for its broadcast, POST the same message over REST, GET
the list again, wait for the REST-created message's broadcast if it was saved,
close the sockets, and print ONE line of JSON describing what happened.

Exit status is 0 whenever the summary could be produced, whatever the REST
outcome (the failures are the point); 1 only if the run itself could not happen
(backend unreachable, login refused, socket refused ...; the summary then has
"error").
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

USERS = {"alice": "alice-pass", "bob": "bob-pass"}

ACCEPT = {
    # axios' default Accept header
    "json": "application/json, text/plain, */*",
    # a browser navigation
    "html": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    # JSON only, no */*  (the only variant for which Django's DEBUG 500 page is text/plain)
    "strict-json": "application/json",
}


class Fatal(Exception):
    pass


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base", required=True, help="http://127.0.0.1:PORT (backend or proxy)")
    p.add_argument("--conversation", type=int, default=3)
    p.add_argument("--message", default="cc")
    p.add_argument("--rest-field", default="message", help="JSON key of the REST body (message|contenu)")
    p.add_argument("--auth", choices=["session", "token"], default="session")
    p.add_argument("--accept", choices=sorted(ACCEPT), default="json",
                   help="Accept header of the REST POST (json = axios default)")
    p.add_argument("--timeout", type=float, default=10.0, help="per-wait timeout, seconds")
    p.add_argument("--content-type", default="application/json",
                   help="Content-Type of the REST POST; text/plain;charset=UTF-8 is what "
                        "fetch() sends for a string body without headers")
    p.add_argument("--rest-body-out", help="write the raw REST POST response body to this file")
    return p.parse_args()


# --------------------------------------------------------------------------- HTTP

class Account:
    """One logged-in user: requests.Session + how to authenticate REST and WS."""

    def __init__(self, base, auth, username, timeout):
        self.base = base.rstrip("/")
        self.auth = auth
        self.username = username
        self.timeout = timeout
        self.http = requests.Session()
        self.token = None
        self.user_id = None
        self.login_status = None

    def login(self):
        body = {"username": self.username, "password": USERS[self.username]}
        if self.auth == "session":
            r = self.http.get(f"{self.base}/api/csrf/", timeout=self.timeout)
            r.raise_for_status()
            r = self.http.post(
                f"{self.base}/api/login/", json=body, timeout=self.timeout,
                headers={"X-CSRFToken": self.http.cookies.get("csrftoken", ""),
                         **self.origin_headers()},
            )
        else:  # token: the login response's cookies are deliberately not kept
            r = requests.post(f"{self.base}/api/login/", json=body, timeout=self.timeout)
        self.login_status = r.status_code
        if r.status_code != 200:
            raise Fatal(f"login {self.username}: HTTP {r.status_code}: {r.text[:200]}")
        data = r.json()
        self.token = data["token"]
        self.user_id = data.get("user", {}).get("id")

    def origin_headers(self):
        return {"Origin": self.base, "Referer": f"{self.base}/"}

    def rest_headers(self, accept):
        headers = {"Accept": accept}
        if self.auth == "session":
            headers["X-CSRFToken"] = self.http.cookies.get("csrftoken", "")
            headers.update(self.origin_headers())
        else:
            headers["Authorization"] = f"Token {self.token}"
        return headers

    def ws_url_and_headers(self, conversation):
        parts = urlsplit(self.base)
        scheme = "wss" if parts.scheme == "https" else "ws"
        url = f"{scheme}://{parts.netloc}/ws/chat/{conversation}/"
        headers = {}
        if self.auth == "session":
            cookies = "; ".join(f"{c.name}={c.value}" for c in self.http.cookies)
            headers["Cookie"] = cookies
        else:
            url += f"?token={self.token}"
        return url, headers

    def list_messages(self, conversation):
        r = self.http.get(
            f"{self.base}/api/conversations/{conversation}/messages/",
            headers=self.rest_headers(ACCEPT["json"]), timeout=self.timeout,
        )
        out = {"status": r.status_code}
        try:
            out["items"] = r.json() if r.status_code == 200 else None
        except ValueError:
            out["items"] = None
        return out


def body_summary(r):
    text = r.text
    first_line = text.lstrip().split("\n", 1)[0] if text else ""
    out = {
        "status": r.status_code,
        "content_type": r.headers.get("Content-Type"),
        "length": len(r.content),
        "body_first_line": first_line[:300],
        "json": None,
    }
    if "json" in (r.headers.get("Content-Type") or ""):
        try:
            out["json"] = r.json()
        except ValueError:
            pass
    if out["json"] is None and "<title>" in text:
        out["html_title"] = text.split("<title>", 1)[1].split("</title>", 1)[0].strip()[:300]
    return out


# --------------------------------------------------------------------------- WebSocket

class Socket:
    """A connected WebSocket plus a reader task that records every frame."""

    def __init__(self, name, ws):
        self.name = name
        self.ws = ws
        self.received = []
        self.changed = asyncio.Condition()
        self.reader = asyncio.create_task(self._read())
        self.closed_by_server = None

    async def _read(self):
        try:
            async for raw in self.ws:
                try:
                    msg = json.loads(raw)
                except ValueError:
                    msg = {"type": "<non-json>", "raw": str(raw)[:200]}
                async with self.changed:
                    self.received.append(msg)
                    self.changed.notify_all()
        except ConnectionClosed:
            pass
        finally:
            self.closed_by_server = self.ws.close_code
            async with self.changed:
                self.changed.notify_all()

    async def wait_for(self, predicate, timeout):
        """Wait until some received message satisfies predicate; return it or None."""
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

    def types(self):
        return [m.get("type") for m in self.received]

    async def close(self):
        await self.ws.close(code=1000, reason="client done")
        await asyncio.wait_for(self.reader, 5)
        return {"code": self.ws.close_code, "reason": self.ws.close_reason}


async def open_socket(name, account, conversation, timeout):
    url, headers = account.ws_url_and_headers(conversation)
    try:
        ws = await connect(url, origin=account.base, additional_headers=headers,
                           open_timeout=timeout, max_size=2**22)
    except InvalidStatus as exc:
        raise Fatal(f"websocket {name} rejected: HTTP {exc.response.status_code}")
    except OSError as exc:
        raise Fatal(f"websocket {name}: {exc}")
    return Socket(name, ws)


def is_chat(text, msg_id=None):
    def pred(m):
        if m.get("type") != "chat_message":
            return False
        data = m.get("data") or {}
        if msg_id is not None:
            return data.get("id") == msg_id
        return data.get("message") == text
    return pred


def online_has(*names):
    return lambda m: m.get("type") == "online_users_update" and set(names) <= set(m.get("users", []))


# --------------------------------------------------------------------------- scenario

async def run(args, summary):
    conv, text, t = args.conversation, args.message, args.timeout
    alice = Account(args.base, args.auth, "alice", t)
    bob = Account(args.base, args.auth, "bob", t)
    loop = asyncio.get_running_loop()

    await loop.run_in_executor(None, alice.login)
    await loop.run_in_executor(None, bob.login)
    summary["login"] = {"alice": alice.login_status, "bob": bob.login_status}

    before = await loop.run_in_executor(None, alice.list_messages, conv)
    summary["list_before"] = {"status": before["status"],
                              "count": len(before["items"]) if before["items"] is not None else None}
    known_ids = {m["id"] for m in before["items"] or []}

    ws = summary["ws"] = {}
    sa = await open_socket("alice", alice, conv, t)
    sockets = [sa]
    try:
        sb = await open_socket("bob", bob, conv, t)
        sockets.append(sb)
        ws["connected"] = True

        # initial pushes: unread counter for each, presence list with both users
        init_ok = all([
            await sa.wait_for(lambda m: m.get("type") == "notifications_non_lues", t),
            await sb.wait_for(lambda m: m.get("type") == "notifications_non_lues", t),
            await sa.wait_for(online_has("alice", "bob"), t),
            await sb.wait_for(online_has("alice", "bob"), t),
        ])
        ws["initial_ok"] = bool(init_ok)
        ws["initial_types"] = {"alice": sa.types(), "bob": sb.types()}
        bob_unread = next((m["count"] for m in sb.received if m.get("type") == "notifications_non_lues"), None)
        ws["bob_unread_on_connect"] = bob_unread

        # 1) send over the WebSocket
        t0 = time.monotonic()
        await sa.ws.send(json.dumps({"type": "chat_message", "message": text}))
        got_a = await sa.wait_for(is_chat(text), t)
        got_b = await sb.wait_for(is_chat(text), t)
        ws["sent"] = True
        ws["delivered_to_alice"] = got_a is not None
        ws["delivered_to_bob"] = got_b is not None
        ws["delivered"] = got_a is not None and got_b is not None
        ws["delivery_ms"] = round((time.monotonic() - t0) * 1000, 1)
        ws_msg = (got_b or got_a or {}).get("data") or {}
        ws["message"] = ws_msg or None
        ws_id = ws_msg.get("id")
        if ws_id is not None:
            known_ids.add(ws_id)
        ws["bob_notification_personal"] = (
            await sb.wait_for(lambda m: m.get("type") == "notification_personal"
                              and m.get("message_id") == ws_id, t) is not None
        ) if ws_id is not None else False

        # 2) the same message over REST
        headers = {"Content-Type": args.content_type, **alice.rest_headers(ACCEPT[args.accept])}
        body = json.dumps({args.rest_field: text})
        r = await loop.run_in_executor(None, lambda: alice.http.post(
            f"{alice.base}/api/conversations/{conv}/messages/", data=body, headers=headers, timeout=t))
        summary["rest"] = rest = body_summary(r)
        rest["request"] = {"body": json.loads(body), "accept": headers["Accept"],
                           "auth": args.auth}
        if args.rest_body_out:
            with open(args.rest_body_out, "wb") as fh:
                fh.write(r.content)

        # 3) reload the list
        after = await loop.run_in_executor(None, alice.list_messages, conv)
        items = after["items"] or []
        new_rest = [m for m in items if m["id"] not in known_ids and m.get("message") == text]
        summary["list_after"] = {
            "status": after["status"],
            "count": len(items) if after["items"] is not None else None,
            "contains_ws_message": any(m["id"] == ws_id for m in items),
            "contains_rest_message": bool(new_rest),
            "rest_message_ids": [m["id"] for m in new_rest],
            "rest_message_expediteur": new_rest[0].get("expediteur") if new_rest else None,
        }

        # 4) a REST-saved message should be broadcast to the sockets as well
        if new_rest:
            rid = new_rest[0]["id"]
            seen_b = await sb.wait_for(is_chat(text, rid), t)
            seen_a = await sa.wait_for(is_chat(text, rid), t)
            summary["rest_broadcast"] = {"to_alice": seen_a is not None, "to_bob": seen_b is not None}
        else:
            summary["rest_broadcast"] = None
    finally:
        closes = {}
        for s in sockets:
            try:
                closes[s.name] = await s.close()
            except Exception as exc:  # noqa: BLE001
                closes[s.name] = {"error": repr(exc)}
        ws["close"] = closes
        ws["received_types"] = {s.name: s.types() for s in sockets}


def main():
    args = parse_args()
    summary = {
        "base": args.base, "auth": args.auth, "conversation": args.conversation,
        "message": args.message, "rest_field": args.rest_field, "accept": args.accept,
    }
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
