"""What happens after each training step and epoch: checks that the loss is finite, saves
checkpoints (after every epoch, every `save_minutes`, and on a signal), keeps the metrics and
loss curves, and decides when to stop (the epochs, the time budget, `--patience`, a signal).

`RunState` is where a run stands; it is saved in resume.h5, so that a resumed run goes on
exactly where it stopped.
"""

from __future__ import annotations

import math
import signal
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from generator import checkpoint, resume_file
from generator.averaging import averaged
from generator.curves import write_curves
from generator.errors import GenError, Interrupted
from generator.signals import SIGNAL_NAMES


@dataclass
class RunState:
    """Where a run stands; saved in resume.h5 and restored by `gen train --resume`."""

    step: int = 0  # batches trained in all (the optimiser's step count)
    epoch: int = 0  # epochs finished
    epoch_loss_sum: float = 0.0  # sum of the batch losses of the unfinished epoch
    epoch_batches: int = 0  # batches of the unfinished epoch
    seconds: float = 0.0  # training time so far, over every session of the run
    metrics: dict = field(default_factory=dict)  # what metrics.json holds

    def to_json(self) -> dict:
        """The state as JSON-able values (what resume.h5 stores)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data) -> RunState:
        """The state resume.h5 stored; a `GenError` if it is not one."""
        try:
            state = cls(**{k: data[k] for k in cls.__dataclass_fields__})
            valid = (
                all(
                    isinstance(getattr(state, k), int) and getattr(state, k) >= 0
                    for k in ("step", "epoch", "epoch_batches")
                )
                and isinstance(state.metrics, dict)
                and isinstance(state.metrics.get("history"), list)
                and isinstance(state.seconds, (int, float))
                and isinstance(state.epoch_loss_sum, (int, float))
            )
        except (KeyError, TypeError):
            valid = False
        if not valid:
            raise GenError("resume.h5 holds no valid training state; it is damaged")
        return state


class Checkpointer:
    """What happens after each batch and epoch: loss checks, checkpoints, the time budget and
    signals. `batch_end` and `epoch_end` are called by the Keras callback made in `fit`."""

    def __init__(self, model, plan, *, log, caught, steps: int, where=None):
        self.model, self.run_dir, self.state = model, plan.run_dir, plan.state
        self.config, self.unit = plan.config, plan.unit
        self.log, self.caught = log, caught
        self.steps = steps  # per epoch
        self.chief = where is None or where.chief  # only the chief of several workers writes
        # how many workers say yes: several workers stop together, at the same step
        self.agree = where.agree if where is not None else int
        state = plan.state
        # where the checkpoint on disk stands (a resumed run starts from one)
        self.saved_at = f"epoch {state.epoch}, step {state.step}" if state.step else None
        self.started = time.monotonic() - state.seconds
        self.last_save = time.monotonic()
        self.call_base = (state.epoch_loss_sum, state.epoch_batches)  # before this fit call
        self.done = False  # the time budget is spent

    def elapsed(self) -> float:
        """Seconds of training in this run, over every session."""
        return round(time.monotonic() - self.started, 1)

    def save(self) -> None:
        """The latest weights and resume.h5 (weights, optimiser, state) for this step; never
        weights that are not finite (a finite loss can still have a NaN gradient)."""
        s = self.state
        if not all(np.isfinite(w).all() for w in self.model.get_weights()):
            self._non_finite("weights", "not finite")
        s.seconds = self.elapsed()
        self.last_save = time.monotonic()
        if self.chief:
            with averaged(self.model):
                checkpoint.save_weights(self.model, self.run_dir, "last")
            resume_file.save_resume(self.model, self.run_dir, s.to_json())
        self.saved_at = f"epoch {s.epoch}, step {s.step}"

    def _write_metrics(self) -> None:
        if self.chief:
            checkpoint.write_metrics(self.run_dir, self.state.metrics)

    def _non_finite(self, what: str, value: float) -> None:
        """Stop without saving: the weights are already ruined."""
        s = self.state
        s.metrics["stopped"] = f"{what} was {value} at step {s.step}"
        self._write_metrics()
        if self.saved_at is None:
            raise GenError(
                f"the {what} became {value} at epoch {s.epoch + 1}, step {s.step}, before any "
                "checkpoint; training stopped. Try a lower --learning-rate"
            )
        raise GenError(
            f"the {what} became {value} at epoch {s.epoch + 1}, step {s.step}; training stopped "
            f"and the last good checkpoint (saved at {self.saved_at}) in '{self.run_dir}' is "
            f"kept. Start again from it with a lower --learning-rate and --init-from "
            f"{self.run_dir}"
        )

    def _signalled(self) -> bool:
        """Whether this process (or, with several workers, any of them) was signalled."""
        return self.agree(self.caught["signum"] is not None) > 0

    def _interrupted(self) -> None:
        s = self.state
        signum = self.caught["signum"] or signal.SIGTERM  # another worker's signal
        s.metrics["stopped"] = f"{SIGNAL_NAMES[signum]} at step {s.step}"
        self._write_metrics()
        where = (
            f"saved. Resume with: gen train --resume {self.run_dir}"
            if self.chief
            else "the chief saved the run; resume it with gen train --resume on every worker"
        )
        raise Interrupted(
            f"interrupted by {SIGNAL_NAMES[signum]} at epoch {s.epoch + 1}, step {s.step}; "
            + where,
            exit_code=128 + signum,
        )

    def batch_end(self, batch: int, loss: float) -> None:
        """`loss`: the mean over the `batch + 1` batches of this epoch in this `fit` call."""
        s = self.state
        s.step += 1
        if not math.isfinite(loss):
            self._non_finite("training loss", loss)
        base_sum, base_batches = self.call_base
        s.epoch_loss_sum, s.epoch_batches = base_sum + loss * (batch + 1), base_batches + batch + 1
        if s.step % self.steps == 0:  # the epoch's last batch: `epoch_end` saves, and stops
            return
        if self._signalled():
            self.save()
            self._interrupted()
        minutes = self.config.save_minutes
        if minutes is not None and time.monotonic() - self.last_save >= minutes * 60:
            self.save()

    def epoch_end(self, epoch: int, val_loss: float | None) -> None:
        """After an epoch: record its losses, save (best weights too when it is the best),
        draw the curves, and stop on a signal or when the time budget is spent."""
        s, m = self.state, self.state.metrics
        loss = s.epoch_loss_sum / max(1, s.epoch_batches)
        val = loss if val_loss is None else val_loss
        if not math.isfinite(val):
            self._non_finite("validation loss", val)
        s.epoch, s.epoch_loss_sum, s.epoch_batches = epoch + 1, 0.0, 0
        self.call_base = (0.0, 0)
        seconds = self.elapsed()
        m["history"].append({"epoch": epoch + 1, "loss": loss, "val_loss": val, "seconds": seconds})
        if m.get("best_val_loss") is None or val < m["best_val_loss"]:
            if self.chief:
                with averaged(self.model):
                    checkpoint.save_weights(self.model, self.run_dir, "best")
            m.update(best_val_loss=val, best_epoch=epoch + 1)
        m.update(epochs=epoch + 1, train_seconds=seconds)
        m.pop("stopped", None)
        if self._stale(s.epoch) and s.epoch < self.config.epochs:
            best, patience = m["best_epoch"], self.config.patience
            m["early_stop"] = (
                f"no better validation loss in the {patience} epochs after epoch {best}"
            )
        self._write_metrics()
        self.save()
        if self.chief:
            try:
                write_curves(self.run_dir, m["history"], self.unit)
            except OSError as exc:  # the plot is a convenience; the checkpoint is saved
                self.log(f"warning: cannot write the loss curves: {exc.strerror or exc}")
        self.log(
            f"epoch {epoch + 1}: train {loss:.4f}, validation {val:.4f} {self.unit} "
            f"({val / math.log(2):.3f} bits), {seconds:.0f} s"
        )
        if self._signalled() and s.epoch < self.config.epochs:
            self._interrupted()
        budget = self.config.max_minutes  # the chief's clock decides for every worker
        self.done = self.agree(self.chief and budget is not None and seconds >= budget * 60) > 0
        if m.get("early_stop"):
            self.log(f"stopping: {m['early_stop']}")
            self.done = True

    def _stale(self, epoch: int) -> bool:
        """Whether `--patience` epochs have passed since the best one (every worker has the
        same validation loss, so they agree)."""
        patience, best = self.config.patience, self.state.metrics.get("best_epoch")
        return patience is not None and best is not None and epoch - best >= patience
