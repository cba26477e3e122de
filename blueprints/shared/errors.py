"""The one base of our refusals: a code names the reason, the feature's message table the words."""

from __future__ import annotations


class Refusal(ValueError):
    """Input or a change we refuse; `code` names the reason (subclasses add what the text needs)."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code
