"""The fit-to-part planner: the smallest balanced interval whose predicted resources fit an FPGA part.

``fit(net, settings)`` tries the per-layer cycle targets at which some convolution's parallelism
changes, from the smallest up, plans each (:func:`skipless.rtl.schedule.plan`: every convolution
gets the fewest PI x PO MACs per cycle that finish an image within the target), predicts its
resources (:mod:`skipless.rtl.cost`) and keeps the first whose every resource stays within
``max_util`` of the part. DSP count only falls as the target grows, so a bisection on it finds the
start; from there the targets are walked up until LUT, FF and BRAM fit too.

The physical limit is one MAC per DSP48 per cycle: no design of ``M`` MACs per image can have an
interval below ``M / DSPs``; a ``target_interval`` under it is refused with that number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from skipless.errors import SkiplessError
from skipless.parts import PARTS, get_part
from skipless.rtl import cost
from skipless.rtl.graph import Network
from skipless.rtl.ops.conv import Conv
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
    device_limit_interval: int  # MACs per image / DSPs of the part

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
                "features": self.features, "model": "skipless.rtl.cost (DSP and BRAM18 by count, LUT and FF fitted to Yosys)",
                "calibration": cost.calibration_label()}


def _evaluate(net: Network, settings: RTLSettings, cycles: int, part) -> Fit:
    p = plan(net, replace(settings, cycles_per_layer=cycles))
    feats = cost.features(net, p)
    macs = sum(c.macs for c in p.convs.values())
    return Fit(part.name, settings.max_util, cycles, p, feats, cost.predict(feats), {r: part.available()[r] for r in cost.RESOURCES},
               math.ceil(macs / part.dsp))


def _targets(net: Network) -> list[int]:
    """Every per-layer cycle target at which some convolution's chosen parallelism changes."""
    return sorted({c for node in net.convs() for c in Conv.cycle_options(node).values()})


def evaluate(net: Network, settings: RTLSettings) -> Fit:
    """The prediction for the plan ``settings`` asks for as it stands (no search), against ``settings.part``."""
    return _evaluate(net, settings, settings.cycles_per_layer, get_part(settings.part))


def fit(net: Network, settings: RTLSettings) -> Fit:
    """The plan with the smallest interval that fits ``settings.part`` within ``settings.max_util``
    (or the plan at ``settings.target_interval``); raises when none fits, naming the smallest part
    that would, unless ``settings.allow_overfit``."""
    part = get_part(settings.part)
    if settings.target_interval is not None:
        result = _evaluate(net, settings, settings.target_interval, part)
        if settings.target_interval < result.device_limit_interval:
            raise SkiplessError(f"target interval {settings.target_interval:,} cycles is below the device limit of {part.name}: "
                                f"{result.device_limit_interval:,} cycles ({sum(c.macs for c in result.plan.convs.values()):,} "
                                f"MACs per image on {part.dsp} DSPs); ask for at least that")
    else:
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
    if not result.fits and not settings.allow_overfit:
        larger = [p.name for p in sorted(PARTS.values(), key=lambda p: p.dsp)
                  if all(result.predicted[r] <= settings.max_util * p.available()[r] for r in cost.RESOURCES)]
        hint = f"the smallest known part it fits is {larger[0]}" if larger else "no known part fits it"
        raise SkiplessError(f"{net.name} does not fit {part.name} within {100 * settings.max_util:.0f}% at "
                            f"{result.plan.interval_cycles:,} cycles/image (predicted {'; '.join(result.over())}); {hint}, "
                            f"or pass --allow-overfit to write it anyway")
    return result
