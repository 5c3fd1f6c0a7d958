"""What a message may say: wording rules shared by the core's template checks and by channels.

Public: a channel may import this module (the letter channel keeps debt wording off the
envelope).
"""

from __future__ import annotations

import re

# Words that would make a voicemail more than a limited-content message (Reg F §1006.2(j)),
# or show through an envelope's window that a letter is about a debt (FDCPA §808(8)).
DEBT_WORDS = re.compile(
    r"\b(debt|overdue|owe[sd]?|collection|collector|past due|arrears|balance|payment)\b"
    r"|欠款|逾期|催收|还款|债务|欠费",
    re.IGNORECASE,
)

__all__ = ["DEBT_WORDS"]
