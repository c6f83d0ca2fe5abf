"""Word segmentation with a private jieba tokenizer, accelerated where that provably changes nothing.

The :class:`Segmenter` never touches jieba's module-level default tokenizer:
it builds its own, loads the project's user dictionary into it in a fixed
order, keeps jieba's cache file in triage's cache folder, and drops the
tokenizer when pickled (it holds a lock) so that it is rebuilt after loading.

Segmentation is *defined* by jieba 0.42.1: its dictionary, the user
dictionary and the HMM setting. With HMM off, ``rjieba`` (a binding of the
Rust port jieba-rs) runs the same algorithm — the same dictionary, the same
maximum-probability route over the same word frequencies — ten to thirty times
faster. Two things could still make it cut differently, and both are closed:

* **Word frequencies and the dictionary total.** jieba derives a missing user
  word frequency from its running totals and, when a word is added twice,
  counts it twice in the total; jieba-rs replaces it. So the user dictionary
  is resolved once by jieba into explicit frequencies plus the total jieba
  ended with, and the Rust tokenizer is given exactly those (the difference in
  the total goes to a placeholder word that no text can reach).
* **Exact ties.** Where two routes through a sentence score the same in exact
  arithmetic, floating-point rounding picks one, and the two implementations
  round differently. Such ties come from words that commute (``xy == yx``
  holds only for powers of one string: ``滴滴|滴`` vs ``滴|滴滴``), so every text
  holding three repeats of a string whose powers are dictionary words
  (``滴滴滴``, ``急急急``) is cut by jieba.
* **Anything else** (a different rjieba or dictionary version, character
  classes, tie-breaking): the tokens jieba produced for a varied probe set are
  recorded as a digest when the segmenter is first built; the Rust tokenizer
  is used only if it reproduces that digest exactly, otherwise triage falls
  back to jieba and logs why.

With HMM on, jieba-rs is known to differ on a few percent of lines, so jieba
is always used.

>>> seg = Segmenter(user_dict=None, stop_words=None)
>>> seg.cut("我要提前还款")
['我', '要', '提前', '还款']
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import logging
import re
import sys
import threading
import unicodedata
from pathlib import Path

from .exceptions import ConfigError, DictionaryError, InputError
from .resources import cache_dir, corpora_dir

__all__ = ["Segmenter", "read_user_dict", "read_stop_words", "quiet_jieba", "BACKENDS"]

logger = logging.getLogger(__name__)

DEFAULT_USER_DICT = "userdict.txt"
DEFAULT_STOP_WORDS = "stopwords.txt"
BACKENDS = ("auto", "jieba", "rjieba")
# Whitespace other than single spaces (normalised text has none): what r"[^\S ]|  " matches, with the characters
# of \s spelled out (tests check the list) so that a search skips ahead to them instead of trying every place.
_WHITESPACE_BUT_SPACE = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_ODD_SPACE = re.compile(f"[{_WHITESPACE_BUT_SPACE} ](?:(?<! )| )")  # one class first: "[...]|  " is tried everywhere
_ENTRY = re.compile(r"^(\S+)(?:\s+(\d+))?(?:\s+([A-Za-z]+))?$")
# Characters outside jieba's word blocks ([\u4E00-\u9FD5a-zA-Z0-9+#&._%-]) never reach the dictionary, so a
# "word" made of them can carry frequency into the total without ever matching text.
_PLACEHOLDER = "\ue000\ue001"
_PROBE_SIZE = 400

# Non-Chinese runs are where segmenters part ways: dates, times, money, URLs, codes, mixed scripts, symbols.
_TRICKY = (
    "2023年3月5日14:30扣款￥1,280.50元", "网址http://www.example.com/a_b-c?x=1&y=2%20z", "卡号尾号6688的e账户",
    "app里点了“确认”按钮没反应...", "利率24%+服务费0.5%/月", "c++和c#都不是金融术语", "3.5w额度, 36期, apr 35.9%",
    "微信:abc_123-x 邮箱a.b@c.com", "１２３４５全角数字ａｂｃ", "他说——“不还就上门”!!!", "第1期-第12期\t共计\r\n12期",
    "⭐️😡 垃圾平台 😡", "ok好的 then再说", "v信号wx123", "一二三四五六七八九十百千万亿", "&&##__..%%--++",
)


def _nfkc_lower(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def _probe_texts(entries) -> tuple[str, ...]:
    """A varied probe: the shipped corpus, every user word in context, and non-Chinese runs."""
    import json

    texts = []
    corpus = corpora_dir() / "complaints.heldout.jsonl"
    if corpus.is_file():
        with open(corpus, encoding="utf-8") as f:
            for line, _ in zip(f, range(_PROBE_SIZE)):
                texts.append(_nfkc_lower(json.loads(line)["text"]))
    texts += [f"我{word}了，{word}的问题" for word, _, _ in entries]
    texts += [_nfkc_lower(t) for t in _TRICKY]
    return tuple(texts)


def _digest(cut, texts) -> str:
    h = hashlib.sha256()
    for text in texts:
        h.update("\x1f".join(cut(text)).encode("utf-8"))
        h.update(b"\x1e")
    return h.hexdigest()


def _tie_pattern(frequencies: dict[str, int]) -> str:
    """A regex for three repeats of any string whose powers are words (where routes can tie exactly)."""
    singles, longer = set(), set()
    for word, freq in frequencies.items():
        if freq and len(word) > 1:
            period = (word + word).find(word, 1)  # word is a power of word[:period] iff period < len(word)
            if period < len(word):
                (singles if period == 1 else longer).add(word[:period])
    parts = [f"(?P<c>[{''.join(map(re.escape, sorted(singles)))}])(?P=c)(?P=c)"] if singles else []
    if longer:
        parts.append(f"(?P<r>{'|'.join(map(re.escape, sorted(longer, key=len, reverse=True)))})(?P=r)(?P=r)")
    return "|".join(parts) or "(?!)"


class _TieCheck:
    """``check(text)``: whether :func:`_tie_pattern`'s regex occurs in ``text``, the slow part behind a quick test.

    The alternation of repeated words is tried only where some string that begins
    with one of their first characters occurs three times in a row.

    >>> check = _TieCheck(_tie_pattern({"滴滴": 5, "很多很多": 3, "银行": 9}))
    >>> [check(t) for t in ("滴滴滴", "很多很多很多", "银行银行银行", "滴滴")]
    [True, True, False, False]
    >>> check.suspects("银行滴滴滴，很多很多很多")  # where a match may begin: a text is checked if one is in it
    [2, 6]
    """

    def __init__(self, pattern: str):
        self.pattern = pattern
        self.full = re.compile(pattern).search
        found = re.search(r"\(\?P<r>(.*)\)\(\?P=r\)\(\?P=r\)$", pattern)
        alternatives = found.group(1).split("|") if found else []
        self.single = self.quick = None
        if not alternatives or any(a.endswith("\\") for a in alternatives):  # nothing slow, or an escaped "|"
            return
        words = [re.sub(r"\\(.)", r"\1", a) for a in alternatives]
        singles = pattern[: found.start()].removesuffix("|")
        self.single = re.compile(singles) if singles else None
        # a character three times in a row (as _tie_pattern writes it): found by comparing code points
        self.triples = bool(re.fullmatch(r"\(\?P<c>\[[^]]*\]\)\(\?P=c\)\(\?P=c\)", singles))
        firsts = "".join(sorted({re.escape(w[0]) for w in words}))
        self.quick = re.compile(f"([{firsts}])(.{{0,{max(map(len, words)) - 1}}}?)\\1\\2\\1\\2", re.S)
        # the first character is matched before the look-ahead, so that a search skips to the next such character
        self.quick_starts = re.compile(f"([{firsts}])(?=(.{{0,{max(map(len, words)) - 1}}}?)\\1\\2\\1\\2)", re.S)

    def __call__(self, text: str) -> bool:
        if self.quick is None:
            return self.full(text) is not None
        return ((self.single is not None and self.single.search(text) is not None)
                or (self.quick.search(text) is not None and self.full(text) is not None))

    def suspects(self, text: str) -> list[int]:
        """Places where a match may begin, ascending: every match of the pattern in ``text`` begins at one.

        Each of the pattern's matches lies inside the text it is found in, so
        in many texts joined by a separator that no word holds, the texts
        without any of these places need no :meth:`__call__`.
        """
        if self.quick is None:
            return sorted({m.start() for m in re.finditer(f"(?=(?:{self.pattern}))", text)})
        places = [m.start() for m in self.quick_starts.finditer(text)]
        if self.single is not None and self.triples:  # where one character comes three times, if a match begins
            import numpy as np

            codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
            triples = np.flatnonzero((codes[:-2] == codes[1:-1]) & (codes[1:-1] == codes[2:])).tolist()
            places += [at for at in triples if self.single.match(text, at)]
        elif self.single is not None:
            places += [m.start() for m in self.single.finditer(text)]
        return sorted(places)


def _file_sha256(path: Path | None) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path is not None else None


def _resolve(path: str | Path | None, default_name: str, base_dir: Path | None) -> Path | None:
    if path is None:
        return None
    if path == "default":
        return corpora_dir() / default_name
    path = Path(path)
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    return path.resolve()


def _read_lines(path: Path, what: str) -> list[str]:
    if not path.is_file():
        raise DictionaryError(f"The {what} file {str(path)!r} does not exist; give an existing UTF-8 file or none.")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise DictionaryError(
            f"The {what} file {str(path)!r} is not UTF-8 (byte {e.start}); save it as UTF-8 and try again."
        ) from e
    return text.splitlines()


_JIEBA_LOG_LEVEL: list[int] = []  # the level asked for by quiet_jieba, applied when jieba is imported


def quiet_jieba(level: int = logging.WARNING) -> None:
    """Silence jieba's "Building prefix dict..." messages (jieba sets its logger to DEBUG when imported).

    For applications (the CLI, tests) to call; the library itself leaves logging alone. jieba is
    not imported for this (its import takes about 0.15 s, and most predictions never need it): the
    level is applied now if jieba is loaded, else as soon as triage loads it.
    """
    _JIEBA_LOG_LEVEL[:] = [level]
    if "jieba" in sys.modules:
        sys.modules["jieba"].setLogLevel(level)


def read_user_dict(path: Path) -> list[tuple[str, int | None, str | None]]:
    """Parse a jieba user dictionary: one ``word [frequency] [tag]`` per line; ``#`` starts a comment.

    Words are NFKC-normalised and lower-cased like the texts they will meet.
    """
    import unicodedata

    entries = []
    for number, line in enumerate(_read_lines(path, "user dictionary"), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _ENTRY.match(line)
        if not match:
            raise DictionaryError(
                f"{path}:{number}: cannot read {line!r}; expected 'word [frequency] [tag]' "
                "with no spaces inside the word."
            )
        word, freq, tag = match.groups()
        word = unicodedata.normalize("NFKC", word).lower()
        entries.append((word, int(freq) if freq else None, tag))
    return entries


def read_stop_words(path: Path) -> frozenset[str]:
    """Read a stop-word list: one word per line; ``#`` starts a comment."""
    words = (line.strip() for line in _read_lines(path, "stop-word"))
    return frozenset(w for w in words if w and not w.startswith("#"))


class Segmenter:
    """Picklable word segmenter: jieba's segmentation, run by jieba or by rjieba when that is provably the same.

    Parameters
    ----------
    user_dict : path, ``"default"`` or None
        A jieba user dictionary (``word [freq] [tag]`` per line). ``"default"``
        is the financial dictionary shipped in ``corpora/``. Relative paths
        resolve against ``base_dir``.
    stop_words : path, ``"default"`` or None
        Words dropped from the output.
    hmm : bool
        Let jieba guess unknown words with its HMM. Off by default: it brought
        no measurable accuracy on the six shared benchmarks (bench/bench_hmm.py,
        docs/benchmarks.md), jieba's maintainers report a better segmentation
        F-score without it, and only with it off can rjieba be used.
    backend : ``"auto"``, ``"jieba"`` or ``"rjieba"``
        ``"auto"`` uses rjieba when it is installed, HMM is off and it
        reproduces jieba's tokens on the probe set, else jieba. ``"rjieba"``
        insists (an error otherwise); ``"jieba"`` never accelerates.
    base_dir : path or None
        Folder against which relative dictionary paths resolve (a model
        directory's ``resources/`` when loaded from disk).
    """

    def __init__(self, *, user_dict="default", stop_words="default", hmm: bool = False, backend: str = "auto",
                 base_dir=None):
        if backend not in BACKENDS:
            raise ConfigError(f"Unknown segmentation backend {backend!r}; choose one of {', '.join(BACKENDS)}.")
        self.user_dict = user_dict
        self.stop_words = stop_words
        self.hmm = hmm
        self.backend = backend
        self.base_dir = base_dir
        self._cut = None
        self._fast = None  # with rjieba in use: (rjieba's own cut, the test for texts it hands to jieba)
        self._jieba = None
        self._stop = frozenset()
        self._lock = threading.RLock()
        self.backend_ = None  # the backend in use once built
        # jieba's resolution of the user dictionary, kept when pickled: (dictionary sha256, words, extra total)
        self._resolved = None
        self._probe = None  # (probe texts, digest of jieba's tokens for them)

    # -- files -------------------------------------------------------------
    def user_dict_path(self) -> Path | None:
        """Absolute path of the user dictionary, or None."""
        return _resolve(self.user_dict, DEFAULT_USER_DICT, self.base_dir and Path(self.base_dir))

    def stop_words_path(self) -> Path | None:
        """Absolute path of the stop-word file, or None."""
        return _resolve(self.stop_words, DEFAULT_STOP_WORDS, self.base_dir and Path(self.base_dir))

    # -- building ------------------------------------------------------------
    def _jieba_tokenizer(self, words=()):
        import jieba  # imported lazily: jieba's import is slow and configures its logger

        if _JIEBA_LOG_LEVEL:
            jieba.setLogLevel(_JIEBA_LOG_LEVEL[0])
        tokenizer = jieba.Tokenizer()
        folder = cache_dir()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            tokenizer.tmp_dir = str(folder)
        except OSError:
            logger.warning("Cannot create cache folder %s; jieba will use the system temp folder.", folder)
        tokenizer.initialize()
        for word, freq, tag in words:
            tokenizer.add_word(word, freq, tag)
        return tokenizer

    def _resolve_with_jieba(self, user_dict: Path | None, digest: str | None):
        """Let jieba read the user dictionary; record the frequencies it chose and its tokens for the probe."""
        entries = read_user_dict(user_dict) if user_dict else []
        tokenizer = self._jieba_tokenizer()
        words, extra_total = [], 0
        for word, freq, tag in entries:
            if freq == 0:
                freq = None  # freq 0 would leak into jieba's global Force_Split_Words
            extra_total += tokenizer.FREQ.get(word, 0)  # jieba counts a re-added word twice in its total
            tokenizer.add_word(word, freq, tag)
            words.append((word, tokenizer.FREQ[word], tag))
        self._resolved = (digest, tuple(words), extra_total, _tie_pattern(tokenizer.FREQ))
        probe = _probe_texts(entries)
        self._probe = (probe, _digest(lambda t: tokenizer.cut(t, HMM=False), probe))
        return tokenizer

    def _rjieba_cut(self):
        """rjieba's cut if it is installed and reproduces jieba's probe tokens, else None (and why)."""
        try:
            import rjieba
        except ImportError:
            return None, "rjieba is not installed"
        _, words, extra_total, tie_pattern = self._resolved
        tokenizer = rjieba.Jieba()
        for word, freq, tag in words:
            tokenizer.add_word(word, freq, tag)
        if extra_total:
            tokenizer.add_word(_PLACEHOLDER, extra_total, None)

        fast_cut = tokenizer.cut
        tie_prone = _TieCheck(tie_pattern)

        def cut(text):
            if tie_prone(text):
                return self._jieba_cut(text)
            return fast_cut(text, False)

        probe, expected = self._probe
        if _digest(cut, probe) != expected:
            return None, "rjieba's tokens differ from jieba's on the probe set"
        self._fast = (fast_cut, tie_prone)
        return cut, None

    def _jieba_cut(self, text: str):
        """jieba's own cut (built on first use when the fast backend hands a text back)."""
        if self._jieba is None:
            self._load_jieba()
        return self._jieba.cut(text, HMM=self.hmm)

    def _build(self):
        user_dict = self.user_dict_path()
        stop_path = self.stop_words_path()
        stop = read_stop_words(stop_path) if stop_path else frozenset()
        if user_dict is not None and not user_dict.is_file():
            read_user_dict(user_dict)  # raises the clear "does not exist" error
        digest = _file_sha256(user_dict) if user_dict is not None else None
        jieba_tokenizer = None
        if self._resolved is None or self._resolved[0] != digest or self._probe is None:
            jieba_tokenizer = self._resolve_with_jieba(user_dict, digest)
        cut, why = None, "HMM is on" if self.hmm else f"backend is {self.backend!r}"
        self._fast = None
        if self.backend != "jieba" and not self.hmm:
            cut, why = self._rjieba_cut()
        if cut is None:
            if self.backend == "rjieba":
                raise ConfigError(f"The rjieba backend cannot be used: {why}. Use backend='auto' to fall back to jieba.")
            if self.backend == "auto":
                logger.info("Segmenting with jieba: %s", why)
            self._jieba = jieba_tokenizer
            cut = self._jieba_cut
            self.backend_ = "jieba"
        else:
            self._jieba = jieba_tokenizer  # kept if already built; else built only when a tie-prone text comes
            self.backend_ = "rjieba"
        self._stop = stop
        self._skip = stop | {" "}
        self._cut = cut
        logger.debug("Built segmenter: %d user words, %d stop words, HMM=%s, backend %s",
                     len(self._resolved[1]), len(stop), self.hmm, self.backend_)

    def warm_up(self, fallback: bool = False) -> "Segmenter":
        """Load the dictionaries now rather than on the first cut.

        With ``fallback=True`` jieba itself is loaded too when the fast backend
        is in use (about 0.6 s and 80 MB): it segments the few texts the fast
        backend hands back (about 1 in 700 real complaints), and a long-running
        process would otherwise pay for it on the first such text.
        """
        if self._cut is None:
            with self._lock:
                if self._cut is None:
                    self._build()
        if fallback:
            self._load_jieba()
        return self

    def _load_jieba(self) -> None:
        if self._jieba is None:
            with self._lock:
                if self._jieba is None:
                    self._jieba = self._jieba_tokenizer(self._resolved[1])

    # -- cutting -------------------------------------------------------------
    def cut(self, text: str) -> list[str]:
        """Segment one (normalised) text into words, without whitespace or stop words."""
        if not isinstance(text, str):
            raise InputError(f"Segmenter.cut expects a str, got {type(text).__name__}.")
        if self._cut is None:
            self.warm_up()
        if _ODD_SPACE.search(text):
            stop = self._stop
            return [w for w in self._cut(text) if not w.isspace() and w not in stop]
        skip = self._skip  # without other whitespace than single spaces, " " is the only whitespace token
        return [w for w in self._cut(text) if w not in skip]

    __call__ = cut

    @property
    def skipped(self) -> frozenset[str]:
        """The tokens :meth:`cut` drops from a normalised text: the stop words and the single space."""
        if self._cut is None:
            self.warm_up()
        return self._skip

    @staticmethod
    def _apart(texts: list[str], tie_prone: _TieCheck) -> set[int]:
        """The texts that are not cut together: those with other whitespace than single spaces, and those rjieba
        hands to jieba. The texts are searched joined, with a NUL between them (neither whitespace nor in any
        word), and only the texts in which a tie may begin are checked one by one."""
        joined = "\x00".join(texts)
        starts = list(itertools.accumulate((len(t) + 1 for t in texts[:-1]), initial=0))
        apart = {bisect.bisect_right(starts, m.start()) - 1 for m in _ODD_SPACE.finditer(joined)}
        suspects = {bisect.bisect_right(starts, at) - 1 for at in tie_prone.suspects(joined)}
        return apart | {i for i in suspects - apart if tie_prone(texts[i])}

    def cut_joined(self, texts: list[str]) -> list[str]:
        """The tokens of all ``texts`` in one list, with a ``"\\n"`` token between two texts, and the
        :attr:`skipped` tokens left in: dropping those and splitting at the ``"\\n"`` tokens gives
        ``[self.cut(t) for t in texts]``. A caller that maps tokens to numbers drops and splits with array
        operations, instead of a Python loop over every token; rjieba then cuts a whole batch in one call.

        >>> segmenter = Segmenter()
        >>> tokens = segmenter.cut_joined(["信用卡年费", "", "退还 年费"])
        >>> texts = " ".join(t for t in tokens if t not in segmenter.skipped).split("\\n")
        >>> [text.split() for text in texts] == [segmenter.cut(t) for t in ["信用卡年费", "", "退还 年费"]]
        True
        """
        if self._cut is None:
            self.warm_up()
        if self._fast is None:  # jieba: text by text
            pieces = [self.cut(text) for text in texts]
        else:
            for text in texts:
                if not isinstance(text, str):
                    raise InputError(f"Segmenter.cut expects a str, got {type(text).__name__}.")
            fast_cut, tie_prone = self._fast
            apart = self._apart(texts, tie_prone)
            pieces, run = [], []  # texts without other whitespace than single spaces are cut together
            for i, text in enumerate(texts):
                if i in apart:
                    if run:
                        pieces.append(fast_cut("\n".join(run), False))
                        run = []
                    pieces.append(self.cut(text))
                else:
                    run.append(text)
            if run:
                pieces.append(fast_cut("\n".join(run), False))
        if not pieces:
            return []
        tokens = pieces[0]
        for piece in pieces[1:]:
            tokens.append("\n")
            tokens += piece
        return tokens

    def describe(self) -> dict:
        """Settings and the backend in use, for a model's manifest."""
        self.warm_up()
        return {"hmm": self.hmm, "backend": self.backend, "backend_used": self.backend_,
                "probe_texts": len(self._probe[0]), "probe_digest": self._probe[1]}

    # -- pickling ------------------------------------------------------------
    def __getstate__(self):
        state = self.__dict__.copy()
        state["_cut"] = None
        state["_fast"] = None
        state["_jieba"] = None
        state["_stop"] = frozenset()
        state.pop("_skip", None)
        state["backend_"] = None
        del state["_lock"]
        return state

    def __setstate__(self, state):
        state.setdefault("backend", "auto")  # models saved before backends existed
        state.setdefault("_resolved", None)
        state.setdefault("_probe", None)
        state.setdefault("backend_", None)
        state.pop("_tokenizer", None)
        self.__dict__.update(state)
        self._cut = None
        self._fast = None
        self._jieba = None
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return (f"Segmenter(user_dict={self.user_dict!r}, stop_words={self.stop_words!r}, hmm={self.hmm}, "
                f"backend={self.backend!r})")
