"""``skipless synth``: synthesize designs in parallel (cached) and print one resource/latency table.

Designs are RTL folders or ids (``r20-noskip-w8a8`` -> ``hls_projects/r20-noskip-w8a8/rtl/`` for the
Yosys flow, ``hls_projects/r20-noskip-w8a8/`` for the vendor flow). Designs that share depth and
quantization (and training method) are printed together, with the savings of ``noskip``/``short``
against ``skip``.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from skipless.errors import SkiplessError
from skipless.provenance import REPO_ROOT

FLOWS = ("yosys", "vendor")
SKIP_ORDER = {"skip": 0, "noskip": 1, "short": 2}
COLUMNS = ("lut", "ff", "dsp", "bram18")


def add_synth_command(sub) -> None:
    """Register ``skipless synth`` on the CLI's subparsers."""
    from skipless.synth.parts import DEFAULT_PART, PARTS

    p = sub.add_parser(
        "synth",
        help="synthesize designs (Yosys on the open RTL, or the vendor HLS flow) and print resources and latency",
        description="Synthesize designs in parallel (cached: an unchanged design is not synthesized again) and "
        "print one table of resources, utilization and latency. An id names hls_projects/<id>/rtl/ (yosys) or "
        "hls_projects/<id>/ (vendor); designs sharing depth and quantization are grouped, with the savings of "
        "noskip/short against skip.",
    )
    p.add_argument("targets", nargs="+", metavar="DIR_OR_ID", help="design folders or ids (r20-noskip-w8a8)")
    p.add_argument("--flow", choices=FLOWS, default="yosys", help="yosys (open RTL) or vendor (Vitis/Vivado HLS)")
    p.add_argument(
        "--part",
        help=f"target part: {', '.join(PARTS)} (default: {DEFAULT_PART} for yosys, the project's part for vendor)",
    )
    p.add_argument("--jobs", type=int, help="designs synthesized at once, one process each (default: one per core)")
    p.add_argument("--force", action="store_true", help="synthesize again even if the report is up to date")
    p.add_argument("--timeout", type=float, help="seconds one Yosys run may take (default: no limit)")
    p.add_argument("--projects-dir", default=str(REPO_ROOT / "hls_projects"), help="where ids are looked up")
    p.add_argument("--json", help="also write all reports of this call into one JSON file")
    p.add_argument("--no-record", action="store_true", help="do not add the reports to the results store (benchmarks/results)")
    p.set_defaults(func=cmd_synth)


def resolve_target(target: str, flow: str, projects_dir: Path | str) -> Path:
    """The folder a DIR_OR_ID names for ``flow``; a SkiplessError saying which command makes it when missing."""
    from skipless import zoo
    from skipless.hls.project import GENERATED_DIR, SETTINGS_FILE
    from skipless.synth.yosys import DESIGN_FILE

    path = Path(target)
    if path.is_dir():
        if flow == "yosys":
            return path / "rtl" if not (path / DESIGN_FILE).exists() and (path / "rtl").is_dir() else path
        return path.parent if path.name == GENERATED_DIR and not (path / SETTINGS_FILE).exists() else path
    if os.sep in target or target.startswith("."):
        raise SkiplessError(f"no folder {target}: give a design folder or an id such as r20-noskip-w8a8")
    zoo.parse_id(target)  # a clear message for a mistyped id
    project = Path(projects_dir) / target
    if flow == "yosys":
        rtl = project / "rtl"
        if not rtl.is_dir():
            raise SkiplessError(f"no RTL design for {target} in {rtl}: run `skipless rtl {target}` first")
        return rtl
    if not project.is_dir():
        raise SkiplessError(f"no hls4ml project for {target} in {project}: run `skipless convert {target}` first")
    return project


def synth_one(flow: str, folder: str, part: str | None, force: bool = False, timeout: float | None = None) -> dict:
    """One design through ``flow`` (a top-level function, so that worker processes can run it)."""
    if flow == "yosys":
        from skipless.synth.parts import DEFAULT_PART
        from skipless.synth.yosys import yosys_synth

        return yosys_synth(folder, part or DEFAULT_PART, force=force, timeout=timeout)
    if flow == "vendor":
        from skipless.synth.vendor import vendor_flow

        return vendor_flow(folder, part=part, force=force)
    raise SkiplessError(f"unknown flow {flow!r}: use one of {', '.join(FLOWS)}")


def synth_many(flow: str, folders: list[Path], part: str | None, jobs: int, force: bool = False,
               timeout: float | None = None) -> tuple[list[dict], list[str]]:
    """Reports of every design (in the given order) and the errors of those that failed."""
    if jobs < 1:
        raise SkiplessError(f"--jobs must be >= 1, got {jobs}")
    results: dict[int, dict] = {}
    errors: dict[int, str] = {}
    if jobs == 1 or len(folders) == 1:
        for i, folder in enumerate(folders):
            try:
                results[i] = synth_one(flow, str(folder), part, force, timeout)
            except SkiplessError as e:
                errors[i] = f"{folder}: {e}"
    else:
        with ProcessPoolExecutor(max_workers=min(jobs, len(folders))) as pool:
            futures = {pool.submit(synth_one, flow, str(f), part, force, timeout): i for i, f in enumerate(folders)}
            for future in as_completed(futures):
                i = futures[future]
                try:
                    results[i] = future.result()
                except SkiplessError as e:
                    errors[i] = f"{folders[i]}: {e}"
    return [results[i] for i in sorted(results)], [errors[i] for i in sorted(errors)]


# ---------------------------------------------------------------- the table


def _group_key(design_id: str):
    """(depth, quant, method) and the skip token of a variant id; None for other names."""
    from skipless import zoo

    try:
        vid = zoo.parse_id(design_id)
    except SkiplessError:
        return None, None
    return (vid.depth, vid.quant, vid.method or ""), vid.skip


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


def render_table(reports: list[dict]) -> str:
    """The table ``skipless synth`` prints: one row per design, grouped by depth + quant, savings vs skip."""
    parts = sorted({r["part"] for r in reports})
    flows = sorted({r["flow"] for r in reports})
    head = (f"{'design':28s} {'LUT':>9s} {'FF':>9s} {'DSP':>6s} {'BRAM18':>7s} "
            f"{'LUT%':>6s} {'FF%':>6s} {'DSP%':>6s} {'BRAM%':>6s} {'cycles':>9s} {'us':>9s}")
    lines = [f"{', '.join(flows)} synthesis; utilization in % of {', '.join(parts)}", head, "-" * len(head)]

    groups: dict = {}
    for r in reports:
        key, skip = _group_key(r["id"])
        groups.setdefault(key if key is not None else ("", r["id"], ""), []).append((skip, r))
    for key in sorted(groups, key=str):
        rows = sorted(groups[key], key=lambda sr: (SKIP_ORDER.get(sr[0], 9), sr[1]["id"]))
        base = next((r for s, r in rows if s == "skip"), None)
        for skip, r in rows:
            res, util, lat = r["resources"], r["utilization"], r["latency"]
            name = r["id"] + (f" [{r['part']}]" if len(parts) > 1 else "")
            lines.append(
                f"{name:28s} {_fmt(res['lut']):>9s} {_fmt(res['ff']):>9s} {_fmt(res['dsp']):>6s} "
                f"{_fmt(res['bram18']):>7s} {_fmt(util['lut'], True):>6s} {_fmt(util['ff'], True):>6s} "
                f"{_fmt(util['dsp'], True):>6s} {_fmt(util['bram18'], True):>6s} "
                f"{_fmt(lat['cycles']):>9s} {_fmt(lat['us']):>9s}"
            )
            if base is not None and skip in ("noskip", "short"):
                cells = [saving(base["resources"][c], res[c]) for c in COLUMNS]
                lat_saving = saving(base["latency"]["cycles"], lat["cycles"])
                text = "  ".join(
                    f"{c.upper()} {'-' if v is None else f'{v:+.1f}%'}" for c, v in zip(COLUMNS, cells, strict=True)
                )
                lat_text = "-" if lat_saving is None else f"{lat_saving:+.1f}%"
                lines.append(f"    saves vs {base['id']}: {text}  latency {lat_text}")
        if len(groups) > 1:
            lines.append("")
    if "yosys" in flows:
        lines.append("yosys: estimates from Yosys synth_xilinx, not Vivado sign-off; no timing. "
                     "Latency from co-simulation (- = not co-simulated yet).")
    return "\n".join(lines).rstrip() + "\n"


def cmd_synth(args) -> int:
    folders: list[Path] = []
    for target in args.targets:
        folder = resolve_target(target, args.flow, args.projects_dir)
        if folder.resolve() not in {f.resolve() for f in folders}:
            folders.append(folder)
    if args.part is not None:
        from skipless.synth.parts import get_part

        get_part(args.part)  # fail before any work
    jobs = args.jobs if args.jobs is not None else min(len(folders), os.cpu_count() or 1)
    reports, errors = synth_many(args.flow, folders, args.part, jobs, force=args.force, timeout=args.timeout)
    if reports:
        print(render_table(reports), end="")
    if reports and args.json:
        import json

        out = Path(args.json)
        tmp = out.with_suffix(out.suffix + ".tmp")
        tmp.write_text(json.dumps({"reports": reports}, indent=2, default=str) + "\n")
        os.replace(tmp, out)
    if reports and not args.no_record:
        from skipless.bench.adapters import synth_record
        from skipless.bench.store import save

        for report in reports:
            save(synth_record(report))
    if errors:
        raise SkiplessError(f"{len(errors)} of {len(folders)} designs failed: " + "; ".join(errors))
    return 0
