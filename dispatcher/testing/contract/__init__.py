"""The channel contract suite: subclass ``ChannelContract`` in a test module and pytest checks
that the channel declares itself properly, sends once per call, raises the core's error types,
never sleeps or retries, takes its capacity in ``ready`` and never waits for it in ``send``,
validates its settings, opens and closes safely, and keeps personal data out of logs and
errors.

Each check is a test method; a failure says what to change in the channel. The checks come in
parts by what they check, one module each; ``ChannelContract`` composes them.
"""

from __future__ import annotations

from dispatcher.testing.contract.capacity import CapacityChecks
from dispatcher.testing.contract.classification import ClassificationChecks
from dispatcher.testing.contract.declaration import DeclarationChecks
from dispatcher.testing.contract.lifecycle import LifecycleChecks
from dispatcher.testing.contract.privacy import PrivacyChecks
from dispatcher.testing.contract.reconcile import ReconcileChecks
from dispatcher.testing.contract.sending import SendingChecks
from dispatcher.testing.contract.settings import SettingsChecks


# pytest collects the tests of the last base first (reverse MRO): the parts are listed last to
# first, so a subclass runs the checks in the order docs/plugins.md lists them.
class ChannelContract(
    ReconcileChecks,
    PrivacyChecks,
    LifecycleChecks,
    SettingsChecks,
    CapacityChecks,
    ClassificationChecks,
    SendingChecks,
    DeclarationChecks,
):
    """Base class of a channel's contract tests. Set ``channel_class`` (and ``entry_point``, the
    name under ``[project.entry-points.dispatcher]``; ``capacity`` when the channel limits the
    messages under way) and provide the fixtures ``peer``,
    ``valid_settings``, ``bad_settings``, ``transient_failures`` and ``permanent_failures``.
    """
