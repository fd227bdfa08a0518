from django.urls import path

from comptoir.portal import auth, kb_views, views

app_name = "portal"

urlpatterns = [
    path("", views.tickets, name="tickets"),
    path("new/", views.new, name="new"),
    path("t/<str:ref>/", views.ticket, name="ticket"),
    path("t/<str:ref>/reply", views.reply, name="reply"),
    path("t/<str:ref>/do/<slug:action>", views.action, name="action"),
    path("t/<str:ref>/rate", views.rate, name="rate"),
    path("t/<str:ref>/files/<int:attachment_id>", views.attachment, name="attachment"),
    path("kb/", kb_views.index, name="kb"),
    path("kb/suggest", kb_views.suggest, name="kb_suggest"),
    path("kb/<int:article_id>/", kb_views.article_short, name="kb_short"),
    path("kb/<int:article_id>/<slug:slug>/", kb_views.article, name="kb_article"),
    path("kb/<int:article_id>/feedback", kb_views.feedback, name="kb_feedback"),
    path(
        "kb/<int:article_id>/files/<int:attachment_id>",
        kb_views.attachment,
        name="kb_attachment",
    ),
    path("sign-in-link/", auth.ask_signin_link, name="signin_link_ask"),
    path("sign-in-link/sent/", auth.signin_link_sent, name="signin_link_sent"),
    path("sign-in-link/<str:token>/", auth.signin_link, name="signin_link"),
]
