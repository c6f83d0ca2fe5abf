"""Escalation signals: a readable rule table that sets a floor under the predicted severity.

Rules live in ``corpora/escalation_rules.toml`` (or a table of your own). Each
rule is a set of regular expressions matched on the normalised text, with
attention to negation ("不会去曝光" is not a threat), to who is speaking (a
collector's "要起诉你" is not the customer's escalation) and to counts ("我们
二十多个人"). Every match is reported with its span, the text it matched and
the rule that fired; the highest level among them is the severity floor.

>>> rules = EscalationRules.load()
>>> [(s.rule, s.text) for s in rules.find("我们二十多个借款人一起投诉，准备集体维权")]
[('group_20_plus', '集体维权'), ('group_20_plus', '二十多个借款人')]
>>> rules.floor(rules.find("我不会去曝光的，只想要回手续费"))
'SEV2'
>>> rules.floor(rules.find("催收说要起诉我"))
>>> rules.deadline("SEV3")["respond_within_hours"]
8
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import math
import operator
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .exceptions import ConfigError
from .normalize import PairTable, code_points
from .resources import corpora_dir

__all__ = ["EscalationRules", "Signal", "parse_chinese_number", "DEFAULT_RULES"]

DEFAULT_RULES = "escalation_rules.toml"
# Clause ends: punctuation, and a space between Chinese words (real posts use spaces as commas).
_CLAUSE_END = re.compile(r"[，。！？；,.!?;\n]|(?<=[\u4e00-\u9fff]) +(?=[\u4e00-\u9fff])")
# The same ends, found faster: a regex that begins with one character class lets the engine skip to the next
# candidate; a space counts when a Chinese character is before it and, after its run of spaces, after it.
_CLAUSE_END_FAST = re.compile(r"[，。！？；,.!?;\n ](?:(?<! )|(?<=[\u4e00-\u9fff] ) *(?=[\u4e00-\u9fff]))")
# Around an amount: another number or a sentence end on the left, a clause end on the right, ends its context.
_LEFT_OF_AMOUNT = re.compile(r"[0-9。！？!?]")
_RIGHT_OF_AMOUNT = re.compile(r"[,;，；。！？!?]")
_DIGIT = re.compile(r"[0-9]")
_GROUP_NUMBER = re.compile(r"[0-9一二两三四五六七八九十百几]+")
_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "几": 3}
_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10_000}
_NUMERALS = "零〇一二两三四五六七八九十百千几"
# An amount: digits (masked digits, "136***", read as zeros: a lower bound) or Chinese numerals, not preceded by
# another digit, a point or a star, then its units. The first character is matched before the look-behind so that
# the regex engine skips to the next digit or numeral instead of trying every place.
_AMOUNT = re.compile(
    rf"([0-9{_NUMERALS}](?<![0-9.*].)(?:(?<=[0-9])[0-9]*\**(?:\.[0-9]+)?|(?<=[{_NUMERALS}])[{_NUMERALS}]*))"
    r"\s*(万|w)?\s*(多|余|几)?\s*(万)?\s*(元|块|rmb)?"
)


def _clause_ends(text: str) -> list[int]:
    """Where :data:`_CLAUSE_END` matches in ``text``, ascending.

    >>> text = "年费 扣了三次，要求退还 ok 好吗  。 中"
    >>> _clause_ends(text) == [m.start() for m in _CLAUSE_END.finditer(text)] == [2, 7, 20]
    True
    """
    return [m.start() for m in _CLAUSE_END_FAST.finditer(text)]


_CLAUSE_PUNCTUATION = "，。！？；,.!?;\n"  # the characters of _CLAUSE_END other than the space


@functools.cache
def _is_clause_punctuation():
    """Per code point (up to the largest clause punctuation, plus one slot for all above), whether it ends a clause."""
    table = np.zeros(max(map(ord, _CLAUSE_PUNCTUATION)) + 2, dtype=bool)
    table[[ord(c) for c in _CLAUSE_PUNCTUATION]] = True
    return table


def _clause_ends_many(codes, text_of, starts) -> list[list[int]]:
    """:func:`_clause_ends` of every text of a batch, found with array operations: ``codes`` are the code points of
    the texts joined, ``text_of`` the text of each and ``starts`` where each text begins.

    >>> texts = ["好 好", "年费 扣了，退 ok", " 好", "好 "]
    >>> codes = code_points("".join(texts))
    >>> lengths = np.array([len(t) for t in texts])
    >>> got = _clause_ends_many(codes, np.repeat(np.arange(4), lengths), np.cumsum(lengths) - lengths)
    >>> got == [_clause_ends(t) for t in texts] == [[1], [2, 5], [], []]
    True
    """
    table = _is_clause_punctuation()
    ends = table[np.minimum(codes, len(table) - 1)]
    # a space ends a clause after a Chinese character of its text when, after its run of spaces, one follows
    spaces = np.flatnonzero(codes == 32)
    spaces = spaces[spaces > starts[text_of[spaces]]]
    before = codes[spaces - 1]
    spaces = spaces[(before >= 0x4E00) & (before <= 0x9FFF)]
    after = spaces + 1
    while True:  # to the end of each run of spaces (normalised text has single spaces: once)
        inside = after < len(codes)
        inside[inside] = codes[after[inside]] == 32
        if not inside.any():
            break
        after[inside] += 1
    kept = after < len(codes)
    spaces, after = spaces[kept], after[kept]
    following = codes[after]
    kept = (text_of[after] == text_of[spaces]) & (following >= 0x4E00) & (following <= 0x9FFF)
    ends[spaces[kept]] = True
    places = np.flatnonzero(ends)
    owners = text_of[places]
    local = (places - starts[owners]).tolist()
    bounds = np.searchsorted(owners, np.arange(len(starts) + 1)).tolist()
    return [local[a:b] for a, b in zip(bounds, bounds[1:])]


def _may_reach(threshold: float) -> re.Pattern:
    """A regex that every text holding an amount of at least ``threshold`` matches (see ``_amounts``).

    Such an amount has a 万 unit, or as many digits as the threshold's integer
    part, or enough Chinese numeral characters (each adds at most 9,000 without 万).

    >>> [bool(_may_reach(50000).search(t)) for t in ("借了5万", "共还51946元", "2023年还了3000", "两千")]
    [True, True, False, False]
    """
    if threshold <= 1:
        return re.compile("")
    digits = len(str(int(threshold)))
    numerals = max(1, math.ceil((threshold - 9) / 9000))
    # one character class first, so that the regex engine skips to the next place where a branch can start
    return re.compile(f"[万w0-9{_NUMERALS}](?:(?<=[万w])|(?<=[0-9])[0-9*]{{{digits - 1}}}"
                      f"|(?<=[{_NUMERALS}])[{_NUMERALS}]{{{numerals - 1}}})")


def parse_chinese_number(text: str) -> float | None:
    """Read ``"20"``, ``"二十"``, ``"十几"``, ``"一百二"``, ``"3.5"`` as a number (``几`` counts as 3).

    >>> [parse_chinese_number(t) for t in ("20", "二十", "十几", "几十", "一百二十", "两千", "x")]
    [20.0, 20.0, 13.0, 30.0, 120.0, 2000.0, None]
    """
    if not text or text[0] not in _DIGITS and text[0] not in _UNITS:  # (float() reads no Chinese numeral)
        try:
            return float(text)
        except ValueError:
            return None
    if any(ch not in _DIGITS and ch not in _UNITS for ch in text):
        return None
    total, current = 0, 0
    for ch in text:
        if ch in _DIGITS:
            current = _DIGITS[ch]
        else:
            unit = _UNITS[ch]
            total += (current or 1) * unit
            current = 0
    return float(total + current)


@functools.lru_cache(maxsize=1 << 16)
def _number_value(number: str) -> float | None:
    """:func:`parse_chinese_number` of an amount's number, masked digits ("136***") read as zeros (cached: the
    same numbers, "一", "3", "两", come back in text after text)."""
    return parse_chinese_number(number.replace("*", "0"))


@dataclass(frozen=True)
class Signal:
    """One escalation signal found in a text."""

    rule: str
    level: str
    description: str
    start: int
    end: int
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "level": self.level, "description": self.description,
                "span": [self.start, self.end], "text": self.text}

    def describe(self) -> str:
        return f"{self.rule}({self.level}):{self.text}"

    @classmethod
    def _made(cls, rule: str, level: str, description: str, start: int, end: int, text: str) -> "Signal":
        """``Signal(...)``, made in half the time: a frozen dataclass's ``__init__`` sets each field through
        ``object.__setattr__``; this fills the new instance's attribute dict at once (the matcher's hot path)."""
        signal = object.__new__(cls)
        signal.__dict__.update(rule=rule, level=level, description=description, start=start, end=end, text=text)
        return signal


@dataclass(frozen=True)
class _Rule:
    id: str
    level: str
    description: str
    patterns: tuple[re.Pattern, ...]
    negatable: bool
    customer_only: bool
    needs: re.Pattern | None
    context: re.Pattern | None
    exclude: re.Pattern | None
    near: re.Pattern | None
    count: str | None
    min_count: float
    max_count: float
    amount: bool
    pattern_conditions: tuple[tuple[frozenset[str], ...], ...] = ()  # see _conditions, pattern by pattern
    principal: re.Pattern | None = None  # amount rules: count the excess of an amount over the principal


def _heads(items: list, width: int = 2, limit: int = 4096) -> set[str] | None:
    """Strings of up to ``width`` characters one of which every match of the parsed regex ``items`` contains.

    None means "cannot tell". The strings are the beginnings of the matches
    (after a repeat, of its last repetition): the text must contain one of them.
    """
    import re._constants as c

    def join(heads: set[str], tails: set[str]) -> set[str]:
        return {(h + t)[:width] for h in heads for t in tails}

    def item_strings(op, arg) -> set[str] | None:
        if op is c.LITERAL:
            return {chr(arg)}
        if op is c.IN:
            out = set()
            for kind, value in arg:
                if kind is c.LITERAL:
                    out.add(chr(value))
                elif kind is c.RANGE and value[1] - value[0] < limit:
                    out.update(map(chr, range(value[0], value[1] + 1)))
                else:
                    return None
            return out
        if op is c.SUBPATTERN:
            return sequence(arg[-1])
        if op is c.BRANCH:
            out = set()
            for branch in arg[1]:
                strings = sequence(branch)
                if strings is None:
                    return None
                out |= strings
            return out
        if op in (c.MAX_REPEAT, c.MIN_REPEAT) and arg[0] >= 1:
            return sequence(list(arg[2]) * min(arg[0], width))
        if op in (c.MAX_REPEAT, c.MIN_REPEAT) and arg[1] >= 1:  # optional: its strings, or nothing ("")
            strings = sequence(list(arg[2]))
            return None if strings is None else strings | {""}
        return None

    def sequence(items) -> set[str] | None:
        heads = {""}
        for op, arg in items:
            if op is c.AT:  # anchors match no character
                continue
            if all(len(h) >= width for h in heads):
                break
            strings = item_strings(op, arg)
            if strings is None:
                return None if "" in heads else heads  # what is known so far still begins every match
            short = {h for h in heads if len(h) < width}  # an optional item ("" among its strings) may be skipped
            heads = (heads - short) | join(short, strings - {""}) | (short if "" in strings else set())
            if len(heads) > limit:
                return None
        return None if "" in heads else heads

    return sequence(items)


def _parse(pattern: str) -> list | None:
    try:
        from re import _parser as parser  # the standard library's own regex parser

        return list(parser.parse(pattern))
    except Exception:  # an unforeseen construct or parser: never skip on a guess
        return None


def _conditions(pattern: re.Pattern, most: int = 3) -> tuple[frozenset[str], ...]:
    """Up to ``most`` sets of 1- or 2-character strings such that a text ``pattern`` can match contains one
    string of every set; used only to skip patterns that cannot match, so an empty tuple (cannot tell) is safe.

    Each top-level element of the pattern that every match passes through gives one set (the beginnings of
    what follows from there); the most selective sets are kept: two-character strings, then fewer of them.

    >>> [sorted(c) for c in _conditions(re.compile("(?<![免防])盗刷"))]
    [['盗刷'], ['刷']]
    >>> [sorted(c)[:3] for c in _conditions(re.compile("[6-7][0-9]岁"))]
    [['0岁', '1岁', '2岁'], ['60', '61', '62'], ['岁']]
    >>> _conditions(re.compile(".{0,4}"))
    ()
    >>> [sorted(c) for c in _conditions(re.compile("[12]+个?人"))]  # an optional item: taken or skipped
    [['1个', '1人', '2个', '2人'], ['人'], ['个人', '人']]
    """
    if pattern.flags & re.IGNORECASE:
        return ()
    items = _parse(pattern.pattern)
    if items is None:
        return ()
    found = set()
    for i in range(len(items)):
        heads = _heads(items[i:])
        if heads:
            found.add(frozenset(heads))
    ranked = sorted(found, key=lambda keys: (sum(len(k) == 1 for k in keys), len(keys), sorted(keys)))
    return tuple(ranked[:most])


_SLOTS = 3  # conditions per pattern used by the index of EscalationRules
_CONDITIONS_VERSION = 2  # of _conditions: 2 reads optional items ("a?b" needs "ab" or "b"); 1 stopped at them
_FIRST = operator.itemgetter(0)
_FEW_TEXTS = 8  # fewer texts than this are indexed one by one (array set-up would cost more)
_LISTED_KEPT = 1 << 14  # distinct sets of candidate patterns kept by EscalationRules._listed
_BATCH_CHARS = 1 << 19  # longer batches are indexed in parts (each string found takes a 96-byte mask row)
_NEGATION_TAIL = r"[^，。！？；,.!?;]{0,4}$"  # a negation counts when at most this far before the keyword


class EscalationRules:
    """A severity-floor rule table (see ``corpora/escalation_rules.toml``)."""

    def __init__(self, table: dict[str, Any], *, source: str = "", sha256: str = ""):
        self.source = source
        self.sha256 = sha256
        settings = table.get("settings", {})
        self.levels: list[str] = list(settings.get("levels", ["SEV1", "SEV2", "SEV3", "SEV4"]))
        self.target: str = settings.get("target", "severity")
        self.negation_window = int(settings.get("negation_window", 6))
        self.amount_threshold = float(settings.get("amount_threshold", 50_000))
        self.model_alone_max = settings.get("model_alone_max")
        self.model_alone_min_probability = float(settings.get("model_alone_min_probability", 1.0))
        if self.model_alone_max is not None and self.model_alone_max not in self.levels:
            raise ConfigError(f"{source or 'rule table'}: model_alone_max {self.model_alone_max!r} is not one of {self.levels}.")
        self.deadlines = table.get("deadlines", {})
        try:
            self._negation = re.compile(settings.get("negations", "(不会|没有|没)") + _NEGATION_TAIL)
            self._leading_negation = re.compile(settings.get("negations", "(不会|没有|没)"))
            self._other_party = re.compile(settings.get("other_party", "(催收|对方)"))
            self._threat = re.compile(settings.get("threat_verbs", "(威胁|恐吓)"))
            self._loss = re.compile(settings.get("loss_words", "(损失|被盗)"))
            self.rules = [self._rule(raw) for raw in table.get("rule", [])]
        except re.error as e:
            raise ConfigError(f"{source or 'rule table'}: bad regular expression {e.pattern!r} ({e}).") from e
        if not self.rules:
            raise ConfigError(f"{source or 'rule table'} has no [[rule]] entries.")
        self._rank = {level: i for i, level in enumerate(self.levels)}
        self._conditions_version = _CONDITIONS_VERSION
        self._index()

    def _index(self) -> None:
        """Index the patterns by the short strings a text must contain for them to match (see :meth:`_candidates`).

        Pattern ``j`` (in rule-table order) owns bit ``j`` of each of :data:`_SLOTS` fields of one integer (each
        field starts on a 64-bit word, for :meth:`_candidates_many`): a string's mask sets, in field ``s``, the
        bits of the patterns whose ``s``-th condition it satisfies, and the base mask sets the fields of patterns
        with no ``s``-th condition, so that OR-ing the masks of a text's strings and AND-ing the fields leaves
        exactly the patterns whose every condition is met. Amount rules are not indexed: they run on the texts
        that hold an amount (see :meth:`_find`).
        """
        self._amount_possible = _may_reach(self.amount_threshold)
        self._amount_rules = [(r, rule) for r, rule in enumerate(self.rules) if rule.amount]
        self._entries: list[tuple[int, _Rule, int]] = []  # (rule number, rule, pattern index)
        conditions: list[tuple[frozenset[str], ...]] = []
        for r, rule in enumerate(self.rules):
            for k, found in enumerate(rule.pattern_conditions):
                self._entries.append((r, rule, k))
                conditions.append(found)
        self._field = 64 * ((len(self._entries) + 63) // 64)  # bits per field
        self._base = 0
        self._masks: dict[str, int] = {}
        for j, found in enumerate(conditions):
            for slot in range(_SLOTS):
                bit = 1 << (j + slot * self._field)
                if slot >= len(found):
                    self._base |= bit
                    continue
                for key in found[slot]:
                    self._masks[key] = self._masks.get(key, 0) | bit
        self._single_keys = frozenset(k for k in self._masks if len(k) == 1)
        self._pair_keys = frozenset(k for k in self._masks if len(k) == 2)
        # the text's 2-character strings that could be keys, overlapping ones included (a lookahead)
        firsts, seconds = ("".join(sorted({re.escape(k[i]) for k in self._pair_keys})) for i in (0, 1))
        self._pairs = re.compile(f"(?=([{firsts}][{seconds}]))") if self._pair_keys else None
        self._key_table = None  # the same index as arrays, for batches (built on first use, see _key_arrays)
        self._listed_: dict[tuple[int, ...], list] = {}  # see _listed

    def _rule(self, raw: dict[str, Any]) -> _Rule:
        missing = [k for k in ("id", "level", "patterns") if k not in raw]
        if missing:
            raise ConfigError(f"{self.source}: a rule lacks {missing}: {raw!r}")
        if raw["level"] not in self.levels:
            raise ConfigError(f"{self.source}: rule {raw['id']!r} has level {raw['level']!r}, not one of {self.levels}.")
        amount = raw["patterns"] == ["__amount__"]
        patterns = () if amount else tuple(re.compile(p) for p in raw["patterns"])
        conditions = tuple(_conditions(p) for p in patterns)
        return _Rule(
            id=raw["id"],
            level=raw["level"],
            description=raw.get("description", ""),
            patterns=patterns,
            negatable=bool(raw.get("negatable", False)),
            customer_only=bool(raw.get("customer_only", False)),
            needs=re.compile(raw["needs"]) if raw.get("needs") else None,
            context=re.compile(raw["context"]) if raw.get("context") else None,
            exclude=re.compile(raw["exclude"]) if raw.get("exclude") else None,
            near=re.compile(raw["near"]) if raw.get("near") else None,
            count=raw.get("count"),
            min_count=float(raw.get("min_count", 0)),
            max_count=float(raw.get("max_count", float("inf"))),
            amount=amount,
            pattern_conditions=conditions,
            principal=re.compile(raw["principal"]) if raw.get("principal") else None,
        )

    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> "EscalationRules":
        """Read a rule table (TOML); None or ``"default"`` reads the shipped ``corpora/escalation_rules.toml``."""
        path = corpora_dir() / DEFAULT_RULES if path in (None, "default") else Path(path)
        try:
            raw = path.read_bytes()
            table = tomllib.loads(raw.decode("utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"No escalation rule table at {str(path)!r}.") from None
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
            raise ConfigError(f"{path} is not a valid UTF-8 TOML rule table ({e}).") from e
        return cls(table, source=str(path), sha256=hashlib.sha256(raw).hexdigest())

    def __getstate__(self):
        state = self.__dict__.copy()
        for derived in ("_entries", "_base", "_masks", "_single_keys", "_pair_keys", "_pairs", "_amount_possible",
                        "_key_table", "_amount_rules", "_field", "_listed_"):
            state.pop(derived, None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if "_leading_negation" not in state:  # a rule table pickled before leading negations were told apart
            self._leading_negation = re.compile(self._negation.pattern.removesuffix(_NEGATION_TAIL))
        if state.get("_conditions_version") != _CONDITIONS_VERSION:  # conditions found by an earlier _conditions
            for rule in self.rules:  # (or none): found again, once per load, until the model is saved again
                object.__setattr__(rule, "pattern_conditions", tuple(_conditions(p) for p in rule.patterns))
            self._conditions_version = _CONDITIONS_VERSION
        self._index()

    # -- matching --------------------------------------------------------------
    @staticmethod
    def _clause(text: str, start: int, end: int, stops: list[int]) -> tuple[int, int]:
        """The clause around ``text[start:end]``: from after the previous clause end to the next one.

        ``stops`` holds the positions of every clause end in ``text``, ascending (found once per text).
        """
        before = bisect.bisect_left(stops, start)  # stops[before - 1] < start
        left = stops[before - 1] + 1 if before else 0
        after = bisect.bisect_left(stops, end)
        return left, stops[after] if after < len(stops) else len(text)

    @staticmethod
    def _words_near_amount(text: str, start: int, end: int, words: re.Pattern, width: int = 12) -> bool:
        """One of ``words`` within ``width`` characters of an amount, with no other number or sentence end between."""
        left = _LEFT_OF_AMOUNT.split(text[max(0, start - width):start])[-1]
        right = _RIGHT_OF_AMOUNT.split(text[end:end + width], 1)[0]  # the next clause speaks of something else
        if _DIGIT.search(right):  # a loss word between two amounts belongs to the later one
            right = ""
        return bool(words.search(left) or words.search(right))

    def _negated(self, text: str, start: int, end: int, clause_start: int) -> bool:
        """A negation shortly before the match's last two characters (its keyword), in the same clause.

        A match that itself begins with a negation ("未经同意", "没有任何通知") states the problem
        with it: only a negation before the match cancels it.
        """
        anchor = start if self._leading_negation.match(text, start) else max(start, end - 2)
        window = text[max(clause_start, start - self.negation_window):anchor]
        return bool(self._negation.search(window))

    def _by_other_party(self, text: str, start: int, end: int, clause: str) -> bool:
        if self._other_party.search(clause) and self._threat.search(clause):
            return True
        return text[end:end + 1] == "我"  # "起诉我", "报警抓我": the customer is the object

    def _amount_values(self, text: str) -> list[tuple[re.Match, float, bool]]:
        """(match, value in yuan, whether a unit follows) of every amount in the text, or [] when none reaches the
        threshold: then no amount rule can fire (each needs an amount, or an excess over another amount, of at
        least the threshold; amounts are never negative). Texts that cannot hold one are skipped unread (see
        :func:`_may_reach`)."""
        if not self._amount_possible.search(text):
            return []
        found = []
        for m in _AMOUNT.finditer(text):
            number, wan1, _, wan2, yuan = m.groups()
            value = _number_value(number)
            if value is None:
                continue
            if wan1 or wan2:
                value *= 10_000
            found.append((m, value, bool(wan1 or wan2 or yuan)))
        threshold = self.amount_threshold
        return found if any(value >= threshold for _, value, _ in found) else []

    def _amounts(self, text: str, require_unit: bool = True, amounts: list | None = None) -> list[re.Match]:
        """Amounts of at least the threshold (with a unit: 元, 块, 万, unless ``require_unit`` is false).

        ``amounts`` is the text's :meth:`_amount_values`, when already found.
        """
        if amounts is None:
            amounts = self._amount_values(text)
        threshold = self.amount_threshold
        return [m for m, value, unit in amounts if value >= threshold and (unit or not require_unit)]

    def _excess_amounts(self, text: str, principal_words: re.Pattern, amounts: list | None = None) -> list[re.Match]:
        """Amounts that exceed the loan principal by at least the threshold (the disputed interest and fees).

        The principal is the first amount with one of ``principal_words`` beside it ("本金65000", "借了3万").
        """
        if amounts is None:
            amounts = self._amount_values(text)
        values = [value for _, value, _ in amounts]
        if not values or max(values) - min(values) < self.amount_threshold:
            return []  # the principal is one of the amounts: no amount can exceed it by the threshold
        principal = next((value for m, value, _ in amounts
                          if self._words_near_amount(text, *m.span(), principal_words, width=6)), None)
        if principal is None:
            return []
        return [m for m, value, _ in amounts if value - principal >= self.amount_threshold]

    def _candidates(self, text: str) -> list[tuple[int, _Rule, list[int]]]:
        """(rule number, rule, pattern indexes worth running) of the pattern rules, in rule-table order."""
        present = set(self._single_keys.intersection(text))
        if self._pairs is not None:
            present.update(self._pair_keys.intersection(self._pairs.findall(text)))
        met = functools.reduce(operator.or_, map(self._masks.__getitem__, present), self._base)
        for _ in range(_SLOTS - 1):  # afterwards the lowest field is the AND of all fields
            met &= met >> self._field
        met &= (1 << self._field) - 1
        bits = []
        while met:
            low = met & -met
            bits.append(low.bit_length() - 1)
            met ^= low
        return self._listed(bits)

    def _listed(self, bits: list[int]) -> list[tuple[int, _Rule, list[int]]]:
        """The candidates given by the set bits of a text's AND-ed field, ascending.

        Kept for the last distinct sets of bits (texts often share theirs): callers must not change what they get.
        """
        key = tuple(bits)
        out = self._listed_.get(key)
        if out is None:
            out = []
            entries = self._entries
            for j in bits:
                r, rule, k = entries[j]
                if out and out[-1][1] is rule:
                    out[-1][2].append(k)
                else:
                    out.append((r, rule, [k]))
            if len(self._listed_) >= _LISTED_KEPT:
                self._listed_.clear()
            self._listed_[key] = out
        return out

    def _key_arrays(self):
        """The index as arrays, for :meth:`_candidates_many` (built on first use): the strings' masks as rows of
        64-bit words (and a last row for no string) and the base mask; per code point (up to the largest in a
        one-character string, plus one slot for all above), the row of the one-character string; and the
        two-character strings with their rows, as a :class:`PairTable`."""
        if self._key_table is None:
            strings = sorted(self._masks)
            words = _SLOTS * self._field // 64

            def as_words(mask: int):
                return np.frombuffer(mask.to_bytes(8 * words, "little"), dtype=np.uint64)

            masks = np.stack([as_words(self._masks[s]) for s in strings] + [as_words(0)])  # last row: no string
            top = max((ord(s) for s in strings if len(s) == 1), default=0) + 1
            single = np.full(top + 1, len(strings), dtype=np.int64)
            for row, s in enumerate(strings):
                if len(s) == 1:
                    single[ord(s)] = row
            pairs = PairTable({s: row for row, s in enumerate(strings) if len(s) == 2})
            self._key_table = (masks, as_words(self._base), single, pairs)
        return self._key_table

    def _candidates_many(self, texts: list[str]) -> list[tuple[list[tuple[int, _Rule, list[int]]], list[int]]]:
        """(:meth:`_candidates`, :func:`_clause_ends`) of every text, the index's strings and the clause ends found
        in all texts at once with array operations.

        Each text's mask is the OR of the masks of the strings found in it, taken group by group (one-character
        strings, then two-character ones; each group is in text order): a string found twice ORs in the same bits.
        """
        if not texts:
            return []
        lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
        if len(texts) > 1 and lengths.sum() > _BATCH_CHARS:  # bounded memory: every string found has a mask row
            half = len(texts) // 2
            return self._candidates_many(texts[:half]) + self._candidates_many(texts[half:])
        masks, base, single, pairs = self._key_arrays()
        text_of = np.repeat(np.arange(len(texts)), lengths)  # the text of every character
        codes = code_points("".join(texts))
        capped = np.minimum(codes, len(single) - 1)  # code points above every string's share the last slot
        rows = single[capped]
        places = np.flatnonzero(rows < len(masks) - 1)
        found = [(rows[places], text_of[places])]  # (string, text) of each string found
        starts, pair_rows = pairs.find(codes)  # the two-character strings found
        inside = text_of[starts] == text_of[starts + 1]  # inside one text
        found.append((pair_rows[inside], text_of[starts[inside]]))
        met = np.tile(base, (len(texts), 1))
        for rows, owners in found:
            if len(rows):
                bounds = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])  # where each text's strings begin
                met[owners[bounds]] |= np.bitwise_or.reduceat(np.take(masks, rows, axis=0), bounds, axis=0)
        fields = np.split(met, _SLOTS, axis=1)  # AND of the fields: the patterns whose every condition is met
        met = np.bitwise_and.reduce(fields) if _SLOTS > 1 else fields[0]
        rows, bits = np.nonzero(np.unpackbits(met.view(np.uint8), axis=1, bitorder="little"))
        bounds = [0, *np.searchsorted(rows, np.arange(1, len(texts))).tolist(), len(bits)]
        bits = bits.tolist()
        stops = _clause_ends_many(codes, text_of, np.cumsum(lengths) - lengths)
        return [(self._listed(bits[a:b]), ends) for a, b, ends in zip(bounds, bounds[1:], stops)]

    def _accepts(self, rule: _Rule, m: re.Match, text: str, stops: list[int]) -> bool:
        """Whether a match of the rule's pattern passes the rule's count, negation, speaker and context checks."""
        if rule.count == "group":  # first: most numbers before a person word ("一个人") are not a group
            number = _GROUP_NUMBER.match(m.group(0))
            if number is not None:  # group words without a number ("集体维权") count as the rule's level
                value = parse_chinese_number(number.group(0))
                if value is None or not rule.min_count <= value <= rule.max_count:
                    return False
        start, end = m.span()
        c_start, c_end = self._clause(text, start, end, stops)
        clause = text[c_start:c_end]
        if rule.negatable and self._negated(text, start, end, c_start):
            return False
        if rule.customer_only and self._by_other_party(text, start, end, clause):
            return False
        if rule.context is not None and not rule.context.search(clause):
            return False
        if rule.exclude is not None and rule.exclude.search(clause):
            return False
        if rule.amount and not self._words_near_amount(text, start, end, rule.near or self._loss):
            return False
        return True

    def find(self, text: str) -> list["Signal"]:
        """Every signal in a normalised text, in rule-table order."""
        return self._find(text, self._candidates(text))

    def find_many(self, texts: list[str]) -> list[list["Signal"]]:
        """:meth:`find` for each of ``texts``; a batch is indexed at once, with array operations.

        >>> rules = EscalationRules.load()
        >>> texts = ["我要向银保监会投诉", "年费退了就好", "我不会去曝光的"]
        >>> rules.find_many(texts) == [rules.find(t) for t in texts]
        True
        """
        if len(texts) < _FEW_TEXTS:
            return [self.find(text) for text in texts]
        return [self._find(t, c, stops) for t, (c, stops) in zip(texts, self._candidates_many(texts))]

    def _find(self, text: str, candidates: list[tuple[int, _Rule, list[int]]],
              stops: list[int] | None = None) -> list["Signal"]:
        """The signals of a text, given its candidate patterns and (when known) its clause ends."""
        found = []  # (the clause ends, when not given, are found when a match first needs them)
        amounts = self._amount_values(text) if self._amount_rules else []
        if amounts:  # the amount rules join the candidates, in rule-table order
            candidates = sorted(candidates + [(r, rule, []) for r, rule in self._amount_rules], key=_FIRST)
        for _, rule, patterns in candidates:
            if rule.needs is not None and not rule.needs.search(text):
                continue
            if rule.amount:
                if rule.principal is not None:
                    matches = self._excess_amounts(text, rule.principal, amounts)
                else:  # with explicit context words, a bare number ("共还款51946") counts too
                    matches = self._amounts(text, rule.near is None, amounts)
            else:
                matches = (m for k in patterns for m in rule.patterns[k].finditer(text))
            taken: list[tuple[int, int]] = []  # spans this rule already reported (overlaps are one signal)
            for m in matches:
                start, end = m.span()
                if taken and any(start < b and a < end for a, b in taken):
                    continue
                if stops is None:
                    stops = _clause_ends(text)
                if not self._accepts(rule, m, text, stops):
                    continue
                taken.append((start, end))
                found.append(Signal._made(rule.id, rule.level, rule.description, start, end, m.group(0)))
        return found

    # -- decisions -------------------------------------------------------------
    def rank(self, level: str | None) -> int:
        return self._rank.get(level, -1)

    def floor(self, signals: list[Signal]) -> str | None:
        """The highest level any signal sets, or None."""
        best = max((self._rank[s.level] for s in signals), default=-1)
        return self.levels[best] if best >= 0 else None

    def deadline(self, level: str | None) -> dict[str, Any] | None:
        """Handling deadlines that follow from a severity level."""
        if level is None or not self.deadlines:
            return None
        d = self.deadlines
        return {
            "respond_within_hours": d.get("respond_within_hours", {}).get(level),
            "decide_within_days": d.get("decide_within_days"),
            "extendable_to_days": d.get("extendable_to_days"),
            "further_extension_days": d.get("further_extension_days"),
            "action": d.get("action", {}).get(level),
            "basis": d.get("basis"),
        }

    def to_dict(self) -> dict[str, Any]:
        return {"source": os.path.basename(self.source), "sha256": self.sha256, "target": self.target,
                "levels": self.levels, "rules": [r.id for r in self.rules]}
