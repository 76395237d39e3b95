"""Near-duplicate fingerprints of story text and titles: sketches, candidate keys, similarity.

One job: turn normalised text into a small, stable value that says how much of one story is
another story, and into a few keys a store can index to find the candidates cheaply. It does
not decide clusters, time windows or storage (that is `dedup` and `storage`); it does no I/O
and reads no clock. Every function is total: any string, empty or huge, gives a value.

Chosen after measuring (benchmarks/dedup_quality.py):

* Bodies: a **bottom-k MinHash sketch** (k = 64) of word 4-shingles, each shingle hashed with
  CRC-32 (C speed, stable across processes). One hash per shingle and one C-level
  `heapq.nsmallest` replace the 64 hash functions of classic MinHash, which in pure Python
  cost milliseconds per article (datasketch, with numpy, about 2.7 ms on this machine).
  Bottom-k estimates Jaccard as well as k-permutation MinHash (sampling without replacement).
* Copies are truncated and wrapped in boilerplate, so the score is the **containment of the
  smaller text in the larger** (overlap coefficient), derived from the Jaccard estimate and
  the exact shingle counts stored in the fingerprint. Jaccard alone would call a lead-only
  copy of a long article "different".
* Lines with fewer than eight words are left out before shingling: navigation crumbs,
  "Advertisement", "Share this", "Read more: …" teasers and copyright lines are short lines,
  and two different stories from one site share exactly those. Long boilerplate lines
  (cookie notices, comment-form text) are learned per source by the caller: `line_keys`
  gives the keys to count, and `fingerprint(..., boilerplate=...)` skips the frequent ones.
  Without that, a story whose own text is a table (Reuters earnings) was fingerprinted by
  its site's boilerplate and matched other stories of the site. Only the first
  `LEAD_WORDS` words are shingled: syndicated copies keep the lead, and the cap bounds the
  cost per story whatever the article length.
* Candidate keys: the smallest `KEY_COUNT` hashes of the sketch. Two texts with Jaccard J
  share one of them with probability about 1 - (1 - J) ** KEY_COUNT, which still finds a
  truncated copy (J near 0.3) where 4-row LSH bands would not. Keys of boilerplate shingles
  are shared by many stories; the store should skip a key whose bucket is already large.
* Titles: headlines of one event from different outlets share few words, so titles get a
  token-set rule of their own (stopwords removed, exact Jaccard); it serves the looser
  "related" relation, never the copy relation. SimHash-64 was measured too and lost: it
  cannot see a truncated copy as the same text (pairwise F1 0.53 at best).

Hashes are CRC-32 based and never Python's `hash()`, which is salted per process: a
fingerprint stored today must compare equal to one computed after a restart.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import timedelta

SKETCH_SIZE = 64
"""k of the bottom-k sketch: 64 values keep the Jaccard error near 0.06 at J = 0.5."""
SHINGLE_WORDS = 4
"""Words per shingle: 4 makes unrelated articles on one topic share almost nothing."""
LEAD_WORDS = 100
"""Only the first words of the text (after boilerplate lines) are shingled: measured best of
60/100/150/250/400 (longer leads reach the site's trailing boilerplate and teasers, which
different stories from one site share; shorter ones are swamped by a cookie banner)."""
MIN_LINE_WORDS = 8
"""Shorter lines are taken for boilerplate unless nothing longer is left."""
KEY_COUNT = 8
"""Candidate keys per body fingerprint (index rows per story)."""
MIN_CONTAINMENT_SHINGLES = 24
"""Below this many shingles the smaller text is scored by Jaccard, not containment, so that
a teaser of a few words is never "contained" in every article that quotes it."""

DEFAULT_COPY_THRESHOLD = 0.45
"""`similarity` at or above which two bodies are copies of one story (chosen by the benchmark:
the highest pairwise F1 with precision >= 0.98; over-merging is worse than under-merging)."""
DEFAULT_RELATED_THRESHOLD = 0.35
"""`title_similarity` at or above which two stories' clusters are linked as related (one
event); links are transitive, so related groups are connected components of such links.
On the UCI headlines 0.35 gave pairwise precision 0.96 and B-cubed F1 0.62; 0.3 gave 0.89
and 0.74 (precision first: over-merging is worse than under-merging). Through the store,
which reads 8 stories per pair of a headline's four longest words, 0.35 gave 0.964 and
0.556, 0.3 gave 0.902 and 0.639."""
DEFAULT_WINDOW = timedelta(hours=72)
"""Stories further apart than this are not compared (the issue's default)."""

_MASK32 = 0xFFFFFFFF
_HEADER = struct.Struct("<HI")  # sketch length, shingle count
_EMPTY_HASHES: tuple[int, ...] = ()

# ASCII punctuation becomes a space: sites re-punctuate ("said:" / "said -") but keep words.
_PUNCTUATION = bytes(range(33, 48)) + bytes(range(58, 65)) + bytes(range(91, 97))
_PUNCTUATION += bytes(range(123, 127))
_SPACE_TABLE = bytes.maketrans(_PUNCTUATION, b" " * len(_PUNCTUATION))
# Typographic quotes and dashes differ between sites' templates for the same words.
_UNICODE_PUNCTUATION = "\u2018\u2019\u201c\u201d\u2013\u2014\u2026\u00a0\u00ab\u00bb"

# Function words carry no event: headlines of one event share names and nouns, not these.
_STOPWORDS = frozenset(
    {
        "a", "about", "after", "again", "against", "all", "an", "and", "are", "as", "at", "be",
        "been", "before", "being", "but", "by", "can", "could", "did", "do", "does", "for", "from",
        "had", "has", "have", "he", "her", "his", "how", "i", "if", "in", "into", "is", "it", "its",
        "just", "may", "more", "most", "new", "no", "not", "now", "of", "off", "on", "one", "only",
        "or", "our", "out", "over", "says", "said", "she", "so", "than", "that", "the", "their",
        "them", "then", "there", "these", "they", "this", "to", "too", "up", "us", "was", "we",
        "were", "what", "when", "where", "which", "who", "why", "will", "with", "would", "you",
        "your", "vs", "via", "amid",
    }
    # The same in the other languages news comes in (not those that are English words too:
    # "un" is the UN, "die", "son", "pour", "do", "to", "per", "con", "el", "aus").
    | {
        "le", "la", "les", "des", "du", "de", "et", "est", "une", "au", "aux", "sur", "dans",
        "qui", "que", "avec", "ses", "sa", "ce", "cette", "il", "elle", "ils", "ont", "été",
        "être", "selon", "après", "contre", "entre", "sont",  # fr
        "der", "das", "und", "ist", "nicht", "mit", "von", "dem", "ein", "eine", "einen", "für",
        "auf", "sich", "zu", "im", "bei", "nach", "wird", "werden", "auch", "über", "vor",  # de
        "los", "las", "del", "por", "para", "una", "se", "es", "os", "dos", "não",
        "uma", "com", "em", "ao", "na", "della", "che", "di", "non", "gli", "sono", "nel",
        "alla", "dei", "delle",  # es, pt, it
        "się", "nie", "że", "jest", "od", "po", "dla", "za", "jak", "czy", "ze", "co", "już",
        "ve", "bir", "bu", "için", "ile", "da",  # pl, tr
        "на", "по", "не", "из", "за", "от", "для", "что", "как", "это", "до", "при", "об",
        "та", "із", "що", "від", "як", "це", "про",  # ru, uk
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """A bottom-k sketch of a text's shingles and how many distinct shingles it had.

    `hashes` are the smallest 32-bit shingle hashes, ascending; when the text has no more than
    `SKETCH_SIZE` shingles they are all of them and every estimate below is exact.
    """

    hashes: tuple[int, ...]
    size: int

    def to_bytes(self) -> bytes:
        """Compact little-endian bytes for a SQLite BLOB (6 + 4 * k bytes)."""
        count = len(self.hashes)
        return _HEADER.pack(count, self.size) + struct.pack(f"<{count}I", *self.hashes)

    @classmethod
    def from_bytes(cls, data: bytes) -> Fingerprint:
        """The fingerprint `to_bytes` wrote; ValueError when the bytes are not one."""
        if len(data) < _HEADER.size:
            raise ValueError("fingerprint bytes too short")
        count, size = _HEADER.unpack_from(data)
        if len(data) != _HEADER.size + 4 * count:
            raise ValueError("fingerprint bytes have the wrong length")
        return cls(struct.unpack_from(f"<{count}I", data, _HEADER.size), size)

    @property
    def is_empty(self) -> bool:
        """True when the text had no words: such a fingerprint matches nothing."""
        return not self.hashes


def fingerprint(
    text: str, *, lead_words: int = LEAD_WORDS, boilerplate: AbstractSet[int] = frozenset()
) -> Fingerprint:
    """The fingerprint of a story body (clean text with one paragraph per line).

    Short lines and lines whose `line_keys` value is in `boilerplate` (the lines a source
    repeats on many of its pages, learned by the caller) are skipped, then the first
    `lead_words` words are shingled.
    """
    lead = max(lead_words, 1)
    # Tokenise a bounded prefix only: 16 characters per word is far above the average, so the
    # cut never shortens the lead of real prose, and a megabyte of text costs no more.
    words = _words(_body_lines(text, boilerplate)[: lead * 16])[:lead]
    hashes = _shingle_hashes(words)
    # sorted() is C; heapq.nsmallest loops in Python and costs five times more here.
    return Fingerprint(tuple(sorted(hashes)[:SKETCH_SIZE]), len(hashes))


def lsh_keys(fp: Fingerprint, count: int = KEY_COUNT) -> list[int]:
    """Candidate keys: texts sharing any key are worth scoring with `similarity`.

    The smallest hashes of the sketch; a store indexes (key, story) and looks up a new story's
    keys within the time window. Empty for an empty text, which matches nothing.
    """
    return list(fp.hashes[:count])


def jaccard(a: Fingerprint, b: Fingerprint) -> float:
    """Estimated Jaccard similarity of the two shingle sets (exact for short texts)."""
    if a.is_empty or b.is_empty:
        return 0.0
    if a.hashes == b.hashes and a.size == b.size:
        return 1.0
    # The bottom-k of the union is the bottom-k of the two sketches together; the share of
    # it found in both sketches estimates Jaccard. Set operations and one sort run in C.
    mine = set(a.hashes)
    both = mine.intersection(b.hashes)
    if not both:
        return 0.0
    union = mine.union(b.hashes)
    if len(union) <= SKETCH_SIZE:
        return len(both) / len(union)
    cutoff = sorted(union)[SKETCH_SIZE - 1]
    return sum(1 for value in both if value <= cutoff) / SKETCH_SIZE


def similarity(a: Fingerprint, b: Fingerprint) -> float:
    """How much of the smaller text is in the larger one, 0.0 to 1.0 (symmetric).

    The overlap coefficient |A ∩ B| / min(|A|, |B|), from the Jaccard estimate and the exact
    set sizes, so a truncated copy of an article scores high; Jaccard itself when the smaller
    text is too short for containment to mean anything.
    """
    estimate = jaccard(a, b)
    smaller = min(a.size, b.size)
    if estimate == 0.0 or smaller < MIN_CONTAINMENT_SHINGLES:
        return estimate
    shared = estimate * (a.size + b.size) / (1.0 + estimate)
    return min(1.0, shared / smaller)


def is_copy(a: Fingerprint, b: Fingerprint, threshold: float = DEFAULT_COPY_THRESHOLD) -> bool:
    """Whether two bodies are copies of one story under the given threshold."""
    return similarity(a, b) >= threshold


def title_tokens(title: str) -> frozenset[str]:
    """The content words of a headline: lower case, no punctuation, no stopwords.

    A trailing possessive or plural "s" is dropped ("Apple's" and "Apples" meet "apple").
    """
    words = _text_bytes(title).split()
    tokens = set()
    for word in words:
        token = word.decode("utf-8", "replace")
        if len(token) < 2 or token in _STOPWORDS:
            continue  # "s" and "t" are what is left of "Apple's" and "don't"
        if len(token) > 3 and token.endswith("s") and not token.endswith("ss"):
            token = token[:-1]
        tokens.add(token)
    return frozenset(tokens)


def title_similarity(a: frozenset[str], b: frozenset[str]) -> float:
    """Jaccard similarity of two headlines' content words (0.0 when either has none)."""
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def title_keys(tokens: frozenset[str]) -> list[int]:
    """Candidate keys for a headline: one stable 32-bit hash per content word."""
    return sorted(map(title_key, tokens))


def title_key(token: str) -> int:
    """The stable 32-bit key of one headline word."""
    return _mix(zlib.crc32(token.encode("utf-8", "replace")))


def line_keys(text: str) -> list[int]:
    """A stable key per non-blank line, for learning a source's boilerplate.

    A long line repeated on many pages of one source ("We use cookies…", a comment form) is
    not prose of the story; the store counts these keys per source and hands the frequent
    ones back to `fingerprint` as `boilerplate`. Short lines need no learning: they are
    skipped anyway.
    """
    return [_line_key(line) for line in text.split("\n") if line.count(" ") >= MIN_LINE_WORDS - 1]


def _line_key(line: str) -> int:
    return zlib.crc32(line.strip().encode("utf-8", "surrogatepass"))


def _body_lines(text: str, boilerplate: AbstractSet[int] = frozenset()) -> str:
    """The lines long enough to be prose and not known boilerplate, else the whole text."""
    lines = [line for line in text.split("\n") if line.count(" ") >= MIN_LINE_WORDS - 1]
    if boilerplate:
        lines = [line for line in lines if _line_key(line) not in boilerplate]
    return "\n".join(lines) if lines else text


def _text_bytes(text: str) -> bytes:
    """Lower-cased UTF-8 with punctuation turned into spaces, ready for `bytes.split`."""
    folded = text.lower()
    if not folded.isascii():
        # str.translate walks a non-ASCII string a character at a time (500 us for an
        # article); ten C-level replaces of the characters present cost a few microseconds.
        for char in _UNICODE_PUNCTUATION:
            if char in folded:
                folded = folded.replace(char, " ")
    # surrogatepass: a lone surrogate (broken input) must not raise; it hashes as any byte.
    return folded.encode("utf-8", "surrogatepass").translate(_SPACE_TABLE)


def _words(text: str) -> list[bytes]:
    return _text_bytes(text).split()


def _shingle_hashes(words: list[bytes]) -> set[int]:
    """Distinct hashes of the word shingles; a text shorter than a shingle is one shingle."""
    if len(words) < SHINGLE_WORDS:
        return {zlib.crc32(b" ".join(words))} if words else set()
    shingles = map(b" ".join, zip(*(words[i:] for i in range(SHINGLE_WORDS)), strict=False))
    # Raw CRC-32 orders distinct shingles as well as a mixed hash does for bottom-k: on 400
    # truncated BBC copies the Jaccard error was sd 0.053 raw against 0.052 through `_mix`,
    # unbiased both ways, and the mix doubled the cost of fingerprinting.
    return set(map(zlib.crc32, shingles))


def _mix(value: int) -> int:
    """A 32-bit finaliser (murmur3 fmix32): title words are short and similar, and their keys
    should spread over the index evenly rather than follow CRC-32's linear structure."""
    value ^= value >> 16
    value = (value * 0x85EBCA6B) & _MASK32
    value ^= value >> 13
    value = (value * 0xC2B2AE35) & _MASK32
    return value ^ (value >> 16)
