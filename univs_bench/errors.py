"""Exceptions that the CLI turns into one line on stderr and a non-zero exit."""


class InputError(ValueError):
    """Input that cannot be scored or converted as given.

    The message must name the file, video, frame or id at fault, so that a user knows
    what to fix (e.g. ``"pred/seqb/00003.png: object id 4 > 3 objects in GT of 'seqb'"``).
    """


class InputWarning(UserWarning):
    """Input that is scored but is probably not what the user meant (an empty results list,
    predictions for few of the GT videos); the CLI prints it as one line on stderr."""
