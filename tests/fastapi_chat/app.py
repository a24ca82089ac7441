"""A small but real FastAPI chat backend with switchable bugs, for wsdiag's e2e tests.

    CHAT_DB=/tmp/chat.sqlite3 CHAT_BUG=no-sender CHAT_DEBUG=1 python run_backend.py

Messages are sent two ways and end up in the same SQLite table:

* WebSocket ``/ws/rooms/{room}?token=...``: the client sends
  ``{"event": "message.send", "payload": {"text": "cc"}}``; the message is saved
  with the socket's user as sender and broadcast to the room as
  ``{"event": "message.created", "payload": {MessageOut}}``. This path is always right.
* REST ``POST /api/rooms/{room}/messages`` with ``{"text": "cc"}`` and
  ``Authorization: Bearer <token>`` -> 201 MessageOut + the same broadcast.
  CHAT_BUG swaps in a realistically broken version of this one handler:

  ``none``              the correct handler
  ``no-sender``         never sets ``sender`` -> sqlalchemy IntegrityError
                        (NOT NULL constraint failed: messages.sender) -> 500
  ``error-after-save``  saves + broadcasts, then returns the row through a
                        response_model whose field is ``author`` (renamed from
                        ``sender``) -> FastAPI ResponseValidationError -> 500,
                        but the message IS saved
  ``wrong-field``       the body model wants ``content`` where the frontend
                        sends ``text`` -> 422 {"detail": [{"type": "missing", ...}]}
  ``no-user``           the route lost ``Depends(get_current_user)`` (``user=None``)
                        and reads ``user.name`` -> AttributeError -> 500

CHAT_DEBUG=1 (default) -> FastAPI(debug=True): Starlette's ServerErrorMiddleware
answers unhandled exceptions with a traceback (HTML if Accept contains
"text/html", plain text otherwise). CHAT_DEBUG=0 -> "Internal Server Error".
"""

import base64
import hashlib
import hmac
import json
import os
import tempfile
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timezone

from fastapi import Depends, FastAPI, HTTPException, WebSocket, WebSocketDisconnect, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import DateTime, Integer, String, Text, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

BUGS = ("none", "no-sender", "error-after-save", "wrong-field", "no-user")


def current_bug() -> str:
    bug = os.environ.get("CHAT_BUG", "none") or "none"
    if bug not in BUGS:
        raise SystemExit(f"CHAT_BUG={bug!r}: expected one of {', '.join(BUGS)}")
    return bug


def debug_enabled() -> bool:
    return os.environ.get("CHAT_DEBUG", "1") not in ("0", "", "false", "False", "no")


BUG = current_bug()
DEBUG = debug_enabled()


# --------------------------------------------------------------------------- database

def _db_path() -> str:
    path = os.environ.get("CHAT_DB")
    if not path:  # `uvicorn app:app` without run_backend.py
        path = os.path.join(tempfile.mkdtemp(prefix="fastapi_chat_"), "chat.sqlite3")
        os.environ["CHAT_DB"] = path
    return path


engine = create_engine(f"sqlite:///{_db_path()}", connect_args={"check_same_thread": False})
SessionLocal = sessionmaker(bind=engine, autoflush=False, expire_on_commit=False)


class Base(DeclarativeBase):
    pass


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Message(Base):
    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room: Mapped[str] = mapped_column(String(100), index=True)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    sender: Mapped[str] = mapped_column(String(50), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)

    def __repr__(self) -> str:  # shows up in tracebacks and validation errors
        return f"Message(id={self.id!r}, room={self.room!r}, sender={self.sender!r}, text={self.text!r})"


def get_db():
    db = SessionLocal()
    try:
        yield db
    finally:
        db.close()


# --------------------------------------------------------------------------- schemas

class MessageIn(BaseModel):
    text: str


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    room: str
    text: str
    sender: str
    created_at: datetime


class LoginIn(BaseModel):
    username: str
    password: str


class TokenOut(BaseModel):
    access: str
    token_type: str = "bearer"


# --------------------------------------------------------------------------- users

@dataclass(frozen=True)
class User:
    name: str


PASSWORDS = {"alice": "alice-pass", "bob": "bob-pass"}
# Fixed tokens (tests and curl), in addition to the JWTs handed out by /api/login.
FIXED_TOKENS = {"alice-token": "alice", "bob-token": "bob"}
JWT_SECRET = b"wsdiag-fastapi-chat-not-a-secret"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue_jwt(username: str) -> str:
    """An HS256 JWT (stdlib only, no PyJWT): header.payload.signature."""
    now = int(time.time())
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64url(json.dumps({"sub": username, "iat": now, "exp": now + 3600},
                                 separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}".encode()
    signature = _b64url(hmac.new(JWT_SECRET, signing_input, hashlib.sha256).digest())
    return f"{header}.{payload}.{signature}"


def user_from_token(token: str | None) -> User | None:
    if not token:
        return None
    if token in FIXED_TOKENS:
        return User(FIXED_TOKENS[token])
    try:
        header, payload, signature = token.split(".")
        expected = _b64url(hmac.new(JWT_SECRET, f"{header}.{payload}".encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(signature, expected):
            return None
        claims = json.loads(_b64url_decode(payload))
    except ValueError:
        return None
    if claims.get("exp", 0) < time.time() or claims.get("sub") not in PASSWORDS:
        return None
    return User(claims["sub"])


bearer = HTTPBearer(auto_error=False)


def get_current_user(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> User:
    user = user_from_token(credentials.credentials if credentials else None)
    if user is None:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="Invalid or missing token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return user


# --------------------------------------------------------------------------- rooms

class ConnectionManager:
    def __init__(self) -> None:
        self.rooms: dict[str, set[WebSocket]] = {}

    async def connect(self, room: str, websocket: WebSocket) -> None:
        await websocket.accept()
        self.rooms.setdefault(room, set()).add(websocket)

    def disconnect(self, room: str, websocket: WebSocket) -> None:
        self.rooms.get(room, set()).discard(websocket)

    async def broadcast(self, room: str, event: dict) -> None:
        for websocket in list(self.rooms.get(room, ())):
            try:
                await websocket.send_json(event)
            except Exception:  # noqa: BLE001 - a socket that went away
                self.disconnect(room, websocket)


manager = ConnectionManager()


def created_event(message: Message) -> dict:
    return {"event": "message.created",
            "payload": MessageOut.model_validate(message).model_dump(mode="json")}


# --------------------------------------------------------------------------- app

@asynccontextmanager
async def lifespan(app: FastAPI):
    Base.metadata.create_all(engine)
    yield


app = FastAPI(title="wsdiag fastapi_chat", debug=DEBUG, lifespan=lifespan)


@app.post("/api/login", response_model=TokenOut)
async def login(body: LoginIn):
    if PASSWORDS.get(body.username) != body.password:
        raise HTTPException(status_code=status.HTTP_401_UNAUTHORIZED, detail="Incorrect username or password")
    return TokenOut(access=issue_jwt(body.username))


@app.get("/api/rooms/{room}/messages", response_model=list[MessageOut])
async def list_messages(room: str, db: Session = Depends(get_db),
                        user: User = Depends(get_current_user)):
    return db.scalars(select(Message).where(Message.room == room).order_by(Message.id)).all()


# The REST send. Exactly one of these definitions is registered, chosen by CHAT_BUG;
# each buggy one is the correct one with a single realistic mistake.

if BUG == "none":
    @app.post("/api/rooms/{room}/messages", response_model=MessageOut, status_code=201)
    async def create_message(room: str, body: MessageIn, db: Session = Depends(get_db),
                             user: User = Depends(get_current_user)):
        message = Message(room=room, text=body.text, sender=user.name)
        db.add(message)
        db.commit()
        db.refresh(message)
        await manager.broadcast(room, created_event(message))
        return message

elif BUG == "no-sender":
    # Bug: copied from the WebSocket handler without `sender=user.name`.
    @app.post("/api/rooms/{room}/messages", response_model=MessageOut, status_code=201)
    async def create_message(room: str, body: MessageIn, db: Session = Depends(get_db),
                             user: User = Depends(get_current_user)):
        message = Message(room=room, text=body.text)
        db.add(message)
        db.commit()
        db.refresh(message)
        await manager.broadcast(room, created_event(message))
        return message

elif BUG == "error-after-save":
    # Bug: the REST schema renamed `sender` to `author`; the ORM row still has `sender`.
    class MessageRead(BaseModel):
        model_config = ConfigDict(from_attributes=True)

        id: int
        room: str
        text: str
        author: str
        created_at: datetime

    @app.post("/api/rooms/{room}/messages", response_model=MessageRead, status_code=201)
    async def create_message(room: str, body: MessageIn, db: Session = Depends(get_db),
                             user: User = Depends(get_current_user)):
        message = Message(room=room, text=body.text, sender=user.name)
        db.add(message)
        db.commit()
        db.refresh(message)
        await manager.broadcast(room, created_event(message))
        return message

elif BUG == "wrong-field":
    # Bug: the body model says `content`; the frontend (and the WebSocket) say `text`.
    class MessageCreate(BaseModel):
        content: str

    @app.post("/api/rooms/{room}/messages", response_model=MessageOut, status_code=201)
    async def create_message(room: str, body: MessageCreate, db: Session = Depends(get_db),
                             user: User = Depends(get_current_user)):
        message = Message(room=room, text=body.content, sender=user.name)
        db.add(message)
        db.commit()
        db.refresh(message)
        await manager.broadcast(room, created_event(message))
        return message

elif BUG == "no-user":
    # Bug: `user: User = Depends(get_current_user)` became `user=None`, which FastAPI
    # takes for an optional query parameter: user is None, and no 401 either.
    @app.post("/api/rooms/{room}/messages", response_model=MessageOut, status_code=201)
    async def create_message(room: str, body: MessageIn, db: Session = Depends(get_db),
                             user=None):
        message = Message(room=room, text=body.text, sender=user.name)
        db.add(message)
        db.commit()
        db.refresh(message)
        await manager.broadcast(room, created_event(message))
        return message


class WsSend(BaseModel):
    event: str
    payload: dict


@app.websocket("/ws/rooms/{room}")
async def room_socket(websocket: WebSocket, room: str, token: str | None = None):
    user = user_from_token(token)
    if user is None:
        # Closing before accept(): uvicorn answers the handshake with HTTP 403.
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION)
        return
    await manager.connect(room, websocket)
    try:
        while True:
            raw = await websocket.receive_text()
            try:
                frame = WsSend.model_validate_json(raw)
                text = frame.payload.get("text")
            except ValidationError:
                frame, text = None, None
            if frame is None or frame.event != "message.send" or not isinstance(text, str) or not text:
                await websocket.send_json({"event": "error", "payload": {
                    "detail": 'expected {"event": "message.send", "payload": {"text": "..."}}'}})
                continue
            with SessionLocal() as db:
                message = Message(room=room, text=text, sender=user.name)
                db.add(message)
                db.commit()
                db.refresh(message)
            await manager.broadcast(room, created_event(message))
    except WebSocketDisconnect:
        pass
    finally:
        manager.disconnect(room, websocket)
