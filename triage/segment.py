"""Word segmentation with a private jieba tokenizer.

The :class:`Segmenter` never touches jieba's module-level default tokenizer:
it builds its own ``jieba.Tokenizer`` lazily, loads the project's user
dictionary into it in a fixed order, keeps jieba's cache file in triage's cache
folder, and drops the tokenizer when pickled (it holds a lock) so that it is
rebuilt after loading.

>>> seg = Segmenter(user_dict=None, stop_words=None)
>>> seg.cut("我要提前还款")
['我', '要', '提前', '还款']
"""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path

from .exceptions import DictionaryError, InputError
from .resources import cache_dir, corpora_dir

__all__ = ["Segmenter", "read_user_dict", "read_stop_words", "quiet_jieba"]

logger = logging.getLogger(__name__)

DEFAULT_USER_DICT = "userdict.txt"
DEFAULT_STOP_WORDS = "stopwords.txt"
_ENTRY = re.compile(r"^(\S+)(?:\s+(\d+))?(?:\s+([A-Za-z]+))?$")


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


def quiet_jieba(level: int = logging.WARNING) -> None:
    """Silence jieba's "Building prefix dict..." messages (jieba sets its logger to DEBUG when imported).

    For applications (the CLI, tests) to call; the library itself leaves logging alone.
    """
    import jieba

    jieba.setLogLevel(level)


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
    """Picklable word segmenter over a private ``jieba.Tokenizer``.

    Parameters
    ----------
    user_dict : path, ``"default"`` or None
        A jieba user dictionary (``word [freq] [tag]`` per line). ``"default"``
        is the financial dictionary shipped in ``corpora/``. Relative paths
        resolve against ``base_dir``.
    stop_words : path, ``"default"`` or None
        Words dropped from the output.
    hmm : bool
        Let jieba guess unknown words with its HMM. Off by default: jieba's
        maintainers report a better segmentation F-score without it, and it is
        what the accelerated backends reproduce exactly.
    base_dir : path or None
        Folder against which relative dictionary paths resolve (a model
        directory's ``resources/`` when loaded from disk).
    """

    def __init__(self, *, user_dict="default", stop_words="default", hmm: bool = False, base_dir=None):
        self.user_dict = user_dict
        self.stop_words = stop_words
        self.hmm = hmm
        self.base_dir = base_dir
        self._tokenizer = None
        self._stop = frozenset()
        self._lock = threading.Lock()

    # -- files -------------------------------------------------------------
    def user_dict_path(self) -> Path | None:
        """Absolute path of the user dictionary, or None."""
        return _resolve(self.user_dict, DEFAULT_USER_DICT, self.base_dir and Path(self.base_dir))

    def stop_words_path(self) -> Path | None:
        """Absolute path of the stop-word file, or None."""
        return _resolve(self.stop_words, DEFAULT_STOP_WORDS, self.base_dir and Path(self.base_dir))

    # -- building ------------------------------------------------------------
    def _build(self):
        import jieba  # imported lazily: jieba's import is slow and configures its logger

        user_dict = self.user_dict_path()
        stop_path = self.stop_words_path()
        entries = read_user_dict(user_dict) if user_dict else []
        stop = read_stop_words(stop_path) if stop_path else frozenset()
        tokenizer = jieba.Tokenizer()
        folder = cache_dir()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            tokenizer.tmp_dir = str(folder)
        except OSError:
            logger.warning("Cannot create cache folder %s; jieba will use the system temp folder.", folder)
        tokenizer.initialize()
        for word, freq, tag in entries:
            if freq == 0:
                freq = None  # freq 0 would leak into jieba's global Force_Split_Words
            tokenizer.add_word(word, freq, tag)
        self._stop = stop
        self._tokenizer = tokenizer
        logger.debug("Built segmenter: %d user words, %d stop words, HMM=%s", len(entries), len(stop), self.hmm)

    def warm_up(self) -> "Segmenter":
        """Load jieba's dictionary and the user dictionary now rather than on the first cut."""
        if self._tokenizer is None:
            with self._lock:
                if self._tokenizer is None:
                    self._build()
        return self

    # -- cutting -------------------------------------------------------------
    def cut(self, text: str) -> list[str]:
        """Segment one (normalised) text into words, without whitespace or stop words."""
        if not isinstance(text, str):
            raise InputError(f"Segmenter.cut expects a str, got {type(text).__name__}.")
        if self._tokenizer is None:
            self.warm_up()
        stop = self._stop
        return [w for w in self._tokenizer.cut(text, HMM=self.hmm) if not w.isspace() and w not in stop]

    __call__ = cut

    # -- pickling ------------------------------------------------------------
    def __getstate__(self):
        state = self.__dict__.copy()
        state["_tokenizer"] = None
        state["_stop"] = frozenset()
        del state["_lock"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Segmenter(user_dict={self.user_dict!r}, stop_words={self.stop_words!r}, hmm={self.hmm})"
