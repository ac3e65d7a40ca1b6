"""Structure rules of the clustering step: which differing tokens are template text, and bucket keys.

Pure functions of two tokens (or of a token list), cached, so clustering the few distinct masked
strings stays cheap. Each rule is a general log-variable or log-structure class, never a dataset's
token; tests run each on lines of two Loghub sets and on general inputs (issue 16 item 7).
"""

from __future__ import annotations

import re
from functools import lru_cache

from mlops_assets.lib.templates.masking import WILDCARD

_UNIT_PREFIX = re.compile(r"[\w@.\\-]+\.(service|socket|mount|timer|scope|slice|target|path|device|swap):")
_KEY_VALUE = re.compile(r"([A-Za-z_][\w.\-]*)=(.*)")
_WORDISH = re.compile(r"<\*>|[A-Za-z0-9_.\-/@]+")
_HAS_LETTER = re.compile(r"[A-Za-z]")
_LABEL_WORD = re.compile(r"[A-Za-z]+[:;]")
_PLAIN_WORD = re.compile(r"[A-Za-z]+")
_KEY_NAME = re.compile(r"([A-Za-z_][\w.\-]*)=")
_WORD_RUN = re.compile(r"[A-Za-z0-9_.\-]+")
_NOT_HEX = re.compile(r"[g-zG-Z]")


def _frame_signature(frame: str) -> tuple[int, tuple[str, ...]]:
    """Words (``svc-train``, ``LOGIN``; not hex digits like ``dc``) counted, and key names, of a frame.

    A substituted word (``bob(uid=)`` vs ``dave(uid=)``) is a value; a word present on one side only
    (``(uid=)`` vs ``LOGIN(uid=)``) or another key (``pid=`` vs ``port=``) is template text.
    """
    words = sum(1 for run in _WORD_RUN.findall(frame) if _NOT_HEX.search(run))
    return words, tuple(_KEY_NAME.findall(frame))


_NO_WORD = re.compile(r"[^A-Za-z0-9]*")


def _skeleton(token: str) -> str:
    """Punctuation left when words, host names, paths and masked values are removed."""
    return _WORDISH.sub("", token)


@lru_cache(maxsize=1 << 16)
def distinct_values(template: str, token: str) -> bool:
    """True when two differing tokens are different events, so no ``<*>`` may cover both.

    Drain merges any two differing tokens; these cases are structure, not parameter values:

    - a token with no letter or digit (``****`` of an unreadable sensor, ``--``) against a token
      with another punctuation skeleton (a masked value ``<*>``): it carries no value to vary;
    - two tokens that both hold a masked value inside literal text (``(uid=<*>)`` vs
      ``LOGIN(uid=<*>)``, ``pid=<*>`` vs ``port=<*>``): the value is already ``<*>``, so a
      difference in the text around it is a different field or caller;
    - two unmasked words that end a clause or a label with the same ``;`` / ``:``
      (``failure;`` vs ``failures;``, ``error:`` vs ``warning:``): such words name the event;
    - ``key=a`` vs ``key=b`` whose values have different skeletons: ``tty=:<*>`` (an X display) vs
      ``tty=NODEVssh``; ``rhost=`` (empty) stays mergeable with ``rhost=<*>``.
    """
    bare = (_NO_WORD.fullmatch(template) and WILDCARD not in template) or (
        _NO_WORD.fullmatch(token) and WILDCARD not in token
    )
    if bare:
        return _skeleton(template) != _skeleton(token)
    if WILDCARD in template and WILDCARD in token:
        frame_a, frame_b = template.replace(WILDCARD, ""), token.replace(WILDCARD, "")
        if _HAS_LETTER.search(frame_a) and _HAS_LETTER.search(frame_b):
            return _frame_signature(frame_a) != _frame_signature(frame_b)
    if _LABEL_WORD.fullmatch(template) and _LABEL_WORD.fullmatch(token) and template[-1] == token[-1]:
        return True
    a, b = _KEY_VALUE.fullmatch(template), _KEY_VALUE.fullmatch(token)
    if not (a and b and a.group(1) == b.group(1)):
        return False
    return _skeleton(a.group(2)) != _skeleton(b.group(2))


def _shape(token: str) -> str:
    """A leading token's bucket shape: ``key=value`` keys on ``key=``, a unit prefix on ``<unit>:``."""
    eq = token.find("=")
    if eq > 0:
        return token[: eq + 1]
    if _UNIT_PREFIX.fullmatch(token):
        return "<unit>:"
    return token


def bucket_key(tokens: list[str]) -> tuple[int, str, str]:
    """Drain's first tree levels (depth 4): token count, then the first two tokens.

    The first token is data only through its shape (``_shape``). The second keys only when it is a
    plain word (``Failed password`` / ``Failed none``); a name with dots or dashes, a masked value
    (``Started nginx.service``) or hex letters (``container cddecbafcffa``) key on ``<*>``.
    """
    if not tokens:
        return (0, "", "")
    second = tokens[1] if len(tokens) > 1 else ""
    second = second if _PLAIN_WORD.fullmatch(second) and _NOT_HEX.search(second) else WILDCARD
    return (len(tokens), _shape(tokens[0]), second)
