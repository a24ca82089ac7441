from django.contrib.auth import get_user_model
from rest_framework import serializers

from .models import Message


class UserMiniSerializer(serializers.ModelSerializer):
    class Meta:
        model = get_user_model()
        fields = ["id", "username"]


class MessageSerializer(serializers.ModelSerializer):
    # Nested read representation. Being read_only it is simply ignored on input,
    # so nothing in the serializer notices when the view forgets to set it
    # (that is what makes the CHAT_BUG=sender_not_set bug reach the database).
    expediteur = UserMiniSerializer(read_only=True)

    class Meta:
        model = Message
        fields = ["id", "conversation", "message", "expediteur", "date_envoi", "lu"]
        read_only_fields = ["id", "conversation", "date_envoi", "lu"]


class MessageCreateSerializer(MessageSerializer):
    """Used for POST responses with CHAT_BUG=render_crash.

    The instance is saved fine; building the response then crashes because
    the method field dereferences a profile relation that does not exist
    -> AttributeError -> HTTP 500 although the message is stored and broadcast.
    """

    apercu = serializers.SerializerMethodField()

    class Meta(MessageSerializer.Meta):
        fields = MessageSerializer.Meta.fields + ["apercu"]

    def get_apercu(self, obj):
        return f"{obj.expediteur.profile.nom_affiche}: {obj.message[:40]}"
