"""Token ids -> training tensors: file-level split, windows, transposition augmentation.

The corpus stays one int32 array of ids (never one-hot); windows are cut from it batch by batch,
so memory grows with the corpus only by four bytes per token.
"""

from __future__ import annotations

import numpy as np

from generator.errors import GenError


def join_streams(vocab, streams: list[list[str]], lead_in=(), controls=None) -> np.ndarray:
    """One id array, shape (tokens,): each stream opened by `<start>` and the plugin's lead-in
    (which sampling feeds too), with its control tokens (`controls`, a list per stream) among
    its tokens as `keys.interleaved` puts them, all concatenated. The plain in-memory
    reference of the token store's stream (`tokenstore.TokenStore.stream`), which tests hold
    it to."""
    if not streams:
        return np.zeros(0, np.int32)
    head = np.concatenate([[vocab.start_id], vocab.encode(list(lead_in))]).astype(np.int32)
    from generator.keys import interleaved

    controls = controls or [[] for _ in streams]
    parts = [
        np.concatenate([head, vocab.encode(interleaved(c, s))]) for c, s in zip(controls, streams)
    ]
    return np.concatenate(parts).astype(np.int32)


def pieces(ids: np.ndarray, start_id: int, lead_in: int = 0) -> list[np.ndarray]:
    """The pieces of an id stream as the token store lays them out (each opened by
    `<start>` and `lead_in` ids of the plugin's lead-in), without those (control tokens such
    as a key stay: no plugin plays them)."""
    ids = np.asarray(ids)
    starts = np.flatnonzero(ids == start_id)
    if not len(starts):
        return [ids] if len(ids) else []
    bounds = [*starts, len(ids)]
    head = [ids[: bounds[0]]] if starts[0] > 0 else []
    return head + [ids[a + 1 + lead_in : b] for a, b in zip(bounds[:-1], bounds[1:])]


def written_pieces(ids: np.ndarray, vocab, lead_in: int = 0) -> list[list[str]]:
    """The pieces of an id stream (`pieces`) as the tokens their plugin writes: decoded,
    without their key tokens."""
    from generator.keys import without_controls

    return [without_controls(vocab.decode(p)) for p in pieces(ids, vocab.start_id, lead_in)]


def split_files(n_files: int, val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices of training and validation files: a seeded shuffle, at least one file each
    when there are two or more files (with one file, validation is empty)."""
    order = np.random.default_rng(seed).permutation(n_files).tolist()
    n_val = 0 if n_files < 2 or val_fraction <= 0 else max(1, round(n_files * val_fraction))
    n_val = min(n_val, n_files - 1)
    return sorted(order[n_val:]), sorted(order[:n_val])


def split_stream(stream, val_fraction: float):
    """For a one-file corpus: hold out the last `val_fraction` of its tokens for validation.
    `stream`: an id array, or a `SegmentedStream` (cut without being read)."""
    cut = len(stream) - int(len(stream) * val_fraction)
    if isinstance(stream, SegmentedStream):
        return stream.sub(0, cut), stream.sub(cut, len(stream))
    return stream[:cut], stream[cut:]


class SegmentedStream:
    """Several id arrays read as one: each part is (codes, lookup table from code to id), and
    a window may run across parts. Memory-mapped parts are only read where windows fall."""

    def __init__(self, parts: list[tuple[np.ndarray, np.ndarray | None]]):
        self.parts = parts
        self.ends = np.cumsum([len(codes) for codes, _ in parts], dtype=np.int64)

    @classmethod
    def of(cls, ids: np.ndarray) -> SegmentedStream:
        """One id array as a stream."""
        return cls([(np.asarray(ids), None)])

    def __len__(self) -> int:
        return int(self.ends[-1]) if len(self.ends) else 0

    def array(self) -> np.ndarray:
        """All of the stream's ids, read into memory."""
        return self.slice(0, len(self))

    def slice(self, start: int, stop: int) -> np.ndarray:
        """Ids from `start` to `stop` (int32)."""
        out, k = [], int(np.searchsorted(self.ends, start, side="right"))
        while start < stop:
            codes, lut = self.parts[k]
            base = int(self.ends[k]) - len(codes)
            piece = codes[start - base : min(stop, int(self.ends[k])) - base]
            out.append(piece if lut is None else lut[piece])
            start, k = base + len(codes), k + 1
        return np.concatenate(out).astype(np.int32) if out else np.zeros(0, np.int32)

    def windows(self, starts: np.ndarray, width: int) -> np.ndarray:
        """(len(starts), width) ids of the windows beginning at `starts`."""
        starts = np.asarray(starts, dtype=np.int64)
        span = np.arange(width)
        if len(self.parts) == 1 and self.parts[0][1] is None:  # one array: one fancy index
            return np.asarray(self.parts[0][0])[starts[:, None] + span]
        out = np.empty((len(starts), width), np.int32)
        part = np.searchsorted(self.ends, starts, side="right")  # the part each window starts in
        inside = starts + width <= self.ends[np.minimum(part, len(self.ends) - 1)]
        for k in np.unique(part[inside]):  # windows within one part: one fancy index per part
            rows = np.flatnonzero(inside & (part == k))
            codes, lut = self.parts[k]
            local = starts[rows] - (int(self.ends[k]) - len(codes))
            picked = np.asarray(codes[local[:, None] + span])
            out[rows] = picked if lut is None else lut[picked]
        for row in np.flatnonzero(~inside):  # the few that cross from one part into the next
            out[row] = self.slice(int(starts[row]), int(starts[row]) + width)
        return out

    def sub(self, start: int, stop: int) -> SegmentedStream:
        """The part of the stream from `start` to `stop`, without reading it."""
        parts = []
        for k, (codes, lut) in enumerate(self.parts):
            base = int(self.ends[k]) - len(codes)
            a, b = max(start, base), min(stop, base + len(codes))
            if a < b:
                parts.append((codes[a - base : b - base], lut))
        return SegmentedStream(parts)


class WindowBatches:
    """Endless batches of (inputs, targets), each (batch, seq_len), from one id stream.

    Every pass over the stream starts the windows at a new random offset and shuffles their
    order; each window is passed through one randomly chosen augmentation map (row 0 is the
    identity). Every pass and every batch draws from its own generator, seeded by (seed, pass)
    and (seed, step), so the batches are a pure function of the seed and the global step: a
    resumed run continues with exactly the batches an uninterrupted run would have seen.

    With `shard` (i, n), one of n workers: this worker yields `batch_size // n` windows per
    step, all from its own n-th of the stream (so no worker reads the whole corpus); the n
    workers' batches together make the global batch of `batch_size`.
    """

    def __init__(
        self, stream, seq_len, batch_size, aug_maps=None, seed=0, epoch_steps=None, shard=(0, 1)
    ):
        stream = stream if isinstance(stream, SegmentedStream) else SegmentedStream.of(stream)
        if len(stream) < seq_len + 1:
            raise GenError(
                f"the training split has {len(stream)} tokens, fewer than seq-len + 1 = "
                f"{seq_len + 1}; lower --seq-len or add files"
            )
        index, count = shard
        if batch_size % count:
            raise GenError(f"batch size {batch_size} does not split over {count} workers")
        self.total_tokens = len(stream)
        if count > 1:
            stream = stream.sub(len(stream) * index // count, len(stream) * (index + 1) // count)
            if len(stream) < seq_len + 1:
                raise GenError(f"the training split is too short to share among {count} workers")
        self.stream, self.seq_len, self.batch_size = stream, seq_len, batch_size // count
        self.global_batch = batch_size
        self.aug_maps = aug_maps
        self.seeds = [seed] if count == 1 else [seed, index]
        self.epoch_steps = epoch_steps

    @property
    def steps_per_epoch(self) -> int:
        """Batches per epoch: as set (a shorter epoch checkpoints more often), else one pass
        over the (whole) stream; the same for every worker."""
        if self.epoch_steps:
            return self.epoch_steps
        windows = (self.total_tokens - 1) // self.seq_len
        return max(1, -(-windows // self.global_batch))

    def _starts(self, pass_index: int) -> np.ndarray:
        """Shuffled window start positions of one pass over the stream."""
        rng = np.random.default_rng([*self.seeds, pass_index])
        offset = int(rng.integers(0, self.seq_len))
        count = (len(self.stream) - 1 - offset) // self.seq_len
        if count < 1:  # the stream is barely one window long
            offset, count = 0, 1
        return rng.permutation(offset + np.arange(count) * self.seq_len)

    def __iter__(self):
        return self.from_step(0)

    def from_step(self, step: int, stop=None):
        """The endless batches from global step `step` on (0 is the first batch), until the
        event `stop` is set. Passes are laid end to end and cut into full batches, so every
        batch has `batch_size` windows (each step weighs the same, and the step function
        sees one shape)."""
        skip = step * self.batch_size  # windows before the first batch wanted
        pending, pass_index = np.zeros(0, np.int64), 0
        while stop is None or not stop.is_set():
            starts = self._starts(pass_index)
            pass_index += 1
            if skip >= len(starts):
                skip -= len(starts)
                continue
            pending, skip = np.concatenate([pending, starts[skip:]]), 0
            while len(pending) >= self.batch_size and not (stop and stop.is_set()):
                take, pending = pending[: self.batch_size], pending[self.batch_size :]
                windows = self.stream.windows(take, self.seq_len + 1)  # (batch, seq_len + 1)
                if self.aug_maps is not None and len(self.aug_maps) > 1:
                    rng = np.random.default_rng([*self.seeds, step])
                    pick = rng.integers(0, len(self.aug_maps), len(windows))
                    windows = self.aug_maps[pick[:, None], windows]
                step += 1
                yield windows[:, :-1], windows[:, 1:]  # (batch, seq_len) each


def validation_batches(stream: SegmentedStream, seq_len: int, batch_size: int):
    """Non-overlapping validation windows of `seq_len` (shorter if the stream is), as batches
    of (inputs, targets) each (windows, len), read from the stream batch by batch (nothing is
    held in memory). Nothing for a stream of fewer than two tokens."""
    length = min(seq_len, len(stream) - 1)
    count = (len(stream) - 1) // length if length > 0 else 0
    for first in range(0, count, batch_size):
        starts = np.arange(first, min(count, first + batch_size)) * length
        windows = stream.windows(starts, length + 1)
        yield windows[:, :-1], windows[:, 1:]
