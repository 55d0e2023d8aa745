"""The neighbouring relations of a guarantee, as a typed value (docs/method.md §2).

`Relation` is a ``str`` enum: a member equals its name as text (``Relation.REMOVE == "remove"``), so it
can be handed to the accountant (`fusiondp.privacy.accounting`, keyed by these names) and written to JSON
unchanged, while code that builds a run record cannot hold a misspelt relation.

>>> Relation("remove") is Relation.REMOVE and Relation.REMOVE == "remove"
True
>>> Relation.ADD_REMOVE.level
'record'
"""

from __future__ import annotations

from enum import Enum


class Relation(str, Enum):
    """Which datasets the guarantee calls neighbours."""

    REMOVE = "remove"  # feature-level zero-out: a record's sensitive values vs their public stand-in
    REPLACE = "replace"  # feature-level replace-one: any two values of one record's sensitive features
    ADD_REMOVE = "add_remove"  # record-level add/remove of a whole record

    def __str__(self) -> str:
        return self.value

    @property
    def level(self) -> str:
        """'record' for add/remove, else 'feature' (the level the relation itself speaks of)."""
        return "record" if self is Relation.ADD_REMOVE else "feature"

    def text(self, *, private_view: str | None = None, level: str = "feature") -> str:
        """One sentence on what the relation protects, for the method that was run (`relation_text`)."""
        from fusiondp.privacy.accounting import relation_text

        return relation_text(self.value, private_view=private_view, level=level)
