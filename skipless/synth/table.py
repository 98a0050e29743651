"""The table `skipless synth` prints: one row per design, grouped by depth and quantization, with
the savings of noskip/short against skip."""

from __future__ import annotations

from skipless.errors import SkiplessError
from skipless.rtl.cost import row_name

SKIP_ORDER = {"skip": 0, "noskip": 1, "short": 2}
COLUMNS = ("lut", "ff", "dsp", "bram18")


def _group_key(report: dict):
    """((depth, quant, plan), training method, skip token) of a report's variant id; (None, None, None) for
    other names. The plan keeps a fitted design (`skipless rtl --fit`) apart from the default one of the
    same network: savings compare designs of one plan."""
    from skipless import zoo

    try:
        vid = zoo.parse_id(report["id"])
    except SkiplessError:
        return None, None, None
    return (vid.depth, vid.quant, report.get("plan", "default")), vid.method or "", vid.skip


def _baseline(rows: list[tuple[str, str, dict]], method: str) -> dict | None:
    """The skip design a noskip/short design is compared with, within one depth + quant: the one trained
    the same way (the untrained `.normal` designs), else the only skip design there is (the trained grid,
    where each skip mode has its own method: `.qat`, `.iter-kept`, `.shorten`), else none."""
    skips = [r for m, s, r in rows if s == "skip"]
    same = [r for m, s, r in rows if s == "skip" and m == method]
    if same:
        return same[0]
    return skips[0] if len(skips) == 1 else None


def _fmt(value, pct: bool = False) -> str:
    if value is None:
        return "-"
    if pct:
        return f"{value:.2f}"
    return f"{value:,}" if isinstance(value, int) else f"{value:,.2f}"


def saving(skip_value, other_value) -> float | None:
    """% of the skip design's count that the other design saves (negative: it uses more)."""
    if skip_value is None or other_value is None or skip_value == 0:
        return None
    return 100.0 * (skip_value - other_value) / skip_value


def fmax_estimate(report: dict) -> float | None:
    """The estimated Fmax in MHz: skipless's timing estimate (Yosys), or 1000 / the HLS tool's estimated
    clock (vendor flows); None when there is none."""
    timing = report.get("timing") or {}
    if timing.get("fmax_mhz") is not None:
        return timing["fmax_mhz"]
    ns = timing.get("estimated_ns")
    return round(1000.0 / ns, 1) if ns else None


def render_table(reports: list[dict]) -> str:
    """The table ``skipless synth`` prints: one row per design, grouped by depth + quant, savings vs skip."""
    parts = sorted({r["part"] for r in reports})
    flows = sorted({r["flow"] for r in reports})
    head = (f"{'design':28s} {'LUT':>9s} {'FF':>9s} {'DSP':>6s} {'BRAM18':>7s} "
            f"{'LUT%':>6s} {'FF%':>6s} {'DSP%':>6s} {'BRAM%':>6s} {'cycles':>9s} {'us':>9s} {'MHz est':>8s}")
    lines = [f"{', '.join(flows)} synthesis; utilization in % of {', '.join(parts)}", head, "-" * len(head)]

    groups: dict = {}
    for r in reports:
        key, method, skip = _group_key(r)
        groups.setdefault(key if key is not None else ("", r["id"]), []).append((method, skip, r))
    for key in sorted(groups, key=str):
        rows = sorted(groups[key], key=lambda msr: (SKIP_ORDER.get(msr[1], 9), msr[2]["id"]))
        for method, skip, r in rows:
            base = _baseline(rows, method) if skip in ("noskip", "short") else None
            res, util, lat = r["resources"], r["utilization"], r["latency"]
            name = row_name(r) + (f" [{r['part']}]" if len(parts) > 1 else "")
            lines.append(
                f"{name:28s} {_fmt(res['lut']):>9s} {_fmt(res['ff']):>9s} {_fmt(res['dsp']):>6s} "
                f"{_fmt(res['bram18']):>7s} {_fmt(util['lut'], True):>6s} {_fmt(util['ff'], True):>6s} "
                f"{_fmt(util['dsp'], True):>6s} {_fmt(util['bram18'], True):>6s} "
                f"{_fmt(lat['cycles']):>9s} {_fmt(lat['us']):>9s} {_fmt(fmax_estimate(r)):>8s}"
            )
            if base is not None:
                cells = [saving(base["resources"][c], res[c]) for c in COLUMNS]
                lat_saving = saving(base["latency"]["cycles"], lat["cycles"])
                text = "  ".join(
                    f"{c.upper()} {'-' if v is None else f'{v:+.1f}%'}" for c, v in zip(COLUMNS, cells, strict=True)
                )
                lat_text = "-" if lat_saving is None else f"{lat_saving:+.1f}%"
                lines.append(f"    saves vs {row_name(base)}: {text}  latency {lat_text}")
        if len(groups) > 1:
            lines.append("")
    if "yosys" in flows:
        lines.append("yosys: estimates from Yosys synth_xilinx, not Vivado sign-off; MHz est is skipless's "
                     "placement-free timing estimate (optimistic). Latency from co-simulation (- = not co-simulated yet).")
    return "\n".join(lines).rstrip() + "\n"


