"""Metre (the scansion rule), the forms that use it (ballad, villanelle, haiku), and the
per-poem report, on known lines of English verse."""

from __future__ import annotations

import pytest

from generator.errors import GenError
from generator.verse import forms, metre
from generator.verse.compose import LineResult, Poem, Verdict, judge
from generator.verse.forms import LineSpec, VerseOptions
from generator.verse.report import FormReport


@pytest.mark.parametrize(
    "line, name, feet, scans",
    [
        ("Shall I compare thee to a summer's day?", "iambic", 5, True),
        ("When forty winters shall beseige thy brow,", "iambic", 5, True),
        ("Making a famine where abundance lies,", "iambic", 5, True),  # first foot inverted
        ("Mother and father, sister and brother", "iambic", 5, False),  # two feet inverted
        ("Thou art more lovely and more temperate:", "iambic", 5, False),  # TEM-per-ate
        ("There was an old man with a beard", "anapestic", 3, True),  # first foot headless
        ("There was an old man with a beard", "iambic", 5, False),  # eight syllables
        ("Tyger Tyger, burning bright,", "trochaic", 4, False),  # seven: catalectic trochees
        ("Tyger Tyger, burning brightly,", "trochaic", 4, True),
        ("Just for a handful of silver he left us", "dactylic", 4, True),  # last foot cut
        ("Shall I compare thee to a summer's day?", "none", 5, True),
    ],
)
def test_scansion_of_known_lines(line, name, feet, scans):
    assert metre.scans(line, name, feet) is scans


def test_word_stresses_follow_the_dictionary():
    assert metre.word_stresses("beautiful") == {"100"}
    assert metre.word_stresses("compare") == {"01"}
    assert metre.word_stresses("the") == {"?"}  # one syllable: either stress
    assert metre.word_stresses("blorptastic") == {"???"}  # not in the dictionary: fits anywhere


def test_named_forms_plan_their_metre_refrains_and_syllables():
    villanelle = forms.plan(VerseOptions("villanelle"))
    assert len(villanelle) == 19 and {s.metre for s in villanelle} == {"iambic"}
    first = [n for n, s in enumerate(villanelle, 1) if s.refrain == "0:A1"]
    second = [n for n, s in enumerate(villanelle, 1) if s.refrain == "0:A2"]
    assert first == [1, 6, 12, 18] and second == [3, 9, 15, 19]
    assert [n for n, s in enumerate(villanelle, 1) if s.stanza_end] == [3, 6, 9, 12, 15]
    ballad = forms.plan(VerseOptions("ballad"))
    assert [(s.syllables, s.feet, s.rhyme) for s in ballad] == [
        (8, 4, "0:A"), (6, 3, "0:B"), (8, 4, "0:C"), (6, 3, "0:B"),
    ]  # fmt: skip
    haiku = forms.plan(VerseOptions("haiku"))
    assert [(s.syllables, s.metre, s.rhyme) for s in haiku] == [
        (5, None, None),
        (7, None, None),
    ] + [(5, None, None)]
    limerick = forms.plan(VerseOptions("limerick"))
    assert [s.feet for s in limerick] == [3, 3, 2, 2, 3] and limerick[0].metre == "anapestic"


def test_metre_options_set_feet_and_syllables_or_are_refused():
    trochees = forms.plan(VerseOptions(metre="trochaic", feet="4", lines=2))
    assert [(s.syllables, s.feet, s.metre) for s in trochees] == [(8, 4, "trochaic")] * 2
    plain = forms.plan(VerseOptions("sonnet", metre="none"))
    assert {s.metre for s in plain} == {None} and {s.syllables for s in plain} == {10}
    short = forms.plan(VerseOptions("couplet", syllables="7"))  # the form's metre yields
    assert {(s.syllables, s.metre) for s in short} == {(7, None)}
    six = forms.plan(VerseOptions("couplet", syllables="6"))
    assert {(s.syllables, s.feet) for s in six} == {(6, 3)}
    dactyls = forms.plan(VerseOptions(metre="dactylic", syllables="7", lines=1))
    assert [(s.syllables, s.feet) for s in dactyls] == [(7, 3)]  # the last foot cut short
    with pytest.raises(GenError, match="5 iambic feet make lines of 10 syllables, not 7"):
        VerseOptions(metre="iambic", feet="5", syllables="7")
    with pytest.raises(GenError, match="--feet needs a metre"):
        VerseOptions(feet="4")
    with pytest.raises(GenError, match="unknown metre 'spondaic'"):
        VerseOptions(metre="spondaic")
    with pytest.raises(GenError, match=r"feet must be in \[1, 30\]"):
        VerseOptions(metre="iambic", feet="0")
    with pytest.raises(GenError, match=r"time-limit must be in \(0"):
        VerseOptions("sonnet", time_limit=0)
    with pytest.raises(GenError, match="a number after one marks a refrain"):
        VerseOptions(rhyme="A1B?")


def test_a_line_that_scans_is_judged_better_than_one_that_does_not():
    spec = LineSpec(syllables=10, metre="iambic", feet=5)
    good = judge("Making a famine where abundance lies,", spec, {})
    bad = judge("Mother and father, sister and brother", spec, {})
    assert good.met and good.penalty == 0
    assert bad.syllables and not bad.metre and not bad.met and bad.penalty == 1


def test_report_counts_each_poem_and_leaves_refrain_repeats_out_of_rhymes():
    specs = forms.plan(VerseOptions(rhyme="A1BA2 A1", syllables="10", metre="iambic"))
    lines = [
        "Shall I compare thee to a summer's day?",
        "Thou art more lovely and more temperate:",
        "Rough winds do shake the darling buds of May,",
        "Shall I compare thee to a summer's day?",
    ]
    met = Verdict(True, True, True, 0.0)
    poem = Poem([LineResult(t, list(t), met, 1, repeat=n == 3) for n, t in enumerate(lines)], specs)
    report = FormReport(known=frozenset({"shall", "i", "compare", "thee"}))
    figures = report.add(poem, copy_rate=0.25)
    assert figures["syllables"] == 1.0 and figures["metre"] == 0.75  # temperate does not scan
    assert figures["rhymes"] == 1.0  # day / may; the repeat of line 1 is not a pair
    assert figures["real_words"] == 8 / 32
    report.add(poem)
    text = "\n".join(report.lines())
    assert "poem 1: 4/4 syllables, 3/4 metre, 1/1 rhymes, 8/32 real words, copy rate 25.0 %" in text
    assert "lines that scan: 6/8 (75 %)" in text


def test_a_rhyme_word_is_not_used_twice_in_one_rhyme():
    spec = LineSpec(rhyme="0:A")
    used = {"0:A": ["vain", "entertain"]}
    assert not judge("Impereal thought to entertain", spec, used).rhyme
    assert judge("And all of it in vain remain", spec, used).rhyme
