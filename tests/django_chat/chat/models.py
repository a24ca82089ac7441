from django.conf import settings
from django.db import models


class Conversation(models.Model):
    titre = models.CharField(max_length=200, blank=True, default="")
    participants = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="conversations")
    date_creation = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"Conversation {self.pk}"


class Message(models.Model):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    expediteur = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="messages_envoyes"
    )
    message = models.TextField()
    date_envoi = models.DateTimeField(auto_now_add=True)
    lu = models.BooleanField(default=False)

    class Meta:
        ordering = ["date_envoi", "id"]

    def __str__(self):
        return f"{self.expediteur_id}: {self.message[:30]}"
