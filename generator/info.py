"""`gen info`: what a run folder holds, or a list of every run, without loading any weights.

Everything here comes from the checkpoint's JSON files (config.json, metrics.json) and the JSON
state inside resume.h5, read through `checkpoint` and `resume_file`, so it answers at once and
never imports TensorFlow. A run folder that cannot be read is described by the one-line reason
`load_checkpoint` gives, not by a crash.
"""

from __future__ import annotations

import datetime
import shlex
from pathlib import Path

from generator import checkpoint as ckpt_io
from generator import resume_file
from generator.errors import GenError
from generator.model import ModelConfig
from generator.progress import format_duration
from generator.records import pieces_read


def _created(seconds: float | None) -> str | None:
    """A config's "created" time as local ISO 8601, to the second."""
    try:
        stamp = datetime.datetime.fromtimestamp(float(seconds)).astimezone()
    except (TypeError, ValueError, OverflowError, OSError):  # absent, or not a time
        return None
    return stamp.isoformat(timespec="seconds")


def _size(run_dir: Path) -> int:
    """Bytes of every file in the run folder (weights, resume state, JSON)."""
    return sum(p.stat().st_size for p in run_dir.rglob("*") if p.is_file())


def _plugin_suffix(name: str) -> str | None:
    """The output suffix of the installed plugin `name`, or None if it cannot be loaded."""
    from generator.corpora import discover

    info = discover().get(name)
    if info is None or info.cls is None or info.error:
        return None
    return info.cls.suffix


def _resumable(run_dir: Path, planned: int) -> tuple[bool, str]:
    """Whether `gen train --resume` can go on, and why (from resume.h5's JSON state only)."""
    if not (run_dir / resume_file.RESUME).exists():
        return False, f"no {resume_file.RESUME}"
    try:
        state = resume_file.resume_state(run_dir)
    except (GenError, OSError, ValueError, KeyError) as exc:
        return False, f"{resume_file.RESUME} is unreadable ({exc})"
    epoch = int(state.get("epoch", 0))
    early = (state.get("metrics") or {}).get("early_stop")
    if early:
        return False, f"stopped early: {early}"
    if epoch >= planned:
        return False, f"all {planned} epochs done"
    return True, f"stopped after epoch {epoch}, step {state.get('step', 0)}"


def describe(run_dir: Path) -> dict:
    """Everything `gen info DIR` shows about one run; a `GenError` if it is not a readable run."""
    run_dir = Path(run_dir)
    ckpt = ckpt_io.load_checkpoint(run_dir)
    try:
        return _describe(run_dir, ckpt)
    except (TypeError, ValueError, AttributeError) as exc:  # JSON of the right shape, odd values
        raise GenError(f"checkpoint '{run_dir}' holds unexpected values: {exc}") from None


def _describe(run_dir: Path, ckpt) -> dict:
    model, train, sources, metrics = ckpt.model_config, ckpt.train, ckpt.sources, ckpt.metrics()
    resumable, why = _resumable(run_dir, train.epochs)
    suffix = _plugin_suffix(ckpt.corpus_name)
    out = f"sample{suffix or ''}"  # the plugin's own format
    return {
        "run": str(run_dir),
        "created": _created(ckpt.created),
        "corpus": {
            "name": ckpt.corpus_name,
            "version": ckpt.corpus.get("version"),
            "path": sources.corpus_path,  # None: the plugin's default corpus
            "store": train.cache,  # a token store made by `gen encode`, if trained from one
            "installed": suffix is not None,
        },
        "files_used": metrics.files_used,
        "files_skipped": metrics.files_skipped,
        "pieces_used": metrics.pieces_used,
        "pieces_skipped": metrics.pieces_skipped,
        "train_tokens": metrics.train_tokens,
        "val_tokens": metrics.val_tokens,
        "model": model.to_dict() | {"params": model.num_params},
        "epochs": metrics.epochs,
        "epochs_planned": train.epochs,
        "best_val_loss": metrics.best_val_loss,
        "best_epoch": metrics.best_epoch,
        "loss_unit": metrics.loss_unit,
        "train_seconds": metrics.train_seconds,
        "stopped": metrics.stopped,  # a signal or a non-finite loss, if that ended it
        "early_stop": metrics.early_stop,  # --patience, if that ended it
        "resumable": resumable,
        "resume_note": why,
        "init_from": sources.init_from,
        "size_bytes": _size(run_dir),
        "sample_command": f"gen sample --checkpoint {shlex.quote(str(run_dir))} --out {out}",
    }


def list_runs(root: Path) -> list[dict]:
    """Every run folder under `root`, oldest first (by config.json "created"); a folder that
    cannot be read is listed as {"run", "created", "error"} with its one-line reason."""
    root = Path(root)
    if not root.is_dir():
        raise GenError(f"no checkpoint folder '{root}'; run `gen train` first")
    entries = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        when = ckpt_io.created_time(folder)
        try:
            info = describe(folder)
        except GenError as exc:
            info = {"run": str(folder), "created": _created(when), "error": str(exc)}
        entries.append((when, info))
    return [info for _, info in sorted(entries, key=lambda entry: entry[0])]


def _loss(info: dict) -> str:
    loss = info.get("best_val_loss")
    return "-" if loss is None else f"{loss:.4f} {info.get('loss_unit') or ''}".strip()


def _then(text: str) -> str:
    return f"{text}; " if text else ""


def _date(iso: str | None) -> str:
    """ "2024-05-01 12:30:05" of an ISO time, for reading (the JSON keeps the offset)."""
    return (iso or "?")[:19].replace("T", " ")


def _count(n) -> str:
    return f"{n:,}" if isinstance(n, int) else "?"


def _megabytes(size: int) -> str:
    return f"{size / 2**20:.1f} MB"


def report(info: dict) -> list[str]:
    """The lines of `gen info DIR`."""
    corpus, model = info["corpus"], info["model"]
    source = corpus["path"] or (
        f"the token store {corpus['store']}" if corpus["store"] else "the plugin's default corpus"
    )
    lines = [
        f"run        {info['run']} (created {_date(info['created'])})",
        f"corpus     {corpus['name']} version {corpus['version']}, from {source}"
        + ("" if corpus["installed"] else f" (plugin '{corpus['name']}' is not installed)"),
    ]
    if info["files_used"] is not None:
        lines.append(
            f"data       {info['files_used']} files used, {info['files_skipped']} skipped; "
            + _then(pieces_read(info["files_used"], info["pieces_used"], info["pieces_skipped"]))
            + f"{_count(info['train_tokens'])} training tokens, {_count(info['val_tokens'])} "
            "validation"
        )
    shape = {k: v for k, v in model.items() if k != "params"}
    lines.append(f"model      {ModelConfig.from_dict(shape).describe()}")
    lines.append(f"epochs     {info['epochs']} of {info['epochs_planned']}")
    if info["best_val_loss"] is not None:
        lines.append(f"best       validation {_loss(info)} at epoch {info['best_epoch']}")
    if info["train_seconds"] is not None:
        lines.append(f"time       {format_duration(info['train_seconds'])} of training")
    if info["stopped"]:
        lines.append(f"stopped    {info['stopped']}")
    how = f"gen train --resume {shlex.quote(info['run'])}" if info["resumable"] else "no"
    lines.append(f"resume     {how} ({info['resume_note']})")
    if info["init_from"]:
        lines.append(f"init from  {info['init_from']}")
    lines.append(f"size       {_megabytes(info['size_bytes'])}")
    lines.append(f"sample     {info['sample_command']}")
    return lines


def listing(runs: list[dict]) -> list[str]:
    """The lines of `gen info` without a run: one per run, oldest first."""
    if not runs:
        return ["no runs yet; train one with `gen train`"]
    width = max(len(Path(r["run"]).name) for r in runs)
    lines = [f"{'created':<19}  {'run':<{width}}  {'corpus':<8}  epochs  {'best loss':<20}  size"]
    for r in runs:
        created = _date(r["created"])
        name = Path(r["run"]).name
        if "error" in r:
            lines.append(f"{created:<19}  {name:<{width}}  unreadable: {r['error']}")
            continue
        epochs = f"{r['epochs']}/{r['epochs_planned']}"
        lines.append(
            f"{created:<19}  {name:<{width}}  {r['corpus']['name']:<8}  {epochs:<6}  "
            f"{_loss(r):<20}  {_megabytes(r['size_bytes'])}"
        )
    return lines
