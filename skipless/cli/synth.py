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

from skipless import workspace
from skipless.cli.common import Formatter
from skipless.errors import SkiplessError

FLOWS = ("yosys", "vendor")


def register(sub) -> None:
    """Register ``skipless synth`` on the CLI's subparsers."""
    from skipless.parts import DEFAULT_PART, PARTS

    p = sub.add_parser(
        "synth", formatter_class=Formatter,
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
    p.add_argument("--projects-dir", help="where ids are looked up (default: the workspace's hls_projects/)")
    p.add_argument("--json", help="also write all reports of this call into one JSON file")
    p.add_argument("--no-record", action="store_true", help="do not add the reports to the results store (benchmarks/results)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--check-cost", action="store_true",
                   help="print the planner's resource model (the calibration in use) against these Yosys reports, from "
                        "the features each design.json recorded, and its error on each calibration row left out of the fit")
    p.add_argument("--calibrate-cost", action="store_true",
                   help="refit the planner's resource model to these Yosys reports (written to the workspace's benchmarks/results/cost_calibration.json, read before the shipped one)")
    p.set_defaults(func=cmd_synth)


def resolve_target(target: str, flow: str, projects_dir: Path | str) -> Path:
    """The folder a DIR_OR_ID names for ``flow``; a SkiplessError saying which command makes it when missing."""
    from skipless import zoo
    from skipless.hls.project import GENERATED_DIR, SETTINGS_FILE
    from skipless.rtl.design import DESIGN_FILE

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
        from skipless.parts import DEFAULT_PART
        from skipless.synth.yosys import yosys_synth

        return yosys_synth(folder, part or DEFAULT_PART, force=force, timeout=timeout)
    if flow == "vendor":
        from skipless.synth.vendor import vendor_flow

        return vendor_flow(folder, part=part, force=force)
    raise SkiplessError(f"unknown flow {flow!r}: use one of {', '.join(FLOWS)}")


def synth_many(flow: str, folders: list[Path], part: str | None, jobs: int, force: bool = False,
               timeout: float | None = None, progress=None) -> tuple[list[dict], list[str]]:
    """Reports of every design (in the given order) and the errors of those that failed;
    ``progress(designs_done, designs_total)`` after each design."""
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
            if progress:
                progress(len(results) + len(errors), len(folders))
    else:
        with ProcessPoolExecutor(max_workers=min(jobs, len(folders))) as pool:
            futures = {pool.submit(synth_one, flow, str(f), part, force, timeout): i for i, f in enumerate(folders)}
            for future in as_completed(futures):
                i = futures[future]
                try:
                    results[i] = future.result()
                except SkiplessError as e:
                    errors[i] = f"{folders[i]}: {e}"
                if progress:
                    progress(len(results) + len(errors), len(folders))
    return [results[i] for i in sorted(results)], [errors[i] for i in sorted(errors)]


def cmd_synth(args) -> int:
    folders: list[Path] = []
    for target in args.targets:
        folder = resolve_target(target, args.flow, args.projects_dir or workspace.current().hls_projects)
        if folder.resolve() not in {f.resolve() for f in folders}:
            folders.append(folder)
    if args.part is not None:
        from skipless.parts import get_part

        get_part(args.part)  # fail before any work
    jobs = args.jobs if args.jobs is not None else min(len(folders), os.cpu_count() or 1)
    from skipless.cli.common import Progress

    with Progress("synthesis", args.quiet, unit="design") as progress:
        reports, errors = synth_many(args.flow, folders, args.part, jobs, force=args.force, timeout=args.timeout,
                                     progress=progress)
    if reports:
        from skipless.synth.table import render_table

        print(render_table(reports), end="")
    if reports and args.json:
        from skipless.fileio import write_json

        write_json(args.json, {"reports": reports}, indent=2)
    if reports and not args.no_record:
        from skipless.bench.adapters import synth_record
        from skipless.bench.store import save

        for report in reports:
            save(synth_record(report))
    if errors:
        raise SkiplessError(f"{len(errors)} of {len(folders)} designs failed: " + "; ".join(errors))
    if args.check_cost:
        from skipless.rtl import cost
        from skipless.rtl.design import RTLDesign

        pairs = [(r, RTLDesign.load(folder).info) for r, folder in zip(reports, folders, strict=True) if r["flow"] == "yosys"]
        print(cost.error_table(f"resource model ({cost.calibration_label()}) against these Yosys reports:",
                               cost.against_reports(pairs)), end="")
        print(cost.error_table("the same model on each of its calibration rows, fitted without it:", cost.leave_one_out()), end="")
    if args.calibrate_cost:
        from skipless.rtl.cost import write_calibration
        from skipless.rtl.design import RTLDesign

        path = write_calibration([(r, RTLDesign.load(folder).info) for r, folder in zip(reports, folders, strict=True)])
        print(f"resource model refitted to {len(reports)} Yosys reports: {path}")
    return 0
