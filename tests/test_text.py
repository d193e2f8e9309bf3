"""The text plugin, prosody, verse forms, and verse end to end through the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run, tiny

from generator.corpora.text import TextCorpus
from generator.errors import GenError
from generator.verse import forms, prosody
from generator.verse.forms import VerseOptions

TINY = tiny(units=32, seq_len=32, learning_rate=0.01)
SONNETS = Path(__file__).resolve().parents[2] / "shared" / "data" / "english-verse"
SONNETS = SONNETS / "shakespeare-sonnets.txt"
COUPLETS = (
    "the cat sat on the mat\nthe dog ran to the log\n\n"
    "the bee flew to the tree\nthe fox sat on the box\n\n"
)


def sample_stdout(checkpoint, *args):
    """`gen sample --out -` from `checkpoint`, without the copy report."""
    return run("sample", "--checkpoint", checkpoint, "--out", "-", "--no-report", *args)


def test_text_round_trip_keeps_lines_and_normalises(tmp_path):
    source = tmp_path / "p.txt"
    source.write_bytes("Cafe\u0301 one\r\n\r\nline two\n".encode())
    plugin = TextCorpus()
    tokens = plugin.encode_file(source)
    assert "".join(tokens) == "Caf\u00e9 one\n\nline two\n"  # NFC, LF, blank line kept
    plugin.write(tokens, tmp_path / "out.txt")
    assert plugin.encode_file(tmp_path / "out.txt") == tokens


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty file"),
        (b"ab\x00cd", "binary file (NUL byte at offset 2)"),
        (b"abc\xff\xfe", "invalid UTF-8 at byte offset 3"),
    ],
)
def test_bad_text_files_are_clear_errors(tmp_path, data, message):
    (tmp_path / "bad.txt").write_bytes(data)
    with pytest.raises(GenError) as info:
        TextCorpus().encode_file(tmp_path / "bad.txt")
    assert str(info.value) == message


def test_syllables_and_rhymes_of_known_words():
    assert prosody.line_syllables("Shall I compare thee to a summer's day?") == {10}
    assert 2 in prosody.line_syllables("flower") or 1 in prosody.line_syllables("flower")
    assert prosody.rhymes("day", "may") and prosody.dictionary_rhymes("thee", "me")
    assert not prosody.rhymes("love", "day") and not prosody.rhymes("day", "day")
    assert prosody.rule_syllables("blorptastic") == 3  # not in the dictionary
    assert prosody.rhymes("blorpish", "florpish")  # spelling fallback


def test_plans_of_forms():
    limerick = forms.plan(VerseOptions("limerick"))
    assert [s.syllables for s in limerick] == [8, 8, 5, 5, 8]
    assert [s.rhyme for s in limerick] == ["0:A", "0:A", "0:B", "0:B", "0:A"]
    sonnet = forms.plan(VerseOptions("sonnet"))
    assert len(sonnet) == 14 and sonnet[-1].rhyme == sonnet[-2].rhyme == "0:G"
    two = forms.plan(VerseOptions(rhyme="AB AB", syllables="6", stanzas=2))
    assert [s.stanza_end for s in two] == [False, True, False, True, False, True, False, False]
    couplets = forms.plan(VerseOptions("couplet", lines=4))
    assert [s.rhyme for s in couplets] == ["0:0:A", "0:0:A", "0:1:A", "0:1:A"]  # AA BB, not AAAA
    with pytest.raises(GenError, match="syllables must be"):
        VerseOptions(syllables="ten")
    with pytest.raises(GenError, match="more than 100,000 lines"):
        VerseOptions(rhyme="AABB", lines=100_000, stanzas=10_000)


@pytest.fixture(scope="module")
def text_model(tmp_path_factory):
    root = tmp_path_factory.mktemp("verse")
    (root / "poems.txt").write_text(COUPLETS * 30 + "a rare € sign\n")
    result = run(
        "train",
        *("--corpus", "text", "--path", root / "poems.txt"),
        *("--checkpoint-dir", root / "ck", "--run", "v", *TINY, "--epochs", 4),
    )
    assert result.exit_code == 0, result.output
    assert "nats/character" in result.output
    return root / "ck" / "v"


def test_sample_verse_to_stdout_by_lines(text_model):
    result = sample_stdout(text_model, "--lines", 3, "--seed", 1)
    assert result.exit_code == 0, result.output
    assert result.stdout.count("\n") == 3 and result.stdout.endswith("\n")


def test_unseen_primer_characters_are_dropped_with_a_warning(text_model, tmp_path):
    result = run(
        "sample",
        "--checkpoint",
        text_model,
        "--out",
        tmp_path / "p.txt",
        "--primer",
        "the Ωcat",
        "--lines",
        "1",
        "--seed",
        "2",
    )
    assert result.exit_code == 0, result.output
    assert "warning: the primer's 'Ω' not in the model's vocabulary" in result.output
    assert (tmp_path / "p.txt").read_text().startswith("the cat")


def test_constrained_couplet_meets_or_reports(text_model, tmp_path):
    result = run(
        "sample",
        "--checkpoint",
        text_model,
        "--out",
        tmp_path / "c.txt",
        "--form",
        "couplet",
        "--syllables",
        "6",
        "--seed",
        "3",
    )
    assert result.exit_code == 0, result.output
    lines = (tmp_path / "c.txt").read_text().splitlines()
    assert len(lines) == 2
    met = [6 in prosody.line_syllables(line) for line in lines]
    assert f"lines on their syllable target: {sum(met)}/2" in result.output
    rhyme = prosody.dictionary_rhymes(prosody.last_word(lines[0]), prosody.last_word(lines[1]))
    assert f"rhyme pairs confirmed by the CMU dictionary: {int(rhyme)}/1" in result.output
    for number, ok in enumerate(met, 1):
        assert ok or f"line {number}: syllables" in result.output  # unmet lines are reported
    assert "copy rate:" in result.output


def test_rare_characters_are_unknown_and_never_sampled(text_model):
    from generator.checkpoint import load_checkpoint

    vocab = load_checkpoint(text_model).vocab
    assert "€" not in vocab.index and "t" in vocab.index  # seen once vs. hundreds of times
    result = sample_stdout(text_model, "--length", 400, "--temperature", 3, "--seed", 5)
    assert result.exit_code == 0 and "<unk>" not in result.stdout and "€" not in result.stdout


@pytest.mark.parametrize(
    "data, reason", [(b"\x00\x01", "binary file"), (b"", "empty file"), (b"\xff", "invalid UTF-8")]
)
def test_unusable_text_corpus_is_one_clear_line(tmp_path, data, reason):
    (tmp_path / "b.txt").write_bytes(data)
    result = run("train", "--corpus", "text", "--path", tmp_path)
    assert result.exit_code == 1
    assert reason in result.output  # the skip report names the reason
    assert result.output.splitlines()[-1].startswith("Error: no usable text files in")


@pytest.mark.parametrize("words", ["real", "corpus"])
def test_forced_rhyme_ends_a_model_line_with_a_fitting_rhyme(text_model, words):
    import numpy as np

    from generator.checkpoint import load_checkpoint
    from generator.config import SampleConfig
    from generator.sample import Sampler
    from generator.verse.compose import Composer

    sampler = Sampler(load_checkpoint(text_model))
    composer = Composer(sampler, SampleConfig(words=words))
    start = sampler.start(list("the cat sat on the mat\n"))
    spec = forms.LineSpec(rhyme="0:A", syllables=6)
    states = sampler.step_model.zero_states(1)
    drawn = [("the dog ran to the cat", -1.0)]
    forced = composer._force_rhyme(
        spec, "log", drawn=drawn, primer_row=start, states=states, partners={"0:A": ["log"]}
    )
    line = forced.text
    assert line.startswith("the dog ran to the ")
    assert prosody.dictionary_rhymes(prosody.last_word(line), "log")
    if words == "corpus":  # the only word of the corpus that rhymes with log
        assert prosody.last_word(line) == "dog"
    assert 6 in prosody.line_syllables(line) and forced.verdict.syllables and forced.verdict.rhyme
    assert forced.tokens == list(line)
    assert len(forced.states) == 2 and np.all(np.isfinite(forced.states[0]))  # h and c


@pytest.fixture(scope="module")
def sonnet_model(tmp_path_factory):
    """A small model trained for a few seconds on Shakespeare's sonnets."""
    if not SONNETS.exists():
        pytest.skip(f"{SONNETS} is not here (../shared/data)")
    root = tmp_path_factory.mktemp("sonnets")
    options = tiny(units=128, embed_dim=16, seq_len=64, batch_size=32, epochs=3)
    args = ("--corpus", "text", "--path", SONNETS, "--checkpoint-dir", root, "--run", "s")
    assert run("train", *args, *options).exit_code == 0
    return root / "s"


@pytest.mark.slow
@pytest.mark.parametrize(
    "form, syllables, pairs",
    [("sonnet", [10] * 14, [(0, 2), (1, 3), (4, 6), (5, 7), (8, 10), (9, 11), (12, 13)]),
     ("limerick", [8, 8, 5, 5, 8], [(0, 1), (0, 4), (2, 3)])],
)  # fmt: skip
def test_a_trained_model_meets_a_sonnet_and_a_limerick(
    sonnet_model, tmp_path, form, syllables, pairs
):
    out = tmp_path / f"{form}.txt"
    args = ("--checkpoint", sonnet_model, "--out", out, "--form", form, "--seed", 1)
    result = run("sample", *args)
    assert result.exit_code == 0, result.output
    lines = out.read_text().splitlines()
    assert len(lines) == len(syllables)
    for line, target in zip(lines, syllables):
        assert target in prosody.line_syllables(line), line
    ends = [prosody.last_word(line) for line in lines]
    for a, b in pairs:
        assert prosody.dictionary_rhymes(ends[a], ends[b]), (ends[a], ends[b])
    met = f"{len(lines)}/{len(lines)} (100 %)"
    assert f"lines on their syllable target: {met}" in result.output
    assert (
        f"rhyme pairs confirmed by the CMU dictionary: {len(pairs)}/{len(pairs)}" in result.output
    )
    # a model of 3 short epochs may leave a line off the metre: named, and only the metre
    unmet = [line for line in result.output.splitlines() if "not met" in line]
    assert all(line.endswith("metre not met after 6 rounds") for line in unmet), unmet
    assert len(unmet) <= len(lines) // 4 and "lines that scan:" in result.output


def test_length_tables_count_lines_and_blank_lines():
    from generator.tokenmaps import length_table, stream_length
    from generator.vocab import Vocab

    vocab = Vocab(["<unk>", "<start>", "a", "\n"])
    lines = length_table(TextCorpus(), vocab, "lines")
    assert lines.tolist() == [[0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0]]
    stanzas = length_table(TextCorpus(), vocab, "stanzas")  # a break after a break
    assert stanzas.tolist() == [[0, 0, 0, 0], [0, 0, 0, 1], [0, 0, 0, 1]]
    ids = vocab.encode(list("a\na\n\na\n"))
    prev, now = ids[:-1], ids[1:]
    blank_lines = stanzas[0, now] + stanzas[1, prev] * stanzas[2, now]
    assert blank_lines.sum() == 1 and stream_length(TextCorpus(), list("a\na\n\na\n"), "lines") == 4
    with pytest.raises(GenError, match="cannot measure length in seconds"):
        length_table(TextCorpus(), vocab, "seconds")


def test_each_batch_of_outputs_has_a_seed_no_other_seed_starts_with():
    from generator.outputs import batch_seed

    assert batch_seed(5, 0) == 5  # -n up to 64: the seed itself, as before
    later = [batch_seed(5, k) for k in range(1, 50)]
    assert len(set(later)) == 49 and not set(later) & set(range(0, 100))
    assert all(0 <= s < 2**31 for s in later) and batch_seed(5, 3) == batch_seed(5, 3)


def test_words_real_writes_only_known_words_and_any_as_drawn(text_model):
    from generator.verse import lexicon

    corpus = lexicon.text_words(COUPLETS + "a rare sign")
    known = lexicon.dictionary_words() | corpus
    out = {
        words: sample_stdout(text_model, "--lines", 12, "--seed", 2, "--words", words)
        for words in ("real", "corpus", "any")
    }
    assert all(r.exit_code == 0 for r in out.values()), [r.output for r in out.values()]
    written = {words: lexicon.text_words(r.stdout) for words, r in out.items()}
    assert written["real"] <= known, written["real"] - known
    assert written["corpus"] and written["corpus"] <= corpus, written["corpus"] - corpus
    assert written["any"] - known  # the tiny model invents words


@pytest.mark.parametrize("words", ["real", "corpus"])
def test_a_primer_of_unknown_words_is_named_and_kept(text_model, tmp_path, words):
    out = tmp_path / "p.txt"
    args = ("--out", out, "--primer", "the glorbat sat ", "--lines", 2, "--words", words)
    result = run("sample", "--checkpoint", text_model, *args)
    assert result.exit_code == 0, result.output
    assert f"the primer's words glorbat are not known to --words {words}" in result.output
    assert out.read_text().startswith("the glorbat sat ")


def test_villanelle_repeats_its_refrains_exactly(text_model, tmp_path):
    out = tmp_path / "v.txt"
    args = ("--form", "villanelle", "--syllables", "6", "--seed", "4", "--no-report")
    result = run("sample", "--checkpoint", text_model, "--out", out, *args)
    assert result.exit_code == 0, result.output
    stanzas = out.read_text().strip("\n").split("\n\n")
    assert [len(s.splitlines()) for s in stanzas] == [3, 3, 3, 3, 3, 4]
    lines = out.read_text().replace("\n\n", "\n").splitlines()
    assert len({lines[n - 1] for n in (1, 6, 12, 18)}) == 1
    assert len({lines[n - 1] for n in (3, 9, 15, 19)}) == 1
    assert "lines that scan:" in result.output  # iambic trimeter, the syllables asked


def test_haiku_time_limit_and_per_poem_report(text_model, tmp_path):
    out = tmp_path / "h.txt"
    args = ("--form", "haiku", "-n", 2, "--seed", "5", "--time-limit", "0.001", "--json")
    result = run("sample", "--checkpoint", text_model, "--out", out, *args, catch=False)
    assert result.exit_code == 0, result.output
    for k in (1, 2):
        assert len((tmp_path / f"h-{k}.txt").read_text().splitlines()) == 3
    assert "poem 2: " in result.stderr and "time limit reached at line" in result.stderr
    assert "2 poems reached the time limit of 0.001 s" in result.stderr
    import json

    written = json.loads(result.stdout)
    assert set(written[0]["form"]) == {"syllables", "real_words"}  # haiku: no rhyme or metre
