"""Text normalisation: the first thing that sees a complaint.

NFKC folds full-width letters, digits and punctuation to half-width; Latin
letters are lower-cased; runs of whitespace become one space; personal data is
masked with placeholder tokens before anything else (segmenter, features,
explanations, reports, logs) sees the text.

>>> n = Normalizer()
>>> n("客户电话１３８１２３４５６７８，卡号6222 0212 3456 7890 123")
'客户电话[手机号],卡号[卡号]'
>>> n("  邮箱 a.b@example.com  网址 https://x.cn/p?q=1 ")
'邮箱 [邮箱] 网址 [网址]'
>>> mask_personal_data("身份证110101199003071234")
'身份证[身份证号]'
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np

__all__ = ["Normalizer", "nfkc", "mask_personal_data", "read_aliases", "PLACEHOLDERS", "PairTable", "code_points"]

# Placeholders match the masking convention of the public complaint datasets.
PLACEHOLDERS = ("[网址]", "[邮箱]", "[身份证号]", "[卡号]", "[手机号]", "[电话]")

_MASKS = [
    (re.compile(r"(?:https?://|www\.)[^\s\u3000-\u303f\uff00-\uffef\u4e00-\u9fff]+", re.I), "[网址]"),
    (re.compile(r"[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+", re.ASCII), "[邮箱]"),
    (
        re.compile(
            r"(?<![0-9])[1-9]\d{5}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[0-9xX](?![0-9])"
        ),
        "[身份证号]",
    ),
    # 15-19 digit card numbers, also written in groups of four.
    (re.compile(r"(?<![0-9])(?:\d{15,19}|\d{4}(?:[ -]\d{4}){2,3}(?:[ -]\d{1,4})?)(?![0-9])"), "[卡号]"),
    # Mobile numbers, optionally with +86 and separators; partly masked forms too.
    (re.compile(r"(?<![0-9])(?:\+?86[ -]?)?1[3-9]\d[ -]?[\d*]{4}[ -]?\d{4}(?![0-9])"), "[手机号]"),
    # Landlines with area code.
    (re.compile(r"(?<![0-9])0\d{2,3}[ -]?\d{7,8}(?![0-9])"), "[电话]"),
]
_WHITESPACE = re.compile(r"\s+")
# Lone surrogates (a JSON export may escape half of an emoji, "\\ud83d") cannot be encoded, so no segmenter reads them.
_SURROGATE = re.compile("[\ud800-\udfff]")
_FEW_TEXTS = 8  # fewer texts than this have their aliases replaced one by one (array set-up would cost more)
_BATCH_CHARS = 1 << 20  # longer batches have their aliases found in parts (4 bytes per character, and more)


def _ascii_forms(*blocks: range) -> dict[str, str]:
    """Characters of ``blocks`` whose compatibility decomposition (NFKD, hence NFKC) is plain ASCII."""
    forms = {}
    for block in blocks:
        for code in block:
            char = chr(code)
            form = unicodedata.normalize("NFKD", char)
            if form != char and form.isascii():
                forms[char] = form
    return forms


# Full-width letters, digits and punctuation, the ideographic space and general punctuation (…, en spaces):
# the characters that keep real Chinese text from being NFKC already.
_ASCII_FORMS = _ascii_forms(range(0x2000, 0x2070), range(0x3000, 0x3001), range(0xFF00, 0xFFF0))
# The commonest in Chinese text are replaced with str.replace (a few C scans cost less than a regex callback
# per comma); a regex finds the others.
_COMMON_FORMS = [(char, _ASCII_FORMS[char]) for char in "，！？（）：；"]
_ASCII_FORM = re.compile("[" + "".join(re.escape(c) for c in _ASCII_FORMS if c not in dict(_COMMON_FORMS)) + "]")
# What each mask cannot match without (None: ten characters of a number written with separators or stars,
# which every number mask's match contains); checked first so that most texts skip every substitution.
_LONG_NUMBER = re.compile(r"\d[\d* -]{9}")
# (The URL check is case-blind by hand, ſ being s: one character class first lets the regex engine skip to an h or w.)
_NEEDS = (re.compile(r"[hHwW](?:(?<=[hH])[tT][tT][pP][sSſ]?:|(?<=[wW])[wW][wW]\.)"), re.compile("@"), None, None, None, None)


class PairTable:
    """Two-character strings found in code points (of texts joined) with array operations, each with its value.

    The strings' first characters are numbered, and so are their second ones; a
    dense table of (first number, second number) holds each string's value (-1:
    none). Every code point not among the first (second) characters shares one
    extra number whose row (column) is empty, so one gather per character, with
    no search, tells where a string begins. A string found across two joined
    texts is the caller's to drop.

    >>> table = PairTable({"某行": 7, "某地": 3})
    >>> places, values = table.find(code_points("在某行和某地，某"))
    >>> places.tolist(), values.tolist()
    ([1, 4], [7, 3])
    """

    def __init__(self, values: dict[str, int]):
        if any(len(s) != 2 for s in values):
            raise ValueError("PairTable holds two-character strings only")
        firsts, seconds = sorted({s[0] for s in values}), sorted({s[1] for s in values})
        top = max((ord(c) for s in values for c in s), default=0) + 2  # last slot: every code point above
        self.first = np.full(top, len(firsts), dtype=np.int32)
        self.first[[ord(c) for c in firsts]] = np.arange(len(firsts))
        self.second = np.full(top, len(seconds), dtype=np.int32)
        self.second[[ord(c) for c in seconds]] = np.arange(len(seconds))
        self.width = len(seconds) + 1
        self.values = np.full((len(firsts) + 1) * self.width, -1, dtype=np.int32)
        for s, value in values.items():
            self.values[self.first[ord(s[0])] * self.width + self.second[ord(s[1])]] = value

    def find(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(where a string begins, its value), ascending by place."""
        capped = np.minimum(codes, len(self.first) - 1)
        cells = self.first[capped[:-1]] * self.width
        cells += self.second[capped[1:]]
        found = self.values[cells]
        places = np.flatnonzero(found >= 0)
        return places, found[places]


def code_points(text: str) -> np.ndarray:
    """The code points of ``text`` as a uint32 array (no copy of the encoded bytes).

    >>> code_points("某a").tolist()
    [26576, 97]
    """
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


def nfkc(text: str) -> str:
    """``unicodedata.normalize("NFKC", text)``, about twice as fast on Chinese text.

    Characters whose compatibility form is ASCII are replaced first; the full
    NFKC pass runs only if anything else still needs it. The result is the
    same: NFKC is NFC after NFKD, and each replacement is the character's own
    NFKD form, made of starters only, so the NFKD of the text is unchanged.

    >>> nfkc("退还年费！（共１２０元）…")
    '退还年费!(共120元)...'
    """
    for char, form in _COMMON_FORMS:
        text = text.replace(char, form)
    text = _ASCII_FORM.sub(_ascii_form, text)
    return text if unicodedata.is_normalized("NFKC", text) else unicodedata.normalize("NFKC", text)


def _ascii_form(match: re.Match) -> str:
    return _ASCII_FORMS[match.group(0)]


def mask_personal_data(text: str) -> str:
    """Replace phone, ID-card, bank-card numbers, e-mail addresses and URLs with placeholders.

    >>> mask_personal_data("打0755-12345678或发邮件到 kf@bank.cn")
    '打[电话]或发邮件到 [邮箱]'
    """
    digits = _LONG_NUMBER.search(text) is not None
    for (pattern, placeholder), needed in zip(_MASKS, _NEEDS):
        if digits if needed is None else needed.search(text):
            text = pattern.sub(placeholder, text)
    return text


def read_aliases(path) -> dict[str, str]:
    """Read a ``name<TAB>replacement`` file (``#`` starts a comment) into a dict.

    Names are NFKC-normalised and lower-cased like the texts they will meet.
    """
    from pathlib import Path

    from .exceptions import DictionaryError

    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except FileNotFoundError:
        raise DictionaryError(f"The alias file {str(path)!r} does not exist.") from None
    except UnicodeDecodeError as e:
        raise DictionaryError(f"The alias file {str(path)!r} is not UTF-8; save it as UTF-8.") from e
    aliases = {}
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
            raise DictionaryError(f"{path}:{number}: expected 'name<TAB>replacement', got {line!r}.")
        name = unicodedata.normalize("NFKC", parts[0].strip()).lower()
        aliases[name] = unicodedata.normalize("NFKC", parts[1].strip()).lower()
    return aliases


def _longest_first(names) -> re.Pattern:
    """A regex matching any of ``names``, the longest where several match at one place.

    Names are grouped by their first character, so that at each place only the
    names that begin with its character are tried.

    >>> _longest_first(["某银行", "某银行信用卡", "某行"]).findall("某银行信用卡和某行")
    ['某银行信用卡', '某行']
    """
    groups: dict[str, list[str]] = {}
    for name in sorted(names, key=len, reverse=True):
        groups.setdefault(name[0], []).append(re.escape(name[1:]))
    return re.compile("|".join(f"{re.escape(first)}(?:{'|'.join(rests)})" for first, rests in groups.items()))


class Normalizer:
    """Picklable text normaliser.

    Parameters
    ----------
    max_chars : int
        Texts longer than this (after normalisation) are cut to this length;
        the raw input is cut first at a small multiple of it so that the cost of
        a huge text is bounded.
    lowercase : bool
        Lower-case Latin letters (``APP`` and ``app`` become one feature).
    aliases : dict or None
        Names replaced by a generic name (longest first), e.g. institutions by
        their kind, so that a model trained on invented names reads real ones.

    >>> Normalizer(aliases={"江汇银行": "某银行"})("江汇银行扣了年费")
    '某银行扣了年费'
    """

    def __init__(self, *, max_chars: int = 3000, lowercase: bool = True, aliases: dict[str, str] | None = None):
        self.max_chars = max_chars
        self.lowercase = lowercase
        self.aliases = aliases
        self._alias_pattern = None
        if aliases:
            self._alias_pattern = _longest_first(aliases)

    def __call__(self, text: str) -> str:
        return self.normalize(text)

    def normalize(self, text: str) -> str:
        """Return the normalised, masked, possibly truncated text."""
        text = self._masked(text)
        if self._alias_pattern is not None:
            aliases = self.aliases
            text = self._alias_pattern.sub(lambda m: aliases[m.group(0)], text)
        return text[: self.max_chars]

    def normalize_many(self, texts: list[str]) -> list[str]:
        """:meth:`normalize` of each of ``texts``; in a batch, the places where an alias may begin are found in
        all texts at once with array operations, and the alias regex runs only there.

        >>> n = Normalizer(aliases={"江汇银行": "某银行", "汇通": "某平台"})
        >>> texts = ["江汇银行扣了年费", "汇通催收", "没有机构名"] * 3
        >>> n.normalize_many(texts) == [n.normalize(t) for t in texts]
        True
        """
        masked = [self._masked(text) for text in texts]
        index = self._alias_index() if len(texts) >= _FEW_TEXTS else None
        if index is None:
            if self._alias_pattern is not None:
                aliases = self.aliases
                masked = [self._alias_pattern.sub(lambda m: aliases[m.group(0)], text) for text in masked]
            return [text[: self.max_chars] for text in masked]
        lengths = np.fromiter(map(len, masked), dtype=np.int64, count=len(masked))
        ends, cuts = np.cumsum(lengths), [0]  # parts of at most _BATCH_CHARS characters (or one text): bounded memory
        while cuts[-1] < len(masked):
            before = int(ends[cuts[-1] - 1]) if cuts[-1] else 0
            cuts.append(max(int(np.searchsorted(ends, before + _BATCH_CHARS, side="right")), cuts[-1] + 1))
        return [text for a, b in zip(cuts, cuts[1:]) for text in self._aliases_replaced(masked[a:b], lengths[a:b], index)]

    def _aliases_replaced(self, masked: list[str], lengths: np.ndarray, index) -> list[str]:
        """``masked`` texts with their aliases replaced (see :meth:`normalize_many`), cut to ``max_chars``."""
        offsets = np.cumsum(lengths) - lengths
        starts, _ = index.find(code_points("".join(masked)))  # (one across two texts: no match)
        owners = np.searchsorted(offsets, starts, side="right") - 1  # the text of each place
        places = (starts - offsets[owners]).tolist()
        bounds = np.flatnonzero(np.diff(owners, prepend=-1, append=len(masked))).tolist()  # each text's places
        owners = owners.tolist()
        match, aliases = self._alias_pattern.match, self.aliases
        for a, b in zip(bounds, bounds[1:]):
            text, pieces, done = masked[owners[a]], [], 0
            for place in places[a:b]:  # ascending; a name found ends where the next one may begin
                if place < done:
                    continue
                m = match(text, place)
                if m is not None:
                    pieces += (text[done:place], aliases[m.group(0)])
                    done = m.end()
            if pieces:
                masked[owners[a]] = "".join(pieces) + text[done:]
        return [text[: self.max_chars] for text in masked]

    def _masked(self, text: str) -> str:
        """Every step of :meth:`normalize` before the aliases are replaced."""
        text = nfkc(text[: 4 * self.max_chars])
        if self.lowercase:
            text = text.lower()
        text = " ".join(text.split())  # _WHITESPACE runs to one space, stripped (str.split's whitespace is \s)
        if not text.isascii() and _SURROGATE.search(text):
            text = _SURROGATE.sub("\ufffd", text)
        return mask_personal_data(text)

    def _alias_index(self) -> PairTable | None:
        """The aliases' first two characters (see :class:`PairTable`), or None when there are no aliases or one of
        a single character (then the regex alone finds them)."""
        if "_alias_index_" not in self.__dict__:
            names = list(self.aliases or ())
            index = None
            if names and min(map(len, names)) >= 2:
                index = PairTable(dict.fromkeys((name[:2] for name in names), 0))
            self._alias_index_ = index
        return self._alias_index_

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_alias_index_", None)
        return state

    def was_truncated(self, text: str) -> bool:
        """Whether :meth:`normalize` cuts ``text`` (cheap upper-bound check first)."""
        return len(text) > self.max_chars and len(self.normalize(text)) >= self.max_chars

    def __repr__(self) -> str:
        return f"Normalizer(max_chars={self.max_chars}, lowercase={self.lowercase}, aliases={len(self.aliases or ())})"
