"""The project's main answer, from the result records: at depth D and quantization Q, what removing or
shortening the skips costs in accuracy and saves in resources and latency.

:func:`headline_rows` picks, per (depth, quant) cell, one trained design per skip mode (the grid's roles
first: ``skip`` = QAT teacher, ``noskip`` = iterative removal with the optimizer kept, ``short`` =
shortened skips; a ``.normal`` artifact where the grid has none) and joins its records:

* ``accuracy``: QKeras test accuracy (percent);
* ``synth`` (Yosys on the part, default xc7z020): LUT, FF, DSP, BRAM18 and whether they fit the part;
* ``cosim``: latency and interval (cycles; microseconds at the clock), and how many images were checked
  bit-exactly in RTL.

A cell is compared at one plan: the default one, or, where a design does not fit the part there and
the cell's designs were also synthesized at the fit planner's plan (``skipless rtl ID --fit``), at that
one; its synthesis and co-simulation records are the ones of that plan, and the "fits" column says so.

:func:`verdicts` turns the rows into one line per depth. Both feed the report and the README's table.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from skipless.bench.store import case_variant, latest, record_method, record_plan, rtl_verified_key

SKIPS = ("skip", "noskip", "short")
# per skip mode, the methods in the order the headline prefers them (the grid's roles first)
PREFERRED = {"skip": ("qat", "normal"), "noskip": ("iter-kept", "kd-tailor", "iter-rebuild", "normal"),
             "short": ("shorten", "normal")}
RESOURCES = ("lut", "ff", "dsp", "bram18")
ACCURACY_TOLERANCE = 1.0  # points: "as accurate" for the verdict (the comparison's accuracy tolerance)


@dataclass
class HeadlineRow:
    depth: int
    quant: str
    skip: str
    design: str  # artifact id, e.g. r8-noskip-w8a8.iter-kept
    accuracy: float | None = None
    resources: dict = field(default_factory=dict)  # lut, ff, dsp, bram18
    part: str | None = None
    utilization: dict = field(default_factory=dict)  # resource -> fraction of the part
    latency_cycles: float | None = None
    latency_us: float | None = None
    interval_cycles: float | None = None
    rtl_images: int | None = None  # images checked bit-exactly in RTL (largest run)
    rtl_mismatches: int | None = None
    rtl_of: str | None = None  # the commit whose RTL that run checked, where it is not this record set's
    plan: str = "default"  # whose hardware the row's synthesis and co-simulation are: "default" or "fit"

    @property
    def fits(self) -> bool | None:
        return None if not self.utilization else max(self.utilization.values()) <= 1.0

    def fit_text(self) -> str:
        if not self.utilization:
            return "-"
        worst = max(self.utilization, key=self.utilization.get)
        plan = ", fitted plan" if self.plan == "fit" else ""
        return f"{'yes' if self.fits else 'NO'} ({100 * self.utilization[worst]:.0f} % {worst.upper()}{plan})"


def _resources(metrics: dict) -> dict:
    return {r: float(metrics[r]) for r in RESOURCES if r in metrics}


def _utilization(resources: dict, capacity: dict) -> dict:
    """Resource -> fraction of the part (1.0: all of it)."""
    return {r: v / capacity[r] for r, v in resources.items() if capacity.get(r)}


def _fits(record: dict, capacity: dict) -> bool:
    return all(u <= 1.0 for u in _utilization(_resources(record["metrics"]), capacity).values())


def cell_plan(designs: list[dict[str, list[dict]]], capacity: dict) -> str:
    """The plan a cell's designs are compared at: the default one, unless one of its designs does not fit
    the part there and every design synthesized at the default plan was also synthesized at the fit
    planner's (a cell mixes no plans)."""
    default = [[r for r in kinds.get("synth", []) if record_plan(r) == "default"] for kinds in designs]
    fitted = [[r for r in kinds.get("synth", []) if record_plan(r) == "fit"] for kinds in designs]
    overflows = any(not _fits(r, capacity) for recs in default for r in recs)
    complete = all(f for d, f in zip(default, fitted, strict=True) if d) and any(fitted)
    return "fit" if overflows and complete else "default"


def headline_rows(records: list[dict], part: str | None = None, rtl_verified: dict | None = None) -> list[HeadlineRow]:
    """One row per (depth, quant, skip) that has a trained design with an accuracy or a synthesis record.
    ``rtl_verified`` (benchmarks/results/rtl_verified.json: design -> its largest RTL verification run)
    supplies the RTL-verified images where it holds a larger run than the records, named with its commit."""
    from skipless.parts import DEFAULT_PART, get_part

    part_name = part or DEFAULT_PART
    capacity = get_part(part_name).available()
    by_design: dict[tuple, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for rec in latest(records).values():
        vid, method = case_variant(rec["case"]), record_method(rec)
        if vid is None or method is None or vid.skip not in SKIPS:
            continue  # random-weight designs have no accuracy: not part of the answer
        if rec["kind"] == "synth" and (rec.get("params") or {}).get("part", part_name) != part_name:
            continue
        by_design[(vid.depth, vid.quant, vid.skip, method)][rec["kind"]].append(rec)
    rows = []
    cells = sorted({(d, q) for d, q, _, _ in by_design}, key=lambda c: (c[0], c[1]))
    for depth, quant in cells:
        chosen = {}  # skip -> (method, its records by kind)
        for skip in SKIPS:
            methods = [m for m in PREFERRED[skip] if (depth, quant, skip, m) in by_design]
            if methods:
                chosen[skip] = (methods[0], by_design[(depth, quant, skip, methods[0])])
        plan = cell_plan([kinds for _, kinds in chosen.values()], capacity)
        for skip, (method, kinds) in chosen.items():
            kinds = {kind: [r for r in recs if kind == "accuracy" or record_plan(r) == plan] for kind, recs in kinds.items()}
            row = HeadlineRow(depth, quant, skip, f"r{depth}-{skip}-{quant}.{method}", plan=plan)
            for rec in kinds.get("accuracy", []):
                m = rec["metrics"]
                if "test_accuracy" in m:
                    row.accuracy = float(m["test_accuracy"])
            clock_ns = None
            for rec in kinds.get("synth", []):
                m = rec["metrics"]
                clock_ns = (rec.get("params") or {}).get("clock_period")
                row.resources = _resources(m)
                row.part = part_name
                row.utilization = _utilization(row.resources, capacity)
                for key in ("latency_cycles", "latency_us", "interval_cycles"):
                    if key in m and getattr(row, key) is None:
                        setattr(row, key, float(m[key]))
            for rec in kinds.get("cosim", []):
                m, params = rec["metrics"], rec.get("params") or {}
                if "latency_cycles" in m and params.get("gap_prob", 0) == 0 and params.get("stall_prob", 0) == 0:
                    row.latency_cycles = float(m["latency_cycles"])
                if "interval_cycles" in m:
                    row.interval_cycles = float(m["interval_cycles"])
                images = params.get("test_images")
                if images and "rtl_match" in m and (row.rtl_images is None or images > row.rtl_images):
                    row.rtl_images = int(images)
                    row.rtl_mismatches = int(m.get("rtl_mismatches", round(images * (1 - float(m["rtl_match"])))))
            if row.latency_us is None and row.latency_cycles is not None and clock_ns:
                row.latency_us = row.latency_cycles * float(clock_ns) / 1000.0
            run = (rtl_verified or {}).get(rtl_verified_key(row.design, plan=plan))
            if run and run.get("images", 0) > (row.rtl_images or 0):
                row.rtl_images, row.rtl_mismatches = int(run["images"]), int(run.get("mismatches", 0))
                row.rtl_of = ((run.get("provenance") or {}).get("git_commit") or "?")[:7]
            if row.accuracy is None and not row.resources:
                continue
            rows.append(row)
    return rows


def saving(base: float | None, other: float | None) -> float | None:
    """Percent saved by ``other`` against ``base`` (positive: less)."""
    if base is None or other is None or base == 0:
        return None
    return 100.0 * (base - other) / base


def table(rows: list[HeadlineRow]) -> tuple[list[str], list[list[str]]]:
    """The headline table: header and text cells; in brackets the change against the cell's skip design
    (negative: fewer resources), and the accuracy difference to it in points."""
    header = ["depth", "quant", "design", "accuracy %", "Δ acc (pt)", "LUT", "FF", "DSP", "BRAM18", "latency",
              "interval (cycles)", "fits", "RTL-verified images"]
    base = {(r.depth, r.quant): r for r in rows if r.skip == "skip"}
    out = []
    for r in rows:
        b = base.get((r.depth, r.quant))
        delta = None if b is None or b is r or b.accuracy is None or r.accuracy is None else r.accuracy - b.accuracy
        cells = [f"r{r.depth}", r.quant, r.design, _num(r.accuracy, ".2f"), "-" if delta is None else f"{delta:+.2f}"]
        for res in RESOURCES:
            value = r.resources.get(res)
            save = None if b is None or b is r else saving(b.resources.get(res), value)
            cells.append("-" if value is None else f"{value:,.0f}".replace(",", " ") + ("" if save is None else f" ({-save:+.1f} %)"))
        latency = "-" if r.latency_cycles is None else f"{r.latency_cycles:,.0f}".replace(",", " ") + " cycles" + (
            "" if r.latency_us is None else f" = {r.latency_us:.0f} µs")
        rtl = "-" if r.rtl_images is None else f"{r.rtl_images} ({r.rtl_mismatches} mismatches" + (
            f", RTL of {r.rtl_of})" if r.rtl_of else ")")
        cells += [latency, _num(r.interval_cycles, ".0f"), r.fit_text(), rtl]
        out.append(cells)
    return header, out


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def _judged(cell: list[HeadlineRow]) -> list[HeadlineRow]:
    return [r for r in cell if r.accuracy is not None and r.resources.get("lut") is not None]


def winner(cell: list[HeadlineRow]) -> HeadlineRow | None:
    """Among the cell's designs that fit the part, those as accurate as the best of them (within
    ACCURACY_TOLERANCE), the one with the fewest LUTs (then BRAM). Designs without resources or accuracy
    are not judged; a cell with fewer than two judged designs, or where none fits, has no winner."""
    judged = _judged(cell)
    fitting = [r for r in judged if r.fits is not False]
    if len(judged) < 2 or not fitting:
        return None
    best = max(r.accuracy for r in fitting)
    good = [r for r in fitting if r.accuracy >= best - ACCURACY_TOLERANCE]
    return min(good, key=lambda r: (r.resources["lut"], r.resources.get("bram18", 0)))


def verdicts(rows: list[HeadlineRow]) -> list[str]:
    """One line per depth: per quantization, the winner and what removing/shortening costs and saves."""
    lines = []
    for depth in sorted({r.depth for r in rows}):
        parts = []
        for quant in sorted({r.quant for r in rows if r.depth == depth}):
            cell = [r for r in rows if r.depth == depth and r.quant == quant]
            base = next((r for r in cell if r.skip == "skip"), None)
            w = winner(cell)
            bits = []
            for r in cell:
                if r is base or base is None:
                    continue
                what = []
                if r.accuracy is not None and base.accuracy is not None:
                    what.append(f"accuracy {r.accuracy - base.accuracy:+.2f} pt")
                for res in ("lut", "bram18"):
                    s = saving(base.resources.get(res), r.resources.get(res))
                    if s is not None:
                        what.append(f"{res.upper().replace('18', '')} {-s:+.1f} %")
                if what:
                    bits.append(f"{r.skip}: {', '.join(what)}")
            judged = _judged(cell)
            none_fits = len(judged) >= 2 and not any(r.fits for r in judged)
            if w:
                head = f"{quant}: {w.skip} wins"
            elif none_fits:
                head = f"{quant}: no winner (no design fits the part at this plan)"
            else:
                head = f"{quant}: no verdict yet (needs accuracy and synthesis of at least two of skip, noskip and short)"
            some_overflow = any(r.fits is False for r in cell)
            fit = " (not every design fits the part)" if some_overflow and not none_fits else ""
            parts.append(head + (f" ({'; '.join(bits)})" if bits else "") + fit)
        lines.append(f"r{depth}: " + " | ".join(parts))
    return lines
