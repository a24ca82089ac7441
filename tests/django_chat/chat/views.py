from django.contrib.auth import authenticate, login
from django.http import JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import ensure_csrf_cookie
from rest_framework import generics, status
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from .broadcast import broadcast_message
from .bugs import current_bug
from .models import Conversation, Message
from .serializers import MessageCreateSerializer, MessageSerializer


@ensure_csrf_cookie
def csrf(request):
    """GET /api/csrf/ -> sets the csrftoken cookie."""
    return JsonResponse({"csrfToken": get_token(request)})


class LoginView(APIView):
    """POST /api/login/ {"username","password"} -> {"token": ...} + session cookie."""

    authentication_classes = []
    permission_classes = [AllowAny]

    def post(self, request):
        username = request.data.get("username")
        password = request.data.get("password")
        user = authenticate(request._request, username=username, password=password)
        if user is None:
            return Response(
                {"detail": "Identifiants invalides."}, status=status.HTTP_400_BAD_REQUEST
            )
        login(request._request, user)  # session cookie; rotates the CSRF token
        token, _ = Token.objects.get_or_create(user=user)
        get_token(request._request)  # make sure the (new) csrftoken cookie is sent
        return Response(
            {"token": token.key, "user": {"id": user.pk, "username": user.username}}
        )


class MessageListCreateView(generics.ListCreateAPIView):
    """GET/POST /api/conversations/<conversation_id>/messages/"""

    serializer_class = MessageSerializer

    def get_conversation(self):
        return get_object_or_404(
            Conversation, pk=self.kwargs["conversation_id"], participants=self.request.user
        )

    def get_queryset(self):
        conversation = self.get_conversation()
        return Message.objects.filter(conversation=conversation).select_related("expediteur")

    def get_serializer_class(self):
        if self.request.method == "POST" and current_bug() == "render_crash":
            return MessageCreateSerializer
        return MessageSerializer

    def perform_create(self, serializer):
        conversation = self.get_conversation()
        if current_bug() == "sender_not_set":
            # THE bug of the original app: expediteur never set ->
            # IntegrityError: NOT NULL constraint failed: chat_message.expediteur_id
            message = serializer.save(conversation=conversation)
        else:
            message = serializer.save(conversation=conversation, expediteur=self.request.user)
        broadcast_message(message)
