"""``/api/v1/kb``: each endpoint is input schema → selector or service → output schema.

``/kb/public/…`` answers without signing in, as a reader without an account: published public
articles only; anything else is "not found".

One module per group of endpoints, all on the one ``router`` of ``_common``; import it from here.
"""

from comptoir.kb.api._common import router

# Each module registers its endpoints on ``router`` when it is imported, so this order is the
# order of the endpoints (in the OpenAPI document and in URL matching): keep it.
# isort: off
from comptoir.kb.api import articles, versions, readers, files, tickets, figures, public  # noqa: F401
# isort: on

__all__ = ["router"]
