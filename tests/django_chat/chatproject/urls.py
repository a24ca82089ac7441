from django.urls import path

from chat import views

urlpatterns = [
    path("api/csrf/", views.csrf, name="csrf"),
    path("api/login/", views.LoginView.as_view(), name="login"),
    path(
        "api/conversations/<int:conversation_id>/messages/",
        views.MessageListCreateView.as_view(),
        name="conversation-messages",
    ),
]
