"""Errors the engine raises for input a person can fix.

The Processing adapters turn an :class:`InputError` into a ``QgsProcessingException`` whose
message names the parameter and says how to fix it; anything else is a bug and keeps its traceback.
"""


class InputError(ValueError):
    """Bad input that a person can correct.

    ``parameter`` is the adapter-level parameter name (e.g. ``"INPUT"``) when the engine knows it,
    so the message can point at the right widget.
    """

    def __init__(self, message, parameter=None):
        super().__init__(message)
        self.message = message
        self.parameter = parameter

    def __str__(self):
        return self.message


class Canceled(Exception):
    """The user asked to stop; whatever was being written has been removed."""
