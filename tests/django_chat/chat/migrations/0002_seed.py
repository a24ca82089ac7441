"""Seed data: alice (id 1) and bob (id 2), conversation 3 with both, fixed DRF tokens."""
from django.contrib.auth.hashers import make_password
from django.db import migrations

USERS = [
    # (id, username, password, DRF token key -- 40 chars)
    (1, "alice", "alice-pass", "a11ce00000000000000000000000000000000001"),
    (2, "bob", "bob-pass", "b0b0000000000000000000000000000000000002"),
]
CONVERSATION_ID = 3


def seed(apps, schema_editor):
    User = apps.get_model("auth", "User")
    Token = apps.get_model("authtoken", "Token")
    Conversation = apps.get_model("chat", "Conversation")
    users = []
    for pk, username, password, key in USERS:
        user = User.objects.create(
            id=pk, username=username, password=make_password(password), is_active=True
        )
        Token.objects.create(key=key, user=user)
        users.append(user)
    conversation = Conversation.objects.create(id=CONVERSATION_ID, titre="alice & bob")
    conversation.participants.set(users)


def unseed(apps, schema_editor):
    apps.get_model("chat", "Conversation").objects.filter(id=CONVERSATION_ID).delete()
    apps.get_model("auth", "User").objects.filter(id__in=[u[0] for u in USERS]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("authtoken", "0004_alter_tokenproxy_options"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
