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

import hashlib
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .exceptions import ConfigError
from .resources import corpora_dir

__all__ = ["EscalationRules", "Signal", "parse_chinese_number", "DEFAULT_RULES"]

DEFAULT_RULES = "escalation_rules.toml"
_CLAUSE_END = re.compile(r"[，。！？；,.!?;\n]")
_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "几": 3}
_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10_000}
_AMOUNT = re.compile(
    r"(?<![0-9.])([0-9]+(?:\.[0-9]+)?|[零〇一二两三四五六七八九十百千几]+)\s*(万|w)?\s*(多|余|几)?\s*(万)?\s*(元|块|rmb)?"
)


def parse_chinese_number(text: str) -> float | None:
    """Read ``"20"``, ``"二十"``, ``"十几"``, ``"一百二"``, ``"3.5"`` as a number (``几`` counts as 3).

    >>> [parse_chinese_number(t) for t in ("20", "二十", "十几", "几十", "一百二十", "两千", "x")]
    [20.0, 20.0, 13.0, 30.0, 120.0, 2000.0, None]
    """
    try:
        return float(text)
    except ValueError:
        pass
    if not text or any(ch not in _DIGITS and ch not in _UNITS for ch in text):
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
            self._negation = re.compile(settings.get("negations", "(不会|没有|没)") + r"[^，。！？；,.!?;]{0,4}$")
            self._other_party = re.compile(settings.get("other_party", "(催收|对方)"))
            self._threat = re.compile(settings.get("threat_verbs", "(威胁|恐吓)"))
            self._loss = re.compile(settings.get("loss_words", "(损失|被盗)"))
            self.rules = [self._rule(raw) for raw in table.get("rule", [])]
        except re.error as e:
            raise ConfigError(f"{source or 'rule table'}: bad regular expression {e.pattern!r} ({e}).") from e
        if not self.rules:
            raise ConfigError(f"{source or 'rule table'} has no [[rule]] entries.")
        self._rank = {level: i for i, level in enumerate(self.levels)}

    def _rule(self, raw: dict[str, Any]) -> _Rule:
        missing = [k for k in ("id", "level", "patterns") if k not in raw]
        if missing:
            raise ConfigError(f"{self.source}: a rule lacks {missing}: {raw!r}")
        if raw["level"] not in self.levels:
            raise ConfigError(f"{self.source}: rule {raw['id']!r} has level {raw['level']!r}, not one of {self.levels}.")
        amount = raw["patterns"] == ["__amount__"]
        return _Rule(
            id=raw["id"],
            level=raw["level"],
            description=raw.get("description", ""),
            patterns=() if amount else tuple(re.compile(p) for p in raw["patterns"]),
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

    # -- matching --------------------------------------------------------------
    @staticmethod
    def _clause(text: str, start: int, end: int) -> tuple[int, int]:
        left = start
        while left > 0 and not _CLAUSE_END.match(text[left - 1]):
            left -= 1
        match = _CLAUSE_END.search(text, end)
        return left, match.start() if match else len(text)

    @staticmethod
    def _loss_near_amount(text: str, start: int, end: int, words: re.Pattern, width: int = 12) -> bool:
        """One of ``words`` within ``width`` characters of an amount, with no other number or sentence end between."""
        left = re.split(r"[0-9。！？!?]", text[max(0, start - width):start])[-1]
        right = text[end:end + width]
        if re.search(r"[0-9]", right):  # a loss word between two amounts belongs to the later one
            right = ""
        return bool(words.search(left) or words.search(right))

    def _negated(self, text: str, start: int, end: int, clause_start: int) -> bool:
        """A negation shortly before the match's last two characters (its keyword), in the same clause."""
        anchor = max(start, end - 2)
        window = text[max(clause_start, start - self.negation_window):anchor]
        return bool(self._negation.search(window))

    def _by_other_party(self, text: str, start: int, end: int, clause: str) -> bool:
        if self._other_party.search(clause) and self._threat.search(clause):
            return True
        return text[end:end + 1] == "我"  # "起诉我", "报警抓我": the customer is the object

    def _amounts(self, text: str, require_unit: bool = True):
        for m in _AMOUNT.finditer(text):
            number, wan1, _, wan2, yuan = m.groups()
            if require_unit and not (wan1 or wan2 or yuan):
                continue
            value = parse_chinese_number(number)
            if value is None:
                continue
            if wan1 or wan2:
                value *= 10_000
            if value >= self.amount_threshold:
                yield m

    def find(self, text: str) -> list["Signal"]:
        """Every signal in a normalised text, in rule-table order."""
        found = []
        for rule in self.rules:
            if rule.needs is not None and not rule.needs.search(text):
                continue
            taken: list[tuple[int, int]] = []  # spans this rule already reported (overlaps are one signal)
            if rule.amount:  # with explicit context words, a bare number ("共还款51946") counts too
                matches = self._amounts(text, require_unit=rule.near is None)
            else:
                matches = (m for p in rule.patterns for m in p.finditer(text))
            for m in matches:
                start, end = m.span()
                c_start, c_end = self._clause(text, start, end)
                clause = text[c_start:c_end]
                if rule.negatable and self._negated(text, start, end, c_start):
                    continue
                if rule.customer_only and self._by_other_party(text, start, end, clause):
                    continue
                if rule.context is not None and not rule.context.search(clause):
                    continue
                if rule.exclude is not None and rule.exclude.search(clause):
                    continue
                if rule.amount and not self._loss_near_amount(text, start, end, rule.near or self._loss):
                    continue
                if rule.count == "group":
                    number = re.match(r"[0-9一二两三四五六七八九十百几]+", m.group(0))
                    if number is None:  # group words without a number ("集体维权") count as the rule's level
                        pass
                    else:
                        value = parse_chinese_number(number.group(0))
                        if value is None or not rule.min_count <= value <= rule.max_count:
                            continue
                if any(start < b and a < end for a, b in taken):
                    continue
                taken.append((start, end))
                found.append(Signal(rule.id, rule.level, rule.description, start, end, m.group(0)))
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
