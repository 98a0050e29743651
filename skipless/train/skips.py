"""Iterative skip removal and shortening (Tailor's SkipRemover / SkipShortener) on a gated model.

The student is built with ``gated=True``: each block holds all of its possible skips behind
non-trainable gates. A :class:`SkipSchedule` says which blocks change after which epoch; changing a
block only assigns its gate variable, so the model and its optimizer (momentum slots, iteration
count, learning-rate schedule) live on through the whole run. :func:`export` then writes the truly
skip-less (or shortened) graph: no gate, and no Add where a skip was removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from skipless.errors import SkiplessError
from skipless.fold import transfer_weights
from skipless.resnet import GATES, ResNetArch, block_name, blocks_per_stage

KINDS = {"remove": ("keep", "remove"), "shorten": ("keep", "shorten")}


@dataclass
class SkipSchedule:
    """Change ``per_step`` blocks every ``every`` epochs, in ``order`` (block indices; default head first)."""

    kind: str  # "remove" or "shorten"
    every: int
    per_step: int = 1
    order: list[int] = field(default_factory=list)

    def validate(self, arch: ResNetArch, epochs: int) -> None:
        if self.kind not in KINDS:
            raise SkiplessError(f"unknown skip schedule {self.kind!r}: use remove or shorten")
        if self.every < 1:
            raise SkiplessError(f"a skip is changed every k epochs: k must be >= 1, got {self.every}")
        if self.per_step < 1:
            raise SkiplessError(f"skips per step must be >= 1, got {self.per_step}")
        source, _ = KINDS[self.kind]
        candidates = [i for i, m in enumerate(arch.skip_modes) if m == source]
        order = self.order or candidates
        bad = [i for i in order if i not in candidates]
        if bad:
            raise SkiplessError(
                f"blocks {bad} have no long skip to {self.kind}: ResNet-{arch.depth} has {len(candidates)} "
                f"({', '.join(map(str, candidates))})"
            )
        if len(set(order)) != len(order):
            raise SkiplessError(f"the removal order {order} names a block twice")
        last_epoch = self.every * self.n_steps(len(order))
        if last_epoch > epochs:
            raise SkiplessError(
                f"{len(order)} skips at {self.per_step} per step every {self.every} epochs need {last_epoch} epochs; "
                f"the budget is {epochs}: lower k, raise --per-step or train longer"
            )
        self.order = list(order)

    def n_steps(self, n_skips: int | None = None) -> int:
        n = len(self.order) if n_skips is None else n_skips
        return -(-n // self.per_step)

    def blocks_after_epoch(self, epoch: int) -> list[int]:
        """Blocks to change once ``epoch`` (1-based) has finished."""
        if epoch % self.every:
            return []
        step = epoch // self.every - 1
        return self.order[step * self.per_step : (step + 1) * self.per_step]

    def modes_after(self, start_modes: list[str], epochs_done: int) -> list[str]:
        modes = list(start_modes)
        target = KINDS[self.kind][1]
        for epoch in range(1, epochs_done + 1):
            for b in self.blocks_after_epoch(epoch):
                modes[b] = target
        return modes


def _block_layer_names(arch: ResNetArch, block: int) -> tuple[str, str]:
    n = blocks_per_stage(arch.depth)
    name = block_name(block // n, block % n)
    return f"{name}_add1", f"{name}_add2"


def set_block_mode(model, arch: ResNetArch, block: int, mode: str) -> None:
    g1, g2, g_long = GATES[mode]
    add1, add2 = _block_layer_names(arch, block)
    model.get_layer(add1).gates.assign([g1])
    model.get_layer(add2).gates.assign([g2, g_long])


def block_modes(model, arch: ResNetArch) -> list[str]:
    """The skip mode of each block of a gated model, read from its gates."""
    by_gates = {g: m for m, g in GATES.items()}
    modes = []
    for block in range(len(arch.skip_modes)):
        add1, add2 = _block_layer_names(arch, block)
        gates = (*model.get_layer(add1).gates.numpy(), *model.get_layer(add2).gates.numpy())
        modes.append(by_gates[tuple(float(g) for g in gates)])
    return modes


def count_skips(modes: list[str]) -> int:
    """Skip additions the exported graph will have."""
    return sum({"keep": 1, "remove": 0, "shorten": 2}[m] for m in modes)


def export(gated_model, arch: ResNetArch, name: str | None = None):
    """The plain (gate-free) training graph with the gated model's current skip modes and weights."""
    modes = block_modes(gated_model, arch)
    final = ResNetArch(arch.depth, modes, arch.quant, arch.input_shape, arch.num_classes, arch.weight_decay)
    model = final.build(name=name)
    transfer_weights(gated_model, model)
    return model, final


