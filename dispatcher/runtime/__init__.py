"""A config put to work: plugins found, settings checked, channels built, policy compiled.

- ``plugins``: plugin discovery through the entry-point group ``dispatcher``
- ``build``: ``load_runtime`` → a ``Runtime``, which the daemon swaps whole on reload
- ``versions``: hashes of the config directory, the policy and the templates
"""

from dispatcher.runtime.build import Runtime, build_runtime, load_runtime

__all__ = ["Runtime", "build_runtime", "load_runtime"]
