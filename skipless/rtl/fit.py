"""The fit-to-part planner: the smallest balanced interval whose predicted resources fit an FPGA part.

``fit(net, settings)`` tries the per-layer cycle targets at which some convolution's parallelism
changes, from the smallest up, plans each (:func:`skipless.rtl.schedule.plan`: every convolution
gets the fewest PI x PO MACs per cycle that finish an image within the target), predicts its
resources (:mod:`skipless.rtl.cost`) and keeps the first whose every resource stays within
``max_util`` of the part. DSP count only falls as the target grows, so a bisection on it finds the
start; from there the targets are walked up until LUT, FF and BRAM fit too.

Multipliers: under the ``auto`` policy (the default when fitting) every layer whose widths allow it
does two products per DSP48 (``dsp2``); when a plan still needs more DSP48s than the budget, layers
with weights of at most ``LUT_WEIGHT_BITS`` bits move to LUT multipliers, the layer with the most
DSP48s first, until the DSP48s fit (LUT, FF and BRAM are then checked like any plan's).

The physical limit is one MAC per DSP48 per cycle, two where a layer can pack them: no design of
``M`` MACs per image can have an interval below ``sum(M_layer / k_layer) / DSPs``; a ``target_interval``
under it is refused with that number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from skipless.errors import SkiplessError
from skipless.parts import PARTS, get_part
from skipless.rtl import cost
from skipless.rtl.graph import Network
from skipless.rtl.ops.conv import LUT_WEIGHT_BITS, Conv
from skipless.rtl.schedule import Plan, RTLSettings, plan


@dataclass
class Fit:
    part: str
    max_util: float
    cycles_per_layer: int
    plan: Plan
    features: dict
    predicted: dict  # resource -> count
    available: dict  # resource -> the part's total
    device_limit_interval: int  # MACs per image / (DSPs of the part x products per DSP)
    multipliers: dict  # layer -> the multiplier kind the plan uses

    @property
    def utilization(self) -> dict:
        return {r: round(self.predicted[r] / self.available[r], 4) for r in cost.RESOURCES}

    @property
    def fits(self) -> bool:
        return all(self.predicted[r] <= self.max_util * self.available[r] for r in cost.RESOURCES)

    def over(self) -> list[str]:
        return [f"{r.upper()} {self.predicted[r]:,} = {100 * self.utilization[r]:.0f}% of {self.available[r]:,}"
                for r in cost.RESOURCES if self.predicted[r] > self.max_util * self.available[r]]

    def to_dict(self) -> dict:
        return {"part": self.part, "max_util": self.max_util, "cycles_per_layer": self.cycles_per_layer,
                "interval_cycles": self.plan.interval_cycles, "predicted": self.predicted, "available": self.available,
                "utilization": self.utilization, "fits": self.fits, "device_limit_interval": self.device_limit_interval,
                "multipliers": self.multipliers, "features": self.features, "model": "skipless.rtl.cost (DSP and BRAM18 by count, LUT and FF fitted to Yosys)",
                "calibration": cost.calibration_label()}


def _predict(net: Network, settings: RTLSettings, cycles: int) -> tuple[Plan, dict, dict]:
    p = plan(net, replace(settings, cycles_per_layer=cycles))
    feats = cost.features(net, p)
    return p, feats, cost.predict(feats)


def device_limit(net: Network, settings: RTLSettings, dsps: int) -> int:
    """The smallest interval any plan of ``net`` can have on ``dsps`` DSP48s: each layer's MACs per image
    over the products one DSP48 makes per cycle for it (2 where it is packed, 1 else; none for a layer
    in LUTs)."""
    widths = net.stream_widths()
    dsp_cycles = 0.0
    for node in net.convs():
        kind = Conv.multiplier_for(node, widths[node.inputs[0]], settings)
        if kind != "lut":
            dsp_cycles += Conv.macs(node) / (2 if kind == "dsp2" else 1)
    return math.ceil(dsp_cycles / dsps)


def _evaluate(net: Network, settings: RTLSettings, cycles: int, part) -> Fit:
    p, feats, predicted = _predict(net, settings, cycles)
    if settings.multiplier_policy == "auto":  # DSPs short: narrow-weight layers to LUTs, the largest first
        budget = settings.max_util * part.dsp
        movable = sorted((c for c in p.convs.values() if c.multiplier != "lut" and c.name not in settings.multipliers
                          and net.node(c.name).params["weight_type"].width <= LUT_WEIGHT_BITS), key=lambda c: -c.multipliers)
        chosen = dict(settings.multipliers)
        for c in movable:
            if predicted["dsp"] <= budget:
                break
            chosen[c.name] = "lut"
            settings = replace(settings, multipliers=chosen)
            p, feats, predicted = _predict(net, settings, cycles)
    return Fit(part.name, settings.max_util, cycles, p, feats, predicted, {r: part.available()[r] for r in cost.RESOURCES},
               device_limit(net, settings, part.dsp), {c.name: c.multiplier for c in p.convs.values()})


def _targets(net: Network) -> list[int]:
    """Every per-layer cycle target at which some convolution's chosen parallelism changes."""
    return sorted({c for node in net.convs() for c in Conv.cycle_options(node).values()})


def evaluate(net: Network, settings: RTLSettings) -> Fit:
    """The prediction for the plan ``settings`` asks for as it stands (no search), against ``settings.part``."""
    return _evaluate(net, settings, settings.cycles_per_layer, get_part(settings.part))


def _search(net: Network, settings: RTLSettings, part) -> Fit:
    if settings.target_interval is not None:
        result = _evaluate(net, settings, settings.target_interval, part)
        if settings.target_interval < result.device_limit_interval:
            raise SkiplessError(f"target interval {settings.target_interval:,} cycles is below the device limit of {part.name}: "
                                f"{result.device_limit_interval:,} cycles ({sum(c.macs for c in result.plan.convs.values()):,} "
                                f"MACs per image on {part.dsp} DSPs, {'two' if settings.multiplier_policy in ('auto', 'dsp2') else 'one'} "
                                f"per DSP per cycle where the widths allow); ask for at least that")
        return result
    targets = _targets(net)
    lo, hi = 0, len(targets) - 1  # bisect on the DSP count, which only falls as the target grows
    budget = settings.max_util * part.dsp
    while lo < hi:
        mid = (lo + hi) // 2
        if _evaluate(net, settings, targets[mid], part).predicted["dsp"] <= budget:
            hi = mid
        else:
            lo = mid + 1
    result = _evaluate(net, settings, targets[lo], part)
    for t in targets[lo + 1 :]:
        if result.fits:
            break
        result = _evaluate(net, settings, t, part)
    return result


def fit(net: Network, settings: RTLSettings) -> Fit:
    """The plan with the smallest interval that fits ``settings.part`` within ``settings.max_util``
    (or the plan at ``settings.target_interval``); raises when none fits, naming the smallest part
    that would, unless ``settings.allow_overfit``."""
    part = get_part(settings.part)
    result = _search(net, settings, part)
    if not result.fits and settings.multiplier_policy == "auto":
        # packing pairs output lanes, so a packed layer's slowest plan (PO = 2) is twice as fast, and as
        # large, as PO = 1: under a very tight budget one product per DSP48 may fit where packing does not
        try:
            alone = _search(net, replace(settings, multiplier="dsp"), part)
        except SkiplessError:  # a target interval under the limit of one product per DSP48
            alone = result
        result = alone if alone.fits else result
    if not result.fits and not settings.allow_overfit:
        larger = [p.name for p in sorted(PARTS.values(), key=lambda p: p.dsp)
                  if all(result.predicted[r] <= settings.max_util * p.available()[r] for r in cost.RESOURCES)]
        hint = f"the smallest known part it fits is {larger[0]}" if larger else "no known part fits it"
        raise SkiplessError(f"{net.name} does not fit {part.name} within {100 * settings.max_util:.0f}% at "
                            f"{result.plan.interval_cycles:,} cycles/image (predicted {'; '.join(result.over())}); {hint}, "
                            f"or pass --allow-overfit to write it anyway")
    return result
