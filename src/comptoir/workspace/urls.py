from django.urls import path

from comptoir.workspace import bulk, calls, dashboard, live, views

app_name = "workspace"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("bulk", bulk.bulk, name="bulk"),
    path("call/", calls.call, name="call"),
    path("call/people", calls.people, name="people"),
    path("t/<str:ref>/", views.ticket, name="ticket"),
    path("t/<str:ref>/comment", views.comment, name="comment"),
    path("t/<str:ref>/live", live.live, name="live"),
    path("preview", views.preview, name="preview"),
    path("dashboard/", dashboard.dashboard, name="dashboard"),
    path("t/<str:ref>/assign-me", views.assign_to_me, name="assign_me"),
    path("t/<str:ref>/do/<slug:action>", views.action, name="action"),
    path("t/<str:ref>/files/<int:attachment_id>", views.attachment, name="attachment"),
]
