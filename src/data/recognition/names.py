"""Column names as hints: the synonyms of each role in six languages, and how a name matches.

The synonyms live in a data file beside this module (``synonyms.yaml``: English, Chinese,
German, French, Spanish, Portuguese), not in code. :func:`normalise` reduces a header to
comparable words (accents dropped, lower case, camelCase and punctuation split, ``No.`` /
``Nº`` / ``#`` read as ``no``); :func:`name_scores` says how strongly a header names each
role:

- 1.0: the name is a synonym (``Kundennummer``, ``客户编号``, ``Customer ID``);
- 0.9: a synonym plus an id word (``id``, ``no``, ``nr``, ``number``, ``code``, ``key``,
  ``编号``, ``号``, ``代码``);
- 0.7: the name's words contain a synonym's words in order (``Dollar Cost Points Redeemed``
  contains ``cost``), or, in Chinese, the synonym's characters;
- 0 otherwise.

A score is a hint, never a decision: :mod:`src.data.recognition.roles` weighs it with what the
column's values show.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path

import yaml

__all__ = ["ID_WORDS", "LANGUAGES", "name_scores", "normalise", "synonyms"]

LANGUAGES: tuple[str, ...] = ("en", "zh", "de", "fr", "es", "pt")
ID_WORDS: frozenset[str] = frozenset({"id", "no", "nr", "num", "number", "code", "key", "ref",
                                      "编号", "号", "代码", "编码", "id号"})
_FILE = Path(__file__).with_name("synonyms.yaml")
_CJK = re.compile(r"[\u3400-\u9fff]")


def normalise(name: str) -> str:
    """A header as space-separated comparable words.

    ``"Customer No."`` -> ``"customer no"``; ``"InvoiceDate"`` -> ``"invoice date"``;
    ``"Nº Cliente"`` -> ``"no cliente"``; ``"Kündigungs-Datum"`` -> ``"kundigungs datum"``;
    ``"客户编号"`` -> ``"客户编号"``.
    """
    text = str(name).strip()
    text = re.sub(r"(?i)\bn[º°o]\.?(?=\s|$|\d|[^\w])|#", " no ", text)
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", text)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.lower().replace("ß", "ss")
    text = re.sub(r"[^\w\u3400-\u9fff]+|_", " ", text)
    # CJK characters stay together, separated from Latin words
    text = re.sub(r"(?<=[\u3400-\u9fff])(?=[a-z0-9])|(?<=[a-z0-9])(?=[\u3400-\u9fff])", " ",
                  text)
    return " ".join(text.split())


@lru_cache(maxsize=1)
def synonyms() -> dict[str, dict[str, tuple[str, ...]]]:
    """role -> language -> normalised synonyms, from ``synonyms.yaml``."""
    raw = yaml.safe_load(_FILE.read_text(encoding="utf-8"))
    return {role: {lang: tuple(dict.fromkeys(normalise(s) for s in words))
                   for lang, words in by_lang.items()}
            for role, by_lang in raw.items()}


def _strip_id(words: list[str]) -> list[str]:
    return words[:-1] if len(words) > 1 and words[-1] in ID_WORDS else words


def _contains(words: list[str], part: list[str]) -> bool:
    n = len(part)
    return any(words[i:i + n] == part for i in range(len(words) - n + 1))


def _score(name: str, synonym: str) -> float:
    if name == synonym:
        return 1.0
    words, syn = name.split(), synonym.split()
    if _strip_id(words) == syn:
        return 0.9
    if _CJK.search(synonym):
        bare = name.replace(" ", "")
        if bare.startswith(synonym) and bare[len(synonym):] in ID_WORDS:
            return 0.9
        return 0.7 if synonym in bare else 0.0
    return 0.7 if _contains(words, syn) else 0.0


@lru_cache(maxsize=4096)
def name_scores(name: str) -> dict[str, float]:
    """role -> how strongly the header ``name`` names it (roles with a score > 0 only).

    A name that equals a synonym of one role and merely contains a synonym of another (``Invoice
    date`` is a booking date and contains ``invoice``) keeps only the stronger reading at full
    weight: the weaker ones are halved.
    """
    norm = normalise(name)
    if not norm:
        return {}
    out: dict[str, float] = {}
    for role, by_lang in synonyms().items():
        best = max((_score(norm, s) for words in by_lang.values() for s in words), default=0.0)
        if best > 0:
            out[role] = best
    if out:
        top = max(out.values())
        out = {r: (s if s == top or s >= 0.9 else s / 2) for r, s in out.items()}
    return out
