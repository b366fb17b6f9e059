"""Words in and out of the search index: one normaliser for documents and queries alike.

Text is folded to lower-case ASCII words ("Crohn's" -> crohn, "COVID-19" -> covid 19, "type2" ->
type 2); each word is compared by its stem, so "fractured", "fracture" and "fractures" are one
word. Medical suffixes that carry the meaning ("-itis", "-osis", "-ectomy"...) are never stemmed
away: the English stemmer would make "sinusitis" the same word as "sinus".
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import snowballstemmer

_stemmer = snowballstemmer.stemmer("english")

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})
_POSSESSIVE = re.compile(r"(?<=[a-z])'s\b|(?<=s)'(?=\s|$)")
_WORD = re.compile(r"[a-z]+|[0-9]+")

# never stemmed: the suffix is the meaning
_KEEP_SUFFIXES = ("itis", "itides", "osis", "oses", "iasis", "emia", "ectomy", "otomy", "ostomy", "plasty",
                  "pexy", "rrhaphy", "scopy", "algia", "uria", "oma", "cele", "lysis", "tripsy", "centesis")

# Function words: neither documents nor queries keep them.
STOPWORDS = frozenset("""
an the of in on at to for by and or with from as is are was were be been being has have had
having me my we our you your he she his her it its this that these those when while who whom
which what where how than then there into onto upon out off over about after before during due
per via nos nec not no yes also others any some such so very just s
""".split())
# Kept in documents ("hepatitis A", "type I") but never required of one by a query.
WEAK = frozenset({"a", "i", "other", "unspecified", "specified"})

# Words that steer toward a specific child code rather than find documents.
LATERALITY = {"right": "right", "left": "left", "bilateral": "bilateral", "both": "bilateral",
              "unilateral": "unilateral"}
ENCOUNTER = {"initial": "initial", "subsequent": "subsequent", "sequela": "sequela", "sequelae": "sequela",
             "encounter": "encounter"}
STEERING = frozenset(LATERALITY) | frozenset(ENCOUNTER)


def fold(text: str) -> str:
    """Lower-case ASCII with possessives removed; other punctuation is left for words()."""
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in text if not unicodedata.combining(ch)).translate(_APOSTROPHES)
    text = text.lower()
    if "'" not in text:
        return text
    return _POSSESSIVE.sub("", text)


def words(text: str | None) -> list[str]:
    """The words of a text, in order: letters and digits apart ("type2" -> type, 2)."""
    if not text:
        return []
    return _WORD.findall(fold(text))


# Latin nouns and their adjectives read alike: myocardium/myocardial, peritoneum/peritoneal,
# esophagus/esophageal (suffix, letters that must remain)
_LATIN_ENDINGS = (("ium", 3), ("eum", 3), ("ial", 3), ("eal", 3), ("um", 4), ("us", 4), ("al", 4))


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith(_KEEP_SUFFIXES):
        return word
    if word.endswith("omas"):
        return word[:-1]
    if not word.endswith("ous"):
        for suffix, keep in _LATIN_ENDINGS:
            if word.endswith(suffix) and len(word) - len(suffix) >= keep:
                return word[:-len(suffix)]
    out = _stemmer.stemWord(word)
    if out.endswith("i") and len(out) > 4:  # artery/arteries -> arteri -> arter, like arterial
        out = out[:-1]
    return out


def terms(text: str | None) -> list[str]:
    """A document's index terms: the stems of its words less function words, each once, in order."""
    return list(analyze(text or "")[0])


@lru_cache(maxsize=100_000)
def analyze(text: str) -> tuple[tuple[str, ...], frozenset[str]]:
    """(terms, the words they came from) of a text; see terms()."""
    seen: dict[str, None] = {}
    kept = set()
    for w in words(text):
        if w in STOPWORDS:
            continue
        kept.add(w)
        seen.setdefault(stem(w), None)
    return tuple(seen), frozenset(kept)
