"""Size limits on what requests carry: text to speak, names, and model counts per key.

One helper per kind of value, so that every route refuses the same things with the same words.
"""

from __future__ import annotations

from digihuman.errors import InvalidInput, TooLarge, TooManyTasks
from digihuman.services import Services

# The name columns of tasks, voice models and avatar models hold this many characters.
MAX_NAME_CHARS = 200


def check_text(services: Services, text: str, field: str) -> str:
    """``text`` to speak, refused (413) when longer than the server's text limit."""
    limit = services.settings.max_text_chars
    if len(text) > limit:
        raise TooLarge(f"{field} is {len(text)} characters long; the limit is {limit} characters, "
                       "so split the text into several requests.")
    return text


def check_name(name: str, field: str) -> str:
    """A model or work name, refused (400) when longer than the name columns hold."""
    if len(name) > MAX_NAME_CHARS:
        raise InvalidInput(f"{field} is {len(name)} characters long; give a name of at most {MAX_NAME_CHARS}.")
    return name


def check_voice_model_quota(services: Services, owner: str) -> None:
    """429 when the key already keeps its quota of voice models."""
    limit = services.settings.max_voice_models_per_key
    if services.catalog.count_voices(owner) >= limit:
        raise TooManyTasks(f"this API key already has {limit} voice models; delete one (DELETE /model/{{id}}) "
                           "before creating another.")


def check_avatar_model_quota(services: Services, owner: str) -> None:
    """429 when the key already keeps its quota of avatar models."""
    limit = services.settings.max_avatar_models_per_key
    if services.catalog.count_avatars(owner) >= limit:
        raise TooManyTasks(f"this API key already has {limit} avatar models; ask the operator to raise "
                           "DIGIHUMAN_MAX_AVATAR_MODELS_PER_KEY or reuse one of them.")
