"""The cocotb test of the fast co-simulation: start the HDL bench, wait for it, watch for stalls.

The beat-level work happens in ``skl_tb`` (:mod:`skipless.cosim.hdl_bench`). This test only
(optionally) drives the clock, then sleeps in long steps until the bench raises ``done``. At each
step it samples the bench's ``idle`` count and, for the open RTL, the per-stream beat counters; when
the design has offered no output beat for ``watchdog_cycles`` it stops the run with a diagnosis
(:meth:`skipless.cosim.stall.CounterWatch.diagnose`): an undersized skip FIFO, or the layer that moved last.
The outcome goes to ``<job>.result.json`` (written atomically).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import First, ReadOnly, RisingEdge, Timer

from skipless.cosim.hdl_bench import HALF_PERIOD
from skipless.cosim.stall import CounterWatch


@cocotb.test()
async def run_hdl_bench(dut):
    job_path = Path(os.environ["SKIPLESS_COSIM_JOB"])
    job = json.loads(job_path.read_text())
    wall = time.perf_counter()
    if not job["hdl_clock"]:
        cocotb.start_soon(Clock(dut.ap_clk, 2 * HALF_PERIOD, unit="ns").start())
    limit = int(job["watchdog_cycles"])
    step = max(1000, limit // 8)
    try:
        inner = dut.u_dut  # visible to VPI only when the design marks signals public (the open RTL's counters)
    except AttributeError:
        inner = None
    watch = CounterWatch(inner, job["streams"], job["fifos"])
    error = None
    while not int(dut.done.value):
        await First(RisingEdge(dut.done), Timer(step * 2 * HALF_PERIOD, unit="ns"))
        watch.sample(int(dut.cycle.value))
        # idle: cycles since the design last offered an output beat; the bench's own back-pressure
        # (TVALID high, TREADY low) is not the design's stall
        if int(dut.idle.value) > limit and not int(dut.done.value):
            error = f"stalled: no output for {limit} cycles; {watch.diagnose()}"
            break
    # read the count once this time step has settled: `done` and `cycle` change at the same edge, and
    # simulators differ in whether a trigger on `done` sees `cycle` before or after its update
    await ReadOnly()
    result = {"wall_s": time.perf_counter() - wall, "cycles": int(dut.cycle.value), "error": error,
              "beats": watch.beats()}
    tmp = job_path.with_name(job_path.stem + ".result.json.tmp")
    tmp.write_text(json.dumps(result))
    os.replace(tmp, job_path.with_name(job_path.stem + ".result.json"))
