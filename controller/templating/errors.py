"""Template errors: both are permanent, since the same template fails the same way again."""

from __future__ import annotations

from controller.errors import PermanentError


class TemplateError(PermanentError):
    """A template cannot be rendered (undefined variable, failing filter, output too large).

    Messages name variables, keys and types but never values: they reach logs and reports,
    and a value may be a secret.
    """


class TemplateSyntaxError(TemplateError):
    """A template does not parse; ``offset`` is the 0-based index of the problem in ``text``."""

    def __init__(self, message: str, text: str, offset: int) -> None:
        super().__init__(f"{message} (at offset {offset})")
        self.message = message
        self.text = text
        self.offset = offset
