"""Every exception ``digit_core`` raises, in one place.

Library code raises these; only ``app.py`` and the scripts turn them into messages for people.
Each message names the input, what was received and what is accepted.
"""

from __future__ import annotations

__all__ = [
    "DigitCoreError",
    "InvalidImageError",
    "NoDigitFoundError",
    "NotADigitError",
    "UntrustedModelError",
    "ModelLoadError",
    "InvalidLabelError",
    "DatasetError",
    "FlagStoreError",
    "RateLimitedError",
    "FlagNotFoundError",
    "HubPublishError",
    "HubAuthError",
]


class DigitCoreError(Exception):
    """Base class of every error raised by ``digit_core``."""


class InvalidImageError(DigitCoreError, ValueError):
    """The input is not an image we can read (corrupt, empty, too large, wrong shape or dtype)."""


class NoDigitFoundError(DigitCoreError, ValueError):
    """The image holds no ink: blank, uniform, or only specks of noise."""


class NotADigitError(NoDigitFoundError):
    """What was drawn or scanned does not look like a digit (a letter, a scribble, a blot)."""


class UntrustedModelError(DigitCoreError):
    """A model file holds a type outside the fixed trusted list, so it is not loaded."""


class ModelLoadError(DigitCoreError):
    """A model could not be found, downloaded or read."""


class InvalidLabelError(DigitCoreError, ValueError):
    """A label is not an integer digit 0-9."""


class DatasetError(DigitCoreError):
    """A dataset folder or file is missing or malformed."""


class FlagStoreError(DigitCoreError):
    """A flag could not be saved: the store is full, or the disk refused the write."""


class RateLimitedError(DigitCoreError):
    """One client sent more flags than the rate limit allows; the message says when to try again."""


class FlagNotFoundError(DigitCoreError, ValueError):
    """A flag id (or id prefix) given for review matches no stored sample, or more than one."""


class HubPublishError(DigitCoreError):
    """A model could not be published to the Hugging Face Hub (refused, offline, no such repository)."""


class HubAuthError(HubPublishError, PermissionError):
    """Writing to the Hugging Face Hub needs a token with write access and none is available."""
