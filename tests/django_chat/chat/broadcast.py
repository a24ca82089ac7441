"""Group names and the fan-out shared by the consumer and the REST view."""
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from .models import Conversation, Message
from .serializers import MessageSerializer

GENERAL_GROUP = "notifications_general"


def conversation_group(conversation_id):
    return f"chat_{conversation_id}"


def user_group(user_id):
    return f"user_{user_id}"


def unread_count(user):
    return (
        Message.objects.filter(conversation__participants=user, lu=False)
        .exclude(expediteur=user)
        .distinct()
        .count()
    )


def message_payload(message):
    """Serialized message + per-recipient notification data (sync, touches the DB)."""
    data = dict(MessageSerializer(message).data)
    data["expediteur"] = dict(data["expediteur"]) if data["expediteur"] else None
    recipients = []
    conversation = Conversation.objects.get(pk=message.conversation_id)
    for user in conversation.participants.exclude(pk=message.expediteur_id):
        recipients.append((user.pk, unread_count(user)))
    return data, recipients


async def abroadcast_message(channel_layer, message):
    data, recipients = await database_sync_to_async(message_payload)(message)
    await channel_layer.group_send(
        conversation_group(message.conversation_id), {"type": "chat.message", "data": data}
    )
    sender = data["expediteur"]["username"] if data["expediteur"] else None
    for user_id, count in recipients:
        await channel_layer.group_send(
            user_group(user_id),
            {
                "type": "notification.personal",
                "data": {
                    "conversation": message.conversation_id,
                    "message_id": message.pk,
                    "expediteur": sender,
                    "apercu": message.message[:50],
                    "non_lues": count,
                },
            },
        )
    return data


def broadcast_message(message):
    """Sync wrapper for views (runs inside Django's sync thread under ASGI)."""
    return async_to_sync(abroadcast_message)(get_channel_layer(), message)
