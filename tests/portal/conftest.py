"""The API tests' populated desk (``scene``) serves the page tests too."""

from tests.api.conftest import published, scene, watch  # noqa: F401
