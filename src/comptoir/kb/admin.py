"""The knowledge base in the admin: to look, not to write.

Articles change through the workspace and the API, whose services keep the versions, the audit
log and the search index in step; the admin shows them with their languages, versions, files,
feedback and links.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Prefetch
from django.utils.translation import gettext_lazy as _

from comptoir.kb.models import (
    Article,
    ArticleAttachment,
    ArticleTag,
    ArticleVariant,
    ArticleVersion,
    Deflection,
    Feedback,
    TicketArticle,
)


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class VariantInline(ReadOnlyInline):
    model = ArticleVariant
    fields = ("language", "title", "slug", "version", "updated_at")
    readonly_fields = fields
    show_change_link = True


class AttachmentInline(ReadOnlyInline):
    model = ArticleAttachment
    fields = ("filename", "content_type", "size", "uploaded_by", "created_at")
    readonly_fields = fields


class TicketLinkInline(ReadOnlyInline):
    model = TicketArticle
    fields = ("ticket", "linked_by", "created_at")
    readonly_fields = fields


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Article)
class ArticleAdmin(ReadOnlyAdmin):
    list_display = (
        "__str__",
        "title",
        "desk",
        "status",
        "visibility",
        "review_on",
        "views",
        "helpful",
        "not_helpful",
        "updated_at",
    )
    list_filter = ("desk", "status", "visibility")
    search_fields = ("variants__title",)
    list_select_related = ("desk",)
    show_full_result_count = False
    inlines = [VariantInline, AttachmentInline, TicketLinkInline]

    def get_queryset(self, request):
        titles = ArticleVariant.objects.only("id", "article_id", "title").order_by("id")
        return super().get_queryset(request).prefetch_related(Prefetch("variants", titles))

    @admin.display(description=_("title"))
    def title(self, obj: Article) -> str:
        variants = list(obj.variants.all())
        return variants[0].title if variants else ""


class VersionInline(ReadOnlyInline):
    model = ArticleVersion
    fields = ("number", "title", "author", "note", "restored_from", "created_at")
    readonly_fields = fields


@admin.register(ArticleVariant)
class ArticleVariantAdmin(ReadOnlyAdmin):
    list_display = ("title", "article", "language", "version", "updated_at")
    list_filter = ("language",)
    search_fields = ("title",)
    list_select_related = ("article",)
    readonly_fields = ("article", "language", "title", "slug", "version", "body", "updated_at")
    fields = readonly_fields
    inlines = [VersionInline]


@admin.register(ArticleTag)
class ArticleTagAdmin(ReadOnlyAdmin):
    """Tags come and go with the articles' settings, which keep the search index in step."""

    list_display = ("name",)
    search_fields = ("name",)


@admin.register(Feedback)
class FeedbackAdmin(ReadOnlyAdmin):
    list_display = ("article", "helpful", "language", "user", "created_at")
    list_filter = ("helpful", "language")
    list_select_related = ("article", "user")
    show_full_result_count = False


@admin.register(Deflection)
class DeflectionAdmin(ReadOnlyAdmin):
    list_display = ("article", "desk", "user", "query", "ticket", "created_at")
    list_filter = ("desk",)
    list_select_related = ("article", "desk", "user", "ticket")
    show_full_result_count = False
