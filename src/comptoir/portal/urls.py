from django.urls import path

from comptoir.portal import views

app_name = "portal"

urlpatterns = [
    path("", views.tickets, name="tickets"),
    path("new/", views.new, name="new"),
    path("t/<str:ref>/", views.ticket, name="ticket"),
    path("t/<str:ref>/reply", views.reply, name="reply"),
    path("t/<str:ref>/do/<slug:action>", views.action, name="action"),
    path("t/<str:ref>/files/<int:attachment_id>", views.attachment, name="attachment"),
]
