"""Classifier two-sample tests: can a classifier tell real pieces from generated ones?

The cross-validated accuracy of a logistic regression trained to tell the two apart, on as
many of each: 50 % means it cannot, 100 % that every sample gives itself away. Verse is seen
through its character and word n-grams, music through 30 musical features of its notes.
scikit-learn is an optional extra (`pip install -e '.[evaluate]'`); without it the figure is
None.
"""

from __future__ import annotations

import numpy as np

FOLDS = 5


def accuracy(real: list, samples: list, model) -> float | None:
    """Cross-validated accuracy of `model` (a scikit-learn pipeline taking items of `real`
    and `samples` as they are) on as many of each; None with fewer than `FOLDS` of either."""
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    n = compared(real, samples)
    if n < FOLDS:
        return None
    items = list(real[:n]) + list(samples[:n])
    if not isinstance(items[0], str):
        items = np.array(items)
    labels = np.array([0] * n + [1] * n)
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=0)
    return float(cross_val_score(model, items, labels, cv=folds).mean())


def compared(real: list, samples: list) -> int:
    """How many pieces of each kind the test compares: as many real pieces as samples."""
    return min(len(real), len(samples))


def interval(accuracy: float, count: int, z: float = 1.96) -> tuple[float, float]:
    """The 95 % Wilson score interval of an accuracy over `count` pieces of each kind (twice
    as many predictions): how far the figure may move with other samples. At 20 samples it
    spans about 30 points, so two runs' figures a few points apart are one figure."""
    trials = 2 * count
    scale = 1 + z * z / trials
    centre = (accuracy + z * z / (2 * trials)) / scale
    half = z / scale * np.sqrt(accuracy * (1 - accuracy) / trials + z * z / (4 * trials * trials))
    return max(0.0, float(centre - half)), min(1.0, float(centre + half))


def verse_accuracy(real: list[str], samples: list[str]) -> float | None:
    """How well character and word n-grams tell real poems from samples (TF-IDF: characters
    1-4 as written, across word boundaries and line breaks, and words 1-2 at a quarter of
    their weight, as more of them dilute what the characters show); None without
    scikit-learn."""
    try:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import FeatureUnion, make_pipeline
    except ImportError:
        return None
    chars = TfidfVectorizer(analyzer="char", ngram_range=(1, 4), sublinear_tf=True, lowercase=False)
    words = TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True)
    features = FeatureUnion(
        [("chars", chars), ("words", words)], transformer_weights={"chars": 1.0, "words": 0.25}
    )
    return accuracy(real, samples, make_pipeline(features, LogisticRegression(max_iter=2000)))


def excerpts(text: str, lines: int, count: int) -> list[str]:
    """Up to `count` excerpts of `lines` consecutive non-blank lines, spread evenly over the
    text: real verse cut to the length of the samples it is compared with."""
    kept = [line for line in text.splitlines() if line.strip()]
    chunks = ["\n".join(kept[i : i + lines]) for i in range(0, len(kept) - lines + 1, lines)]
    return spread(chunks, count)


def spread(items: list, most: int) -> list:
    """At most `most` of `items`, evenly spread over them from the first to the last (a split
    is ordered by file, so a book of tunes gives tunes from each part)."""
    if len(items) <= most:
        return items
    return [items[i] for i in np.linspace(0, len(items) - 1, most).astype(int)]


def music_features(notes) -> np.ndarray:
    """What the classifier sees of a piece (a list of `Note`s): pitch classes by time (12),
    melodic intervals between successive onsets (13, the last 12 or more), share of notes in
    key, polyphony, mean note length, notes per second, pitch range."""
    from generator import stats

    notes = [n for n in notes if not n.drum]
    pitch_classes = stats.pitch_class_histogram([notes])
    ordered = [n.pitch for n in sorted(notes, key=lambda n: (n.start, -n.pitch))]
    steps = np.minimum(np.abs(np.diff(ordered)), 12) if len(ordered) > 1 else np.zeros(0)
    intervals = np.bincount(steps.astype(int), minlength=13)[:13] / max(1, len(steps))
    music = stats.music([notes])
    rest = [music[k] or 0.0 for k in ("in_key_share", "polyphony", "mean_note_seconds")]
    rest += [music["notes_per_second"] or 0.0, music["pitch_range"] or 0.0]
    return np.concatenate([pitch_classes, intervals, rest])


def music_accuracy(real: list, samples: list) -> float | None:
    """How well musical features (`music_features`) tell `real` pieces from `samples` (lists
    of note lists); None without scikit-learn or with too few of either."""
    try:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
    except ImportError:
        return None
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    return accuracy([music_features(p) for p in real], [music_features(p) for p in samples], model)
