# Generated from playbook/core/excerpts.py by `playbook contract --write`: edit that file, not this one.
"""Bounded quotes of user input for error messages: the one helper every error message that quotes input uses.

Why: an error that repeats what it refuses grows with the input (a 100k-character prompt gave a
100k-character error; 10,000 unknown keys a megabyte-sized one that took seconds to build). Here a quote
is at most ~``limit`` characters plus a count, and building it costs microseconds whatever the input:
strings are sliced before ``repr``, containers are looked at only as far as the excerpt needs
(a few items, a few levels, no sorting), and listings take only their first few names (``len`` gives the count).

This file has no dependencies beyond the standard library, because ``worker/imagegen/excerpts.py`` is
generated from it by ``playbook contract --write`` (the worker image must not import ``playbook``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sized
from itertools import islice

LIMIT = 200  # characters of user input an error message may quote

ITEMS, LEVELS, PART = 6, 3, 60  # per container, nesting levels, characters per string inside a container


def _brief(value, level: int = 0) -> str:
    """A short repr that looks at no more than ITEMS items per container and LEVELS levels (no sorting,
    no full pass over the input)."""
    if isinstance(value, str | bytes):
        return repr(value[:PART]) + ("..." if len(value) > PART else "")
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int):
        return repr(value) if value.bit_length() <= 200 else f"<integer of {value.bit_length():,} bits>"
    if isinstance(value, dict | list | tuple):
        opening, closing = ("{", "}") if isinstance(value, dict) else ("[", "]")
        if level >= LEVELS:
            return opening + "..." + closing
        if isinstance(value, dict):
            parts = [f"{_brief(k, level + 1)}: {_brief(v, level + 1)}" for k, v in islice(value.items(), ITEMS)]
        else:
            parts = [_brief(v, level + 1) for v in islice(value, ITEMS)]
        if len(value) > ITEMS:
            parts.append("...")
        return opening + ", ".join(parts) + closing
    if isinstance(value, float):
        return repr(value)
    return f"<{type(value).__name__}>"


def excerpt(value, limit: int = LIMIT) -> str:
    """A repr of ``value`` of about ``limit`` characters at most, saying how long the original was.

    >>> excerpt("x" * 100_000, 10)
    "'xxxxxxxx... (100,000 characters)"
    """
    if isinstance(value, str | bytes):
        text = repr(value[:limit])
        if len(value) > limit:
            return f"{text[:limit - 1]}... ({len(value):,} characters)"
        return text
    text = _brief(value)
    if len(text) > limit:
        text = text[:limit] + "..."
    if isinstance(value, dict | list | tuple) and len(value) > ITEMS:
        text += f" ({len(value):,} items)"
    return text


def clip(text, limit: int = LIMIT) -> str:
    """Plain text (a server's answer, an exception's message) cut to ``limit`` characters, saying how long it
    was: for text we show as it is, where ``excerpt`` shows a value's repr."""
    text = str(text)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def listing(items: Iterable, noun: str, count: int | None = None, limit: int = LIMIT, shown: int = 10) -> str:
    """``"10,000 unknown fields: 'a', 'b', 'c', ..."``: a count and the first few names, at most ``limit``
    characters of names. The count is ``count``, else ``len(items)`` when ``items`` is sized."""
    if count is None and isinstance(items, Sized):
        count = len(items)
    first = [excerpt(str(x), 40) for x in islice(iter(items), shown)]
    names, more = "", False
    for i, name in enumerate(first):
        if len(names) + len(name) > limit:
            more = True
            break
        names += (", " if i else "") + name
    more = more or count is None or count > len(first)
    count_text = "some" if count is None else f"{count:,}"
    return f"{count_text} {noun}: {names}{', ...' if more else ''}"


__all__ = ["LIMIT", "clip", "excerpt", "listing"]
