"""Character-level language modeling: corpus, split, vocabulary, windows, bits per character, baselines."""

import math

import numpy as np
import pytest

from rnnbench.errors import UsageError
from rnnbench.request.options import RunRequest
from rnnbench.request.sweep import expand
from rnnbench.task_api import baseline_values
from rnnbench.tasks.lm import (LanguageModelTask, Vocabulary, factory, minimum_corpus_chars,
                               pydoc_topics_text, split_segments)


def lm_task(text, context=8, seed=0):
    return LanguageModelTask(text, context, seed, source="test text")


def expand_lm(registry, corpus, seq_len=16):
    return expand(RunRequest(models=["lstm"], tasks=["lm"], seq_len=[seq_len],
                            task_opt={"lm": {"corpus": str(corpus)}}), registry, cuda_probe=lambda: False)


@pytest.fixture(scope="module")
def default_task():
    return factory({"corpus": ""}, 128, 0)


def test_default_corpus_is_the_pydoc_help_topics(default_task):
    from pydoc_data.topics import topics

    text = pydoc_topics_text()
    assert topics["if"] in text and len(text) > 100_000
    assert default_task.shape.input_size == default_task.shape.output_size == default_task.vocab.size
    assert default_task.vocab.size == len(set(default_task.vocab.chars)) + 1


def test_windows_predict_the_next_character(default_task):
    b = default_task.batch("train", 3, 16)
    assert b.inputs.shape == b.targets.shape == b.mask.shape == (16, 128)
    assert b.inputs.dtype == np.int64 and b.targets.dtype == np.int64 and b.mask.dtype == np.float32
    assert (b.mask == 1).all()  # every position counts
    np.testing.assert_array_equal(b.inputs[:, 1:], b.targets[:, :-1])
    # and the windows are real text: decoding gives a substring of the corpus
    text = pydoc_topics_text()
    decoded = "".join(default_task.vocab.chars[i - 1] for i in np.append(b.inputs[0], b.targets[0, -1]))
    assert decoded in text


def test_split_is_90_5_5_in_stripes_and_windows_stay_inside_their_split():
    segments = split_segments(10_000)
    sizes = {s: sum(b - a for a, b in runs) for s, runs in segments.items()}
    assert sizes == {"train": 9000, "valid": 500, "test": 500}
    assert segments["test"][0] == (1900, 2000) and segments["valid"][0] == (900, 1000)
    text = "".join(chr(ord("a") + (i * 7) % 26) for i in range(20_000))
    task = lm_task(text, context=16)
    owner = np.empty(len(text), dtype=object)
    for split, runs in task.segments.items():
        for a, b in runs:
            owner[a:b] = split
    for split in ("train", "valid", "test"):
        starts = task.starts[split]
        assert (owner[starts] == split).all() and (owner[starts + 16] == split).all()


def test_batches_come_from_their_own_split_only():
    # random text: every window of 11 characters occurs once, so a window tells where it came from
    rng = np.random.default_rng(0)
    text = "".join(rng.choice(list("abcdefghij"), size=30_000))
    task = lm_task(text, context=10)
    split_of_window = {}
    for start in range(len(text) - 10):
        owners = {split for split, runs in task.segments.items() for a, b in runs if a <= start and start + 11 <= b}
        split_of_window[task.ids[start:start + 11].tobytes()] = owners.pop() if len(owners) == 1 else "across"
    for split in ("train", "valid", "test"):
        for index in range(4):
            b = task.batch(split, index, 32)
            windows = np.concatenate([b.inputs, b.targets[:, -1:]], axis=1)
            assert {split_of_window[w.tobytes()] for w in windows} == {split}


def test_batches_are_deterministic_and_held_out_text_does_not_depend_on_the_seed(default_task):
    again = factory({"corpus": ""}, 128, 0)
    np.testing.assert_array_equal(default_task.batch("train", 5, 8).inputs, again.batch("train", 5, 8).inputs)
    assert not np.array_equal(default_task.batch("train", 5, 8).inputs, default_task.batch("train", 6, 8).inputs)
    other_seed = factory({"corpus": ""}, 128, 1)
    assert not np.array_equal(default_task.batch("train", 5, 8).inputs, other_seed.batch("train", 5, 8).inputs)
    np.testing.assert_array_equal(default_task.batch("test", 5, 8).inputs, other_seed.batch("test", 5, 8).inputs)


def test_vocabulary_maps_unseen_characters_to_unk():
    vocab = Vocabulary.from_text("banana")
    assert vocab.chars == "abn" and vocab.size == 4
    np.testing.assert_array_equal(vocab.encode("nab€z"), [3, 1, 2, 0, 0])


def test_non_ascii_corpus_file(tmp_path, registry):
    # Greek and German training text with a Japanese character only in one held-out stripe
    base = "Ωραία μέρα. Grüße aus Köln — naïve café. "
    text = list((base * 1000)[:40_000])
    text[7700] = "日"  # in stripe 19 of 100 (test): [7600, 8000)
    path = tmp_path / "corpus.txt"
    path.write_text("".join(text), encoding="utf-8")
    task = factory({"corpus": str(path)}, 16, 0)
    assert "Ω" in task.vocab.chars and "ü" in task.vocab.chars and "日" not in task.vocab.chars
    assert task.vocab.size == len(set(base)) + 1
    test_ids = task.text_of("test")
    assert (test_ids == 0).sum() == 1  # the one unseen character is <unk>
    assert (task.text_of("train") != 0).all()
    [case] = expand_lm(registry, path).cases
    assert case.options == {"corpus": str(path)}


def test_bits_per_character_against_hand_computed_values():
    task = lm_task("abcd" * 1000, context=4)
    b = task.batch("test", 0, 2)
    V = task.vocab.size  # <unk>, a, b, c, d
    outputs = np.zeros((2, 4, V), np.float32)  # uniform over V: log2 V bits per character
    m = task.metrics(outputs, b)
    assert m["bits_per_char"] == pytest.approx(math.log2(V))
    assert m["cross_entropy"] == pytest.approx(math.log(V))
    # probability 1/2 on the right character at every position: exactly 1 bit
    logits = np.full((2, 4, V), -np.inf, np.float32)
    for i in range(2):
        for t in range(4):
            logits[i, t, b.targets[i, t]] = 0.0
            logits[i, t, 0 if b.targets[i, t] != 0 else 1] = 0.0
    assert task.metrics(logits, b)["bits_per_char"] == pytest.approx(1.0)


def test_baselines_uniform_and_unigram():
    # training text has a:b = 3:1; the test stripes hold the same mix
    task = lm_task("aaab" * 2500, context=4)
    base = baseline_values(task.baselines())
    assert base["bits_per_char_uniform"] == pytest.approx(math.log2(3))  # <unk>, a, b
    assert base["unigram_entropy_bits"] == pytest.approx(-(0.75 * math.log2(0.75) + 0.25 * math.log2(0.25)))
    counts = {"a": 6750 + 1, "b": 2250 + 1, "<unk>": 1}  # add-one smoothing over the training counts
    total = sum(counts.values())
    expected = -(0.75 * math.log2(counts["a"] / total) + 0.25 * math.log2(counts["b"] / total))
    assert base["bits_per_char"] == pytest.approx(expected, rel=1e-3)
    assert base["accuracy"] == pytest.approx(0.75)


def test_default_corpus_baselines(default_task):
    base = baseline_values(default_task.baselines())
    assert 4.5 < base["unigram_entropy_bits"] < 4.9
    assert base["bits_per_char"] >= base["unigram_entropy_bits"] - 0.1
    assert base["bits_per_char_uniform"] == pytest.approx(math.log2(default_task.vocab.size))


@pytest.mark.parametrize("make,message", [
    (lambda p: p / "missing.txt", "does not exist"),
    (lambda p: p, "is a directory"),
    (lambda p: (p / "latin1.txt", (p / "latin1.txt").write_bytes("café".encode("latin-1") * 5000))[0],
     "is not UTF-8 text"),
    (lambda p: (p / "short.txt", (p / "short.txt").write_text("too short"))[0], "too short for --seq-len 16"),
])
def test_bad_corpus_files_are_one_clear_error(tmp_path, registry, make, message):
    with pytest.raises(UsageError, match=f"task 'lm' at --seq-len 16: .*{message}"):
        expand_lm(registry, make(tmp_path))


def test_minimum_corpus_length_is_enforced_exactly():
    needed = minimum_corpus_chars(16)
    lm_task("x" * needed, context=16)
    with pytest.raises(ValueError, match=f"needs at least {needed}"):
        lm_task("x" * (needed - 1), context=16)


def test_default_learning_rate_depends_on_the_model_family(registry):
    cases = expand(RunRequest(models=["lstm", "transformer"], tasks=["lm"]), registry, cuda_probe=lambda: False).cases
    assert {(c.model, c.lr) for c in cases} == {("lstm@torch", 3e-3), ("transformer@torch", 2e-3)}
