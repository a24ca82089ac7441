"""The chat WebSocket: ws://HOST/ws/chat/<conversation_id>/"""
from collections import Counter, defaultdict

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from .broadcast import (
    GENERAL_GROUP,
    abroadcast_message,
    conversation_group,
    unread_count,
    user_group,
)
from .models import Conversation, Message

# Presence bookkeeping. Fine for a single daphne process + in-memory layer.
ONLINE = defaultdict(Counter)  # conversation_id -> Counter(username -> sockets)
USER_SOCKETS = Counter()  # user_id -> open sockets (any conversation)

CLOSE_UNAUTHENTICATED = 4001
CLOSE_NOT_MEMBER = 4003


class ChatConsumer(AsyncJsonWebsocketConsumer):
    joined = False

    async def connect(self):
        self.user = self.scope.get("user")
        self.conversation_id = int(self.scope["url_route"]["kwargs"]["conversation_id"])
        if self.user is None or not self.user.is_authenticated:
            await self.accept()
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        if not await self._is_member():
            await self.accept()
            await self.close(code=CLOSE_NOT_MEMBER)
            return

        self.group = conversation_group(self.conversation_id)
        for group in (self.group, user_group(self.user.pk), GENERAL_GROUP):
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        self.joined = True

        ONLINE[self.conversation_id][self.user.username] += 1
        first_socket_of_user = USER_SOCKETS[self.user.pk] == 0
        USER_SOCKETS[self.user.pk] += 1

        await self._broadcast_online_users()
        count = await database_sync_to_async(unread_count)(self.user)
        await self.send_json({"type": "notifications_non_lues", "count": count})
        if first_socket_of_user:
            await self.channel_layer.group_send(
                GENERAL_GROUP,
                {
                    "type": "notification.general",
                    "data": {
                        "event": "user_online",
                        "username": self.user.username,
                        "message": f"{self.user.username} est en ligne",
                    },
                },
            )

    async def disconnect(self, code):
        if not self.joined:
            return
        self.joined = False
        online = ONLINE[self.conversation_id]
        online[self.user.username] -= 1
        if online[self.user.username] <= 0:
            del online[self.user.username]
        USER_SOCKETS[self.user.pk] -= 1
        if USER_SOCKETS[self.user.pk] <= 0:
            del USER_SOCKETS[self.user.pk]
        for group in (self.group, user_group(self.user.pk), GENERAL_GROUP):
            await self.channel_layer.group_discard(group, self.channel_name)
        await self._broadcast_online_users()

    async def receive_json(self, content, **kwargs):
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "chat_message":
            text = content.get("message")
            if not isinstance(text, str) or not text.strip():
                await self.send_json({"type": "error", "error": "message vide"})
                return
            message = await self._save_message(text)
            await abroadcast_message(self.channel_layer, message)
        elif kind == "ping":
            await self.send_json({"type": "pong"})
        else:
            await self.send_json({"type": "error", "error": f"type inconnu: {kind!r}"})

    # ---- group event handlers ("a.b" event type -> method a_b) ----
    async def chat_message(self, event):
        await self.send_json({"type": "chat_message", "data": event["data"]})

    async def online_users_update(self, event):
        await self.send_json({"type": "online_users_update", "users": event["users"]})

    async def notification_personal(self, event):
        await self.send_json({"type": "notification_personal", **event["data"]})

    async def notification_general(self, event):
        await self.send_json({"type": "notification_general", **event["data"]})

    # ---- helpers ----
    async def _broadcast_online_users(self):
        users = sorted(ONLINE[self.conversation_id])
        await self.channel_layer.group_send(
            self.group, {"type": "online.users.update", "users": users}
        )

    @database_sync_to_async
    def _is_member(self):
        return Conversation.objects.filter(
            pk=self.conversation_id, participants=self.user
        ).exists()

    @database_sync_to_async
    def _save_message(self, text):
        return Message.objects.create(
            conversation_id=self.conversation_id, expediteur=self.scope["user"], message=text
        )
