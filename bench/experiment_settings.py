"""Comptoir's settings with one change, to measure a proposed fix (never used in production).

The benchmark scripts start ``comptoir serve`` with ``DJANGO_SETTINGS_MODULE=experiment_settings``
(and ``bench/`` on ``PYTHONPATH``) when given ``--conn-max-age`` or ``--server-side-binding``:
every setting stays as ``comptoir.config.settings`` computes it, except these.

* ``BENCH_CONN_MAX_AGE``: the database connection's lifetime in seconds (``none``: unlimited).
* ``BENCH_SERVER_SIDE_BINDING=1``: PostgreSQL only; psycopg binds parameters on the server and
  prepares a statement once it has run five times on a connection (``prepare_threshold=5``; Django
  turns prepared statements off by default), so its plan is reused instead of made again.
"""

import os

from comptoir.config.settings import *  # noqa: F403
from comptoir.config.settings import DATABASES

_age = os.environ.get("BENCH_CONN_MAX_AGE")
if _age:
    DATABASES["default"]["CONN_MAX_AGE"] = None if _age == "none" else int(_age)

if (
    os.environ.get("BENCH_SERVER_SIDE_BINDING") == "1"
    and "postgresql" in DATABASES["default"]["ENGINE"]
):
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        server_side_binding=True, prepare_threshold=5
    )
