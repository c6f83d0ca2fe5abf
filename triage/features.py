"""Vectoriser construction: word n-grams over segments plus character n-grams.

Character n-grams over the normalised text keep the model robust to
segmentation errors, typos and slang; word n-grams add phrase-level evidence.

>>> from triage.segment import Segmenter
>>> vec = build_vectorizer(FeatureConfig(char_min_df=1), Segmenter(user_dict=None, stop_words=None))
>>> X = vec.fit_transform(["信用卡年费", "提前还款违约金", "信用卡盗刷"])
>>> X.shape[0], X.shape[1] > 10
(3, True)
"""

from __future__ import annotations

import itertools
import re

from typing import TYPE_CHECKING

import numpy as np
from .config import FeatureConfig
from .normalize import code_points
from .segment import Segmenter

if TYPE_CHECKING:
    from sklearn.pipeline import FeatureUnion

__all__ = ["build_vectorizer", "feature_names", "CompiledVectorizer"]


def build_vectorizer(config: FeatureConfig, segmenter: Segmenter) -> FeatureUnion:
    """An unfitted vectoriser: TF-IDF word n-grams (``word__``) and character n-grams (``char__``)."""
    from sklearn.feature_extraction.text import TfidfVectorizer  # fitting only: the compiled form needs neither
    from sklearn.pipeline import FeatureUnion

    words = TfidfVectorizer(
        tokenizer=segmenter.cut,
        token_pattern=None,
        lowercase=False,
        ngram_range=config.word_ngram,
        min_df=config.word_min_df,
        max_features=config.max_word_features,
        sublinear_tf=config.sublinear_tf,
        dtype=np.float32,
    )
    chars = TfidfVectorizer(
        analyzer="char",
        lowercase=False,
        ngram_range=config.char_ngram,
        min_df=config.char_min_df,
        max_features=config.max_char_features,
        sublinear_tf=config.sublinear_tf,
        dtype=np.float32,
    )
    return FeatureUnion([("word", words), ("char", chars)], transformer_weights={"word": config.word_weight})


def feature_names(vectorizer) -> list[str]:
    """Readable names: ``词:提前 还款`` for word n-grams, ``字:违约`` for character n-grams.

    Works on a fitted :func:`build_vectorizer` and on its :class:`CompiledVectorizer`.
    """
    if isinstance(vectorizer, CompiledVectorizer):
        parts = [(part["name"], part["terms"]) for part in vectorizer.parts]
    else:
        parts = [(name, part.get_feature_names_out()) for name, part in vectorizer.transformer_list]
    names = []
    for name, terms in parts:
        prefix = "词" if name == "word" else "字"
        names.extend(f"{prefix}:{term}" for term in terms)
    return names


_WHITE_SPACES = re.compile(r"\s\s+")
_BITS = 21  # every code point fits in 21 bits, so three of them pack into one uint64
_EMPTY = np.uint64(2**64 - 1)  # a free slot of a _HashTable (no n-gram key reaches it)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: multiply, keep the top bits
_WORD_PAIR = np.uint64(1 << 63)  # marks word-pair keys (character keys, three 21-bit fields, stay below it)


def _pack(codes: np.ndarray, n: int) -> np.ndarray:
    """uint64 keys of all n-grams of a code-point array (n <= 3)."""
    keys = codes[: len(codes) - n + 1].astype(np.uint64)
    for k in range(1, n):
        keys = (keys << np.uint64(_BITS)) | codes[k: len(codes) - n + 1 + k]
    return keys


def _codes(text: str) -> np.ndarray:
    return code_points(text).astype(np.uint64)


class _HashTable:
    """uint64 key → value in an open-addressing table probed with array operations: each key in its home slot or
    the slot after it, if free when the table was built; the few keys left over (spilled) are found by binary
    search among themselves.

    A quarter full or less, so that most keys are settled by one gather (found
    there, or the slot is free and the key absent) and most others by a second
    one, instead of the twenty steps of a binary search in a large array. A slot
    holds its key and its value side by side (one row of two int64), so that
    one read of memory per key brings both.

    >>> table = _HashTable(np.array([7, 42, 2**40], dtype=np.uint64), np.array([0, 1, 2]))
    >>> table.probe(np.array([42, 5, 2**40, 7], dtype=np.uint64)).tolist()
    [1, -1, 2, 0]
    """

    def __init__(self, keys: np.ndarray, values: np.ndarray):
        keys, values = np.asarray(keys, dtype=np.uint64), np.asarray(values)
        bits = max(4, (4 * len(keys) - 1).bit_length())
        self.shift, self.last = np.uint64(64 - bits), (1 << bits) - 1
        self.rows = np.full((1 << bits, 2), -1, dtype=np.int64)  # (key as int64: free is -1, value)
        slots = self.rows[:, 0].view(np.uint64)  # the keys' column, as the keys are (free: _EMPTY)
        index = np.int32 if bits < 31 else np.int64  # slot numbers in 32 bits where they fit: the model's tables
        home = keys * _GOLDEN  # are built once in every process, and their building is what a loaded model's
        home >>= self.shift  # memory peaks at (this is _home, in place)
        home = home.astype(index)
        left = np.arange(len(keys), dtype=index)  # the keys not placed yet
        for step in (0, 1):  # the first key wanting a free slot gets it; the others try the next slot, once
            wanted = (home[left] + step) & self.last
            free = slots[wanted] == _EMPTY
            taken, first = np.unique(wanted[free], return_index=True)
            placed = left[free][first]
            slots[taken], self.rows[taken, 1] = keys[placed], values[placed]
            left = np.setdiff1d(left, placed, assume_unique=True)
        order = np.argsort(keys[left])
        self.spilled_keys, self.spilled_values = keys[left][order], values[left][order].astype(np.int64)

    def _home(self, keys: np.ndarray) -> np.ndarray:
        return ((keys * _GOLDEN) >> self.shift).astype(np.int64)

    def probe(self, keys: np.ndarray) -> np.ndarray:
        """Each key's value, or -1 for a key not in the table.

        A key is absent when its home slot is free, or holds another key while
        the next slot is free: had it been in the table, it would be there. A
        key that finds both slots taken by others is looked for among the
        spilled keys.
        """
        wanted = np.ascontiguousarray(keys, dtype=np.uint64).view(np.int64)
        slot = self._home(keys)
        seen = np.take(self.rows, slot, axis=0)  # (np.take: row gathers far faster than fancy indexing)
        hit = seen[:, 0] == wanted
        out = np.where(hit, seen[:, 1], -1)
        unsure = np.flatnonzero(~hit & (seen[:, 0] != -1))
        if len(unsure):
            slot = (slot[unsure] + 1) & self.last
            seen = np.take(self.rows, slot, axis=0)
            hit = seen[:, 0] == wanted[unsure]
            out[unsure[hit]] = seen[hit, 1]
            unsure = unsure[~hit & (seen[:, 0] != -1)]
        if len(unsure) and len(self.spilled_keys):
            asked = keys[unsure]
            at = np.searchsorted(self.spilled_keys, asked)
            at[at == len(self.spilled_keys)] = 0
            out[unsure] = np.where(self.spilled_keys[at] == asked, self.spilled_values[at], -1)
        return out


class _SortedLookup:
    """Vocabulary lookup over integer keys: ``find(keys)`` gives the feature index or -1, vectorised.

    Kept as sorted arrays (what a saved model holds); a hash table that
    settles most keys with one or two gathers is built from them on first use.
    """

    def __init__(self, keys, features):
        keys, features = np.asarray(keys, dtype=np.uint64), np.asarray(features, dtype=np.int64)
        order = np.argsort(keys, kind="stable")
        self.keys, self.features = keys[order], features[order]

    def find(self, keys: np.ndarray) -> np.ndarray:
        """Each key's feature index, or -1 (through the hash table)."""
        if len(self.keys) == 0 or len(keys) == 0:
            return np.full(len(keys), -1, dtype=np.int64)
        return self._table().probe(keys)

    def _table(self) -> _HashTable:
        table = self.__dict__.get("_table_")
        if table is None:
            table = self._table_ = _HashTable(self.keys, self.features)
        return table

    def __getstate__(self):
        return {"keys": self.keys, "features": self.features}


class _Part:
    """One part of a :class:`CompiledVectorizer`: ``features_and_keys(texts)`` gives the features of its single
    n-grams (read from an array) and the keys of its longer ones (for the joint hash table)."""

    _DERIVED: tuple[str, ...] = ()  # attributes built on first use, not saved

    def __getstate__(self):
        state = self.__dict__.copy()
        for name in self._DERIVED:
            state.pop(name, None)
        return state


class _CharPart(_Part):
    """Character n-grams of a fitted char ``TfidfVectorizer`` (stored per n-gram length).

    Every n-gram is keyed on its code points plus one, packed into an
    integer, so that keys of different lengths cannot collide.
    """

    _DERIVED = ("_unigrams_",)

    def __init__(self, vocabulary: dict[str, int], ngram_range: tuple[int, int]):
        if ngram_range[1] > 3:
            raise ValueError(f"CompiledVectorizer supports character n-grams up to 3, got {ngram_range}")
        self.ngram_range = ngram_range
        by_length: dict[int, tuple[list[str], list[int]]] = {}
        for term, index in vocabulary.items():
            terms, features = by_length.setdefault(len(term), ([], []))
            terms.append(term)
            features.append(index)
        self.lookups = {}
        for n, (terms, features) in by_length.items():
            codes = _codes("".join(terms)).reshape(len(terms), n)  # one row of code points per term
            keys = codes[:, 0].copy()
            for k in range(1, n):
                keys = (keys << np.uint64(_BITS)) | codes[:, k]
            self.lookups[n] = _SortedLookup(keys, features)

    def vocabulary_keys(self) -> tuple[np.ndarray, np.ndarray]:
        """(key, feature) of every n-gram of the vocabulary longer than one character, keyed as :meth:`keys` keys
        a text's (single characters are read from an array, see :meth:`features_and_keys`)."""
        keys, features = [], []
        low = np.uint64((1 << _BITS) - 1)
        for n, by_length in self.lookups.items():
            if n == 1:
                continue
            parts = [(by_length.keys >> np.uint64(_BITS * (n - 1 - k))) & low for k in range(n)]
            keys.append(_pack(np.stack(parts, axis=1).ravel() + np.uint64(1), n)[::n])
            features.append(by_length.features)
        if not keys:
            return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
        return np.concatenate(keys), np.concatenate(features)

    def _unigrams(self) -> np.ndarray:
        """The feature of each single character, indexed by code point plus one (-1: not in the vocabulary; the
        last slot stands for every code point above the vocabulary's), built on first use."""
        table = self.__dict__.get("_unigrams_")
        if table is None:
            lookup = self.lookups.get(1)
            top = int(lookup.keys.max()) + 1 if lookup is not None and len(lookup.keys) else 0
            table = np.full(top + 2, -1, dtype=np.int32)
            if top:
                table[lookup.keys.astype(np.int64) + 1] = lookup.features
            self._unigrams_ = table
        return table

    def features_and_keys(self, texts: list[str]) -> tuple[np.ndarray | None, np.ndarray, np.ndarray,
                                                           np.ndarray | None]:
        """The single characters of ``texts`` in the vocabulary, (text, feature), and the key of every longer
        n-gram of the vocabulary's lengths (text, key); the texts are None for one text."""
        texts = [_WHITE_SPACES.sub(" ", t) if _WHITE_SPACES.search(t) else t for t in texts]
        codes = _codes("".join(texts)) + np.uint64(1)
        one = len(texts) == 1
        if not one:
            lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
            bounds = np.cumsum(lengths)
            text_of = np.repeat(np.arange(len(texts)), lengths)  # the text of every character
        rows = None if one else np.zeros(0, dtype=np.int64)
        features = np.zeros(0, dtype=np.int64)
        if 1 in self.lookups and self.ngram_range[0] <= 1:
            table = self._unigrams()
            found = table[np.minimum(codes, len(table) - 1)]
            where = np.flatnonzero(found >= 0)
            features = found[where].astype(np.int64)
            rows = None if one else text_of[where]
        keys, key_rows = [], []
        for n in range(max(2, self.ngram_range[0]), self.ngram_range[1] + 1):
            if n not in self.lookups or len(codes) < n:
                continue
            grams = _pack(codes, n)
            if one:
                keys.append(grams)
                continue
            inside = np.ones(len(grams), dtype=bool)  # n-grams that end in the text they begin in
            for k in range(1, n):  # an n-gram starting k characters before a text's end crosses into the next
                ends = bounds[(bounds >= k) & (bounds - k < len(grams))]
                inside[ends - k] = False
            keys.append(grams[inside])
            key_rows.append(text_of[: len(grams)][inside])
        if not keys:
            return rows, features, np.zeros(0, dtype=np.uint64), None if one else np.zeros(0, dtype=np.int64)
        return rows, features, np.concatenate(keys), None if one else np.concatenate(key_rows)


class _WordPart(_Part):
    """Word n-grams (n <= 2) of a fitted word ``TfidfVectorizer``: tokens become ids once, pairs become keys."""

    _DERIVED = ("_batch_ids_",)

    def __init__(self, vocabulary: dict[str, int], ngram_range: tuple[int, int], tokenizer):
        if ngram_range[1] > 2:
            raise ValueError(f"CompiledVectorizer supports word n-grams up to 2, got {ngram_range}")
        self.ngram_range, self.tokenizer = ngram_range, tokenizer
        self.token_ids: dict[str, int] = {}
        unigram, pairs = {}, []
        for term, index in vocabulary.items():
            parts = term.split(" ")
            ids = [self.token_ids.setdefault(p, len(self.token_ids)) for p in parts]
            if len(ids) == 1:
                unigram[ids[0]] = index
            else:
                pairs.append((ids[0], ids[1], index))
        self.unigram = np.full(len(self.token_ids) + 1, -1, dtype=np.int64)  # last slot: unknown token
        for token, index in unigram.items():
            self.unigram[token] = index
        width = np.uint64(len(self.token_ids) + 1)
        self.width = width
        self.bigrams = _SortedLookup([np.uint64(a) * width + np.uint64(b) for a, b, _ in pairs],
                                     [index for _, _, index in pairs])

    def vocabulary_keys(self) -> tuple[np.ndarray, np.ndarray]:
        """(key, feature) of every word pair of the vocabulary, keyed as :meth:`keys` keys a text's."""
        return self.bigrams.keys | _WORD_PAIR, self.bigrams.features

    def _token_ids(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray | None]:
        """Every kept token's id, text after text, and the text each belongs to (None for one text).

        An unknown word gets the id no vocabulary pair holds, so its pairs are
        never found. With a :class:`Segmenter`, a batch is cut in one piece
        (:meth:`Segmenter.cut_joined`) and the tokens it drops are told apart
        by their ids, so no Python loop runs over the tokens.
        """
        cut, unknown = self.tokenizer, len(self.token_ids)
        if len(texts) == 1:
            flat = cut(texts[0])
            return np.fromiter(map(self.token_ids.get, flat, itertools.repeat(unknown)), np.int64, len(flat)), None
        segmenter = getattr(cut, "__self__", None)
        if isinstance(segmenter, Segmenter):
            flat = segmenter.cut_joined(texts)
            ids = np.fromiter(map(self._batch_ids(segmenter).get, flat, itertools.repeat(unknown)), np.int64, len(flat))
            between = ids == unknown + 2
            kept = ids <= unknown
            return ids[kept], np.cumsum(between)[kept]
        token_lists = [cut(t) for t in texts]
        lengths = np.fromiter(map(len, token_lists), dtype=np.int64, count=len(texts))
        flat = [token for tokens in token_lists for token in tokens]
        ids = np.fromiter(map(self.token_ids.get, flat, itertools.repeat(unknown)), np.int64, len(flat))
        return ids, np.repeat(np.arange(len(texts)), lengths)

    def _batch_ids(self, segmenter: Segmenter) -> dict[str, int]:
        """The token ids, plus one id for every token the segmenter drops and another for the text separator."""
        cached = self.__dict__.get("_batch_ids_")
        if cached is None or cached[0] is not segmenter.skipped:
            unknown = len(self.token_ids)
            ids = {**self.token_ids, **dict.fromkeys(segmenter.skipped, unknown + 1), "\n": unknown + 2}
            cached = self._batch_ids_ = (segmenter.skipped, ids)
        return cached[1]

    def features_and_keys(self, texts: list[str]) -> tuple[np.ndarray | None, np.ndarray, np.ndarray,
                                                           np.ndarray | None]:
        """The single words of ``texts`` in the vocabulary, (text, feature), and the key of every word pair
        (text, key); the texts are None for one text."""
        ids, row_of = self._token_ids(texts)
        low, high = self.ngram_range
        rows = keys = pair_rows = None
        features = np.zeros(0, dtype=np.int64)
        if low <= 1 <= high:
            found = self.unigram[ids]
            where = np.flatnonzero(found >= 0)
            features = found[where]
            rows = None if row_of is None else row_of[where]
        if low <= 2 <= high and len(ids) > 1:
            keys = ids[:-1].astype(np.uint64) * self.width + ids[1:].astype(np.uint64)
            if row_of is not None:
                same = row_of[1:] == row_of[:-1]  # both words in the same text
                keys, pair_rows = keys[same], row_of[1:][same]
            keys |= _WORD_PAIR
        if keys is None:
            keys = np.zeros(0, dtype=np.uint64)
            pair_rows = None if row_of is None else np.zeros(0, dtype=np.int64)
        if rows is None and row_of is not None:
            rows = np.zeros(0, dtype=np.int64)
        return rows, features, keys, pair_rows


class CompiledVectorizer:
    """The same transform as a fitted :func:`build_vectorizer`, vectorised over a whole batch.

    It reads the fitted vocabularies and IDF weights and reproduces
    ``TfidfVectorizer`` (n-grams, sublinear TF, IDF, per-part L2 norm, parts
    side by side) with array operations: single characters are read from an
    array by code point, longer character n-grams and word pairs are packed
    into integers and looked up in one hash table, words are mapped to ids
    once, so the only per-token Python work left is one dictionary lookup per
    word.
    """

    def __init__(self, vectorizer: FeatureUnion):
        self.parts = []
        offset = 0
        weights = vectorizer.transformer_weights or {}
        for name, part in vectorizer.transformer_list:
            if part.norm not in ("l2", None) or part.use_idf is False:
                raise ValueError(f"CompiledVectorizer supports l2-normalised TF-IDF only, got {part!r}")
            if part.analyzer == "char":
                grams = _CharPart(part.vocabulary_, part.ngram_range)
            else:
                grams = _WordPart(part.vocabulary_, part.ngram_range, part.tokenizer)
            terms = [""] * len(part.vocabulary_)
            for term, index in part.vocabulary_.items():
                terms[index] = term
            self.parts.append({
                "name": name,
                "terms": terms,  # feature names, for explanations
                "grams": grams,
                "idf": part.idf_.astype(np.float64),
                "sublinear": part.sublinear_tf,
                "norm": part.norm,
                "offset": offset,
                "weight": float(weights.get(name, 1.0)),
            })
            offset += len(part.vocabulary_)
        self.n_features = offset
        kinds = [type(part["grams"]) for part in self.parts]
        if kinds.count(_CharPart) > 1 or kinds.count(_WordPart) > 1:
            raise ValueError("CompiledVectorizer supports one word part and one character part")

    def _lookup(self) -> _SortedLookup:
        """Every part's n-gram keys in one lookup, each mapped to its column (built on first use)."""
        lookup = self.__dict__.get("_lookup_")
        if lookup is None:
            keys, columns = [], []
            for part in self.parts:
                part_keys, features = part["grams"].vocabulary_keys()
                keys.append(part_keys)
                columns.append(features + part["offset"])
            lookup = self._lookup_ = _SortedLookup(np.concatenate(keys), np.concatenate(columns))
        return lookup

    def _occurrences(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(row, column) of every in-vocabulary n-gram occurrence, all parts side by side.

        Single words and single characters are read from arrays; longer
        character n-grams and word pairs are looked up together, in one pass
        over one table.
        """
        one = len(texts) == 1
        rows, cols, keys, key_rows = [], [], [], []
        for part in self.parts:  # single words and characters are read from arrays, the other n-grams keyed
            part_rows, features, part_keys, part_key_rows = part["grams"].features_and_keys(texts)
            rows.append(part_rows)
            cols.append(features + part["offset"])
            keys.append(part_keys)
            key_rows.append(part_key_rows)
        found = self._lookup().find(np.concatenate(keys))
        kept = np.flatnonzero(found >= 0)
        cols = np.concatenate([*cols, found[kept]])
        if one:
            return np.zeros(len(cols), dtype=np.int64), cols
        return np.concatenate([*rows, np.concatenate(key_rows)[kept]]), cols

    @staticmethod
    def _tf_idf(part: dict, counts: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """One part's TF-IDF values of n-gram counts (sublinear TF, IDF), before the norm."""
        tf = np.log(counts) + 1.0 if part["sublinear"] else counts
        return tf * part["idf"][cols - part["offset"]]

    def _weigh(self, rows: np.ndarray, cols: np.ndarray, counts: np.ndarray, n_texts: int,
               parts: list[slice] | None = None) -> np.ndarray:
        """TF-IDF values from n-gram counts: sublinear TF, IDF, L2 norm per row and part, part weight.

        ``parts`` gives each part's entries as a slice, where they lie together (entries sorted by column).
        """
        values = counts.astype(np.float64)
        for p, part in enumerate(self.parts):
            if parts is not None:
                mine = parts[p]
            else:
                end = self.parts[p + 1]["offset"] if p + 1 < len(self.parts) else self.n_features
                mine = (cols >= part["offset"]) & (cols < end)
            tf = self._tf_idf(part, values[mine], cols[mine])
            if part["norm"] == "l2":
                norms = np.sqrt(np.bincount(rows[mine], weights=tf * tf, minlength=n_texts))
                tf /= norms[rows[mine]]
            values[mine] = tf * part["weight"]
        return values

    def _weigh_one(self, cols: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """:meth:`_weigh` for one text whose columns are sorted: each part is a slice, no masks."""
        values = counts.astype(np.float64)
        cuts = np.searchsorted(cols, [part["offset"] for part in self.parts] + [self.n_features])
        for part, start, end in zip(self.parts, cuts[:-1], cuts[1:]):
            tf = self._tf_idf(part, values[start:end], cols[start:end])
            if part["norm"] == "l2" and end > start:
                tf /= np.sqrt(np.dot(tf, tf))
            values[start:end] = tf * part["weight"]
        return values

    def _matrix(self, texts: list[str], dtype):
        """The TF-IDF matrix of ``texts`` in CSC form (column by column), counted without a sort.

        Every column's occurrences arrive in ascending row order (each column
        belongs to one block of :meth:`_occurrences`: single words, word pairs
        or the character n-grams of one length, and every block runs text after
        text), so scipy's counting sort by column leaves each column's rows
        sorted and repeated (row, column) entries side by side: scipy sums them
        (counting the n-grams) after a linear check, where a matrix built row by
        row needed its indices sorted first. A product with this matrix adds, for
        every row, the same terms in the same (column) order as the CSR form.
        """
        from scipy.sparse import csr_matrix

        rows, cols = self._occurrences(texts)
        by_column = csr_matrix((np.ones(len(rows)), (cols, rows)), shape=(self.n_features, len(texts)))
        by_column.sum_duplicates()  # done while building by recent scipy; not by 1.13.0
        indptr = by_column.indptr
        nnz_cols = np.repeat(np.arange(self.n_features), np.diff(indptr))
        ends = [part["offset"] for part in self.parts[1:]] + [self.n_features]
        parts = [slice(indptr[part["offset"]], indptr[end]) for part, end in zip(self.parts, ends)]  # columns
        by_column.data = self._weigh(by_column.indices, nnz_cols, by_column.data, len(texts), parts).astype(dtype)
        return by_column.T

    def _float64(self, weights: np.ndarray) -> np.ndarray:
        """``weights`` in float64 for the sparse product, converted once per weight matrix (not per batch)."""
        if weights.dtype == np.float64:
            return weights
        cached = self.__dict__.get("_float64_")
        if cached is None or cached[0] is not weights:
            cached = self._float64_ = (weights, weights.astype(np.float64))
        return cached[1]

    def warm_up(self) -> None:
        """Build the lookup tables now rather than on the first texts, e.g. before forking worker processes,
        which then share them instead of each building its own copy. (The float64 weights of large batches stay
        lazy: a process that only ever scores small batches never needs them.)"""
        self._lookup()._table()
        for part in self.parts:
            grams = part["grams"]
            segmenter = getattr(getattr(grams, "tokenizer", None), "__self__", None)
            if isinstance(segmenter, Segmenter):
                grams._batch_ids(segmenter)

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_float64_", None)
        state.pop("_lookup_", None)
        return state

    def transform(self, texts: list[str]):
        """A CSR matrix (float32) equal to the fitted vectoriser's ``transform(texts)``."""
        return self._matrix(texts, np.float32).tocsr()

    def scores(self, texts: list[str], weights: np.ndarray, small: int = 32) -> np.ndarray:
        """``transform(texts) @ weights``, computed in float64.

        A batch of at most ``small`` texts (one complaint at an intake desk, a
        cold ``triage predict``) is scored with numpy alone, without importing
        scipy (about 0.5 s); larger batches use scipy's sparse product, faster
        per text. Both sum the same float64 products, so a text scores the same
        (to rounding far below what is reported) in any batch.
        """
        if len(texts) > small:
            return np.asarray(self._matrix(texts, np.float64) @ self._float64(weights))
        rows, cols = self._occurrences(texts)
        out = np.zeros((len(texts), weights.shape[1]), dtype=np.float64)
        if len(rows) == 0:
            return out
        if len(texts) == 1:  # one complaint at an intake desk: no rows to tell apart
            cols, counts = np.unique(cols, return_counts=True)
            values = self._weigh_one(cols, counts)
            out[0] = values @ np.asarray(weights[cols], dtype=np.float64)
            return out
        keys, counts = np.unique(rows * self.n_features + cols, return_counts=True)  # sorted by row, then column
        rows, cols = np.divmod(keys, self.n_features)
        contributions = np.asarray(weights[cols], dtype=np.float64) * self._weigh(rows, cols, counts, len(texts))[:, None]
        starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
        out[rows[starts]] = np.add.reduceat(contributions, starts, axis=0)
        return out
