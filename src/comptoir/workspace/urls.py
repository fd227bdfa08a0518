from django.urls import path

from comptoir.workspace import bulk, calls, canned, dashboard, filters, live, relations, views

app_name = "workspace"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("bulk", bulk.bulk, name="bulk"),
    path("responses/", canned.responses, name="responses"),
    path("responses/new", canned.new_response, name="new_response"),
    path("responses/<int:response_id>/edit", canned.edit_response, name="edit_response"),
    path("responses/<int:response_id>/delete", canned.delete_response, name="delete_response"),
    path("filters/save", filters.save, name="save_filter"),
    path("filters/<int:saved_id>/rename", filters.rename, name="rename_filter"),
    path("filters/<int:saved_id>/delete", filters.delete, name="delete_filter"),
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
    path("t/<str:ref>/responses", canned.picker, name="canned_picker"),
    path("t/<str:ref>/links/add", relations.add_link, name="link"),
    path("t/<str:ref>/links/remove", relations.remove_link, name="unlink"),
]
