"""``lm``: character-level language modeling on real text.

The default corpus is English prose that ships with every Python installation: the
help-topic texts of the standard library's ``pydoc_data`` package (what ``help('if')``
prints), joined in sorted topic order with a blank line between topics (about 465,000
characters, 103 distinct, on Python 3.11). It runs offline with nothing to download;
note that it changes a little between Python versions. ``--task-opt lm.corpus=PATH``
takes any UTF-8 text file instead: a regular file (never a device or a pipe, which can
be endless) of at most 128 MB unless ``--max-corpus-mb`` raises the cap.

Split, fixed for every seed: the text is cut into 100 equal stripes; stripe ``i`` is
validation text when ``i % 20 == 9``, test text when ``i % 20 == 19``, training text
otherwise (90 / 5 / 5, the held-out text spread over the corpus). A window never
crosses from one split into another.

Vocabulary: id 0 is ``<unk>``, ids 1.. the distinct characters of the training text
in code-point order. A character that never occurs in the training text (it can only
occur in validation or test text) is read as ``<unk>`` and, as a target, must be
predicted as ``<unk>``: one class for every unseen character, deterministic and the
same for every model.

Training, as in char-rnn (Karpathy 2015): windows of ``T`` characters at random
offsets, the target at each position the next character. ``--seq-len`` is ``T``, the
context length. Metric: bits per character, the mean cross-entropy over every position
of held-out windows in nats divided by ln 2 (lower is better). Baselines: the unigram
model of the training text (add-one smoothed) scored the same way on the test text,
the uniform ``log2 V``, and the training text's unigram entropy.
"""

from __future__ import annotations

import functools
import math
import os
import stat
from dataclasses import dataclass

import numpy as np
from rnnbench.tasks._splits import split_rng

import rnnbench
from rnnbench.specs import TaskDefaults
from rnnbench.task_api import MAX_CORPUS_ENV, TaskShape, masked_accuracy, masked_cross_entropy

STRIPES = 100
SPLIT_OF_STRIPE = {9: "valid", 19: "test"}  # i % 20 -> split; every other stripe trains
UNK = 0
#: a corpus must hold this many training characters besides fitting the windows
MIN_TRAIN_CHARS = 1000


def pydoc_topics_text() -> str:
    """The default corpus: the stdlib's help-topic texts, in sorted topic order."""
    from pydoc_data.topics import topics

    return "\n\n".join(topics[name] for name in sorted(topics))


#: the corpus size cap in MB (10^6 bytes) when neither ``--max-corpus-mb`` nor the variable
#: below says otherwise: text8 and enwik8 (100 MB) fit; the text is held as str and as int64
#: ids, so 128 MB of ASCII text takes about 1.2 GB of memory
DEFAULT_MAX_CORPUS_MB = 128


def max_corpus_bytes() -> int:
    """The cap on a corpus file's size, from ``RNNBENCH_MAX_CORPUS_MB`` or the default."""
    text = os.environ.get(MAX_CORPUS_ENV, "").strip()
    try:
        megabytes = float(text) if text else DEFAULT_MAX_CORPUS_MB
    except ValueError:
        raise ValueError(f"{MAX_CORPUS_ENV}={text!r} is not a number of megabytes") from None
    if not megabytes > 0:
        raise ValueError(f"{MAX_CORPUS_ENV} must be positive, got {text}")
    return int(megabytes * 1e6)


@functools.lru_cache(maxsize=4)
def _read_corpus(path: str, mtime_ns: int, size: int, cap: int) -> str:
    del mtime_ns, size  # part of the cache key only: a changed file is read again
    try:
        with open(path, "rb") as f:
            # checked on the open file: a path swapped for a device between stat and open is caught too
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise ValueError(f"corpus '{path}' is not a regular file (a device, pipe or socket"
                                 " can be endless); give a text file")
            data = f.read(cap + 1)  # never more than the cap: a file that grows is still bounded
    except FileNotFoundError:
        raise ValueError(f"corpus file '{path}' does not exist") from None
    except IsADirectoryError:
        raise ValueError(f"corpus '{path}' is a directory, not a text file") from None
    except OSError as exc:
        raise ValueError(f"cannot read corpus file '{path}': {exc.strerror or exc}") from None
    if len(data) > cap:
        raise ValueError(_too_large(path, cap))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"corpus file '{path}' is not UTF-8 text (invalid byte at offset {exc.start})") from None


def _too_large(path: str, cap: int) -> str:
    return (f"corpus file '{path}' is larger than the cap of {cap / 1e6:g} MB; raise it with"
            f" --max-corpus-mb N (or {MAX_CORPUS_ENV}=N) if the machine has the memory"
            " (about 12 bytes per character)")


def load_corpus(corpus: str) -> str:
    """The text of ``corpus``: a path, or ``""`` for the pydoc_data help topics."""
    if not corpus:
        return pydoc_topics_text()
    path = os.path.abspath(os.path.expanduser(corpus))
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ValueError(f"corpus file '{corpus}' does not exist") from None
    except OSError as exc:
        raise ValueError(f"cannot read corpus file '{corpus}': {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise ValueError(f"corpus '{corpus}' is a directory, not a text file")
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"corpus '{corpus}' is not a regular file (a device, pipe or socket can be endless);"
                         " give a text file")
    cap = max_corpus_bytes()
    if info.st_size > cap:  # refused before reading a byte
        raise ValueError(_too_large(corpus, cap))
    return _read_corpus(path, info.st_mtime_ns, info.st_size, cap)


def stripe_bounds(length: int) -> list[tuple[int, int, str]]:
    """``(start, end, split)`` of each of the ``STRIPES`` stripes of a text of ``length``."""
    edges = [length * i // STRIPES for i in range(STRIPES + 1)]
    return [(edges[i], edges[i + 1], SPLIT_OF_STRIPE.get(i % 20, "train")) for i in range(STRIPES)]


def split_segments(length: int) -> dict[str, list[tuple[int, int]]]:
    """Contiguous ``(start, end)`` runs of each split (neighbouring stripes of one split merged)."""
    segments: dict[str, list[tuple[int, int]]] = {"train": [], "valid": [], "test": []}
    for start, end, split in stripe_bounds(length):
        runs = segments[split]
        if runs and runs[-1][1] == start:
            runs[-1] = (runs[-1][0], end)
        else:
            runs.append((start, end))
    return segments


def minimum_corpus_chars(seq_len: int) -> int:
    """The shortest text whose every held-out stripe fits one window of ``seq_len + 1``."""
    return max(STRIPES * (seq_len + 2), MIN_TRAIN_CHARS * 10 // 9 + STRIPES)


@dataclass(frozen=True)
class Vocabulary:
    """``<unk>`` (id 0), then the training text's characters in code-point order."""

    chars: str

    @classmethod
    def from_text(cls, text: str) -> "Vocabulary":
        return cls("".join(sorted(set(text))))

    @property
    def size(self) -> int:
        return len(self.chars) + 1

    def encode(self, text: str) -> np.ndarray:
        codes = np.frombuffer(text.encode("utf-32-le"), dtype="<u4").astype(np.int64)
        known = np.frombuffer(self.chars.encode("utf-32-le"), dtype="<u4").astype(np.int64)
        where = np.searchsorted(known, codes)
        where_clipped = np.minimum(where, len(known) - 1)
        found = known[where_clipped] == codes
        return np.where(found, where_clipped + 1, UNK).astype(np.int64)


class LanguageModelTask(rnnbench.Task):
    primary_metric = "bits_per_char"
    higher_is_better = False

    def __init__(self, text: str, context: int, seed: int, source: str = "pydoc_data help topics"):
        check_text(text, context, source)
        self.context, self.seed, self.source = context, seed, source
        self.segments = split_segments(len(text))
        train_text = "".join(text[a:b] for a, b in self.segments["train"])
        self.vocab = Vocabulary.from_text(train_text)
        self.ids = self.vocab.encode(text)
        self.shape = TaskShape(input_kind="tokens", input_size=self.vocab.size,
                               output_kind="classes", output_size=self.vocab.size, seq_len=context)
        # unigram model of the training text, add-one smoothed so <unk> has a probability
        counts = np.bincount(np.concatenate([self.ids[a:b] for a, b in self.segments["train"]]),
                             minlength=self.vocab.size).astype(np.float64)
        self.unigram = (counts + 1.0) / (counts.sum() + self.vocab.size)
        self.train_unigram = counts / counts.sum()
        # window starts of each split: a window of T + 1 characters inside one run
        self.starts = {split: self._window_starts(runs) for split, runs in self.segments.items()}

    def _window_starts(self, runs: list[tuple[int, int]]) -> np.ndarray:
        span = self.context + 1
        return np.concatenate([np.arange(a, b - span + 1) for a, b in runs if b - a >= span])

    def text_of(self, split: str) -> np.ndarray:
        """The ids of all of ``split``'s text, its runs concatenated."""
        return np.concatenate([self.ids[a:b] for a, b in self.segments[split]])

    def batch(self, split: str, index: int, batch_size: int) -> rnnbench.Batch:
        # Held-out windows do not depend on the seed: every seed is scored on the same text.
        rng = split_rng(self.seed if split == "train" else 0, split, index)
        starts = self.starts[split][rng.integers(0, len(self.starts[split]), size=batch_size)]
        windows = self.ids[starts[:, None] + np.arange(self.context + 1)]
        mask = np.ones((batch_size, self.context), dtype=np.float32)
        return rnnbench.Batch(windows[:, :-1].copy(), windows[:, 1:].copy(), mask)

    def metrics(self, outputs: np.ndarray, batch: rnnbench.Batch) -> dict[str, float]:
        nats = masked_cross_entropy(outputs, batch)
        return {
            "bits_per_char": nats / math.log(2),  # bpc = H_nats / ln 2
            "cross_entropy": nats,
            "accuracy": masked_accuracy(outputs, batch),
        }

    def baselines(self) -> dict[str, rnnbench.Baseline]:
        test = self.text_of("test")
        unigram_nats = float(-np.log(self.unigram[test]).mean())
        p = self.train_unigram[self.train_unigram > 0]
        return {key: rnnbench.Baseline(value) for key, value in {
            "bits_per_char": unigram_nats / math.log(2),
            "cross_entropy": unigram_nats,
            "accuracy": float(np.mean(test == int(np.argmax(self.train_unigram)))),
            "bits_per_char_uniform": math.log2(self.vocab.size),
            "unigram_entropy_bits": float(-(p * np.log2(p)).sum()),
        }.items()}


def check_text(text: str, seq_len: int, source: str) -> None:
    needed = minimum_corpus_chars(seq_len)
    if len(text) < needed:
        raise ValueError(
            f"corpus {source} has {len(text)} characters, too short for --seq-len {seq_len}: the split"
            f" needs at least {needed} ({STRIPES} stripes that each hold a window of seq_len + 1)")


def check_options(options: dict, seq_len: int) -> None:
    if seq_len < 1:
        raise ValueError(f"--seq-len must be at least 1, got {seq_len}")
    corpus = options["corpus"]
    check_text(load_corpus(corpus), seq_len, f"'{corpus}'" if corpus else "pydoc_data")


def factory(options: dict, seq_len: int, seed: int) -> LanguageModelTask:
    corpus = options["corpus"]
    return LanguageModelTask(load_corpus(corpus), seq_len, seed,
                             source=f"'{corpus}'" if corpus else "pydoc_data help topics")


@rnnbench.hookimpl
def rnnbench_register_tasks(register):
    register(rnnbench.TaskSpec(
        name="lm", factory=factory, check_options=check_options,
        options={"corpus": ""},
        # rates for a run without --lr-grid, not tuned per model: at short budgets both families do better
        # at several times these (5-8x at 300 steps, issue 21); --lr-grid chooses per case on validation data
        defaults=TaskDefaults(seq_len=128, batch_size=32, steps=800, lr=2e-3,
                              lr_by_family={"recurrent": 3e-3}),
        seq_len_meaning="context length T: windows of T characters, each predicting the next",
        description="character-level language modeling; bits per char (default corpus: pydoc_data help topics)",
    ))
