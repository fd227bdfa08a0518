"""Every change to the knowledge base (rule 1).

Each function takes the actor first, checks permission, validates, saves and announces the
change (``kb.events.ArticleChanged``, or ``ArticleDeleted`` before the rows go) in one
transaction. The portal, the workspace and the API call these and nothing else. One module per
group of verbs; import them from here.
"""

from comptoir.kb.services._common import (
    MAX_BODY,
    MAX_COMMENT,
    MAX_TAGS,
    MAX_TITLE,
    clean_language,
    languages,
)
from comptoir.kb.services.articles import (
    MOVES,
    add_variant,
    allowed_actions,
    archive_article,
    change_article_settings,
    create_article,
    delete_article,
    edit_variant,
    mark_article_reviewed,
    move_article,
    publish_article,
    restore_version,
    return_article_to_draft,
    review_days,
    save_variant,
    submit_article,
)
from comptoir.kb.services.files import (
    Upload,
    add_article_attachment,
    add_article_attachments,
    prune_orphan_article_files,
)
from comptoir.kb.services.readers import (
    deflection_minutes,
    give_feedback,
    note_ticket_opened,
    record_deflection_candidate,
    record_view,
)
from comptoir.kb.services.tickets import (
    PORTAL_ARTICLE_PATH,
    article_insert,
    draft_article_from_ticket,
    draft_body,
    link_article,
    portal_url,
    unlink_article,
)

__all__ = [
    "MAX_BODY",
    "MAX_COMMENT",
    "MAX_TAGS",
    "MAX_TITLE",
    "MOVES",
    "PORTAL_ARTICLE_PATH",
    "Upload",
    "add_article_attachment",
    "add_article_attachments",
    "add_variant",
    "allowed_actions",
    "archive_article",
    "article_insert",
    "change_article_settings",
    "clean_language",
    "create_article",
    "deflection_minutes",
    "delete_article",
    "draft_article_from_ticket",
    "draft_body",
    "edit_variant",
    "give_feedback",
    "languages",
    "link_article",
    "mark_article_reviewed",
    "move_article",
    "note_ticket_opened",
    "portal_url",
    "prune_orphan_article_files",
    "publish_article",
    "record_deflection_candidate",
    "record_view",
    "restore_version",
    "return_article_to_draft",
    "review_days",
    "save_variant",
    "submit_article",
    "unlink_article",
]
