"""The daemon's tests use the API's fixtures too: its whole HTTP app over the example
deployment with test tokens (``api``, ``with_tokens``)."""

from tests.api.conftest import api, with_tokens

__all__ = ["api", "with_tokens"]
