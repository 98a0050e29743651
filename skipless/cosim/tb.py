"""The cocotb testbench (cocotb 2.x): streams images into a design and collects its outputs.

Run by :func:`skipless.cosim.cosim` through ``cocotb_tools.runner``; it reads its job from the JSON
file named by ``SKIPLESS_COSIM_JOB`` and writes the outcome next to it. It drives the ports of a
Vitis HLS ``io_stream`` top (``ap_clk``, ``ap_rst_n``, ``<in>_TDATA/_TVALID/_TREADY``,
``<out>_TDATA/_TVALID/_TREADY``; ``ap_start`` held high when the design has one), so the open RTL and
the vendor's RTL are driven the same way.

Handshakes are decided at falling edges (inputs settled) and take effect at the next rising edge.
Random gaps on the input and back-pressure on the output are drawn from a seeded generator. While a
port waits, the testbench sleeps on the port's value change instead of waking every cycle.
A watchdog fails the run with "stalled: no output for M cycles; ..." naming the cause found by
:class:`skipless.cosim.stall.CounterWatch` (an undersized skip FIFO, or the layer that moved last).
This is the per-beat bench (``bench="python"``); the fast one is :mod:`skipless.cosim.hdl_bench`.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge, Timer
from cocotb.utils import get_sim_time

from skipless.cosim.stall import CounterWatch
from skipless.fixed import pack_lanes, unpack_lanes

SIM_PERIOD_NS = 10


class Bench:
    def __init__(self, dut, job: dict):
        self.dut, self.job = dut, job
        self.period = SIM_PERIOD_NS  # cycles are what is measured; µs come from the design's clock
        self.rng = np.random.default_rng(job["seed"])
        ins, outs = job["interface"]["input"], job["interface"]["output"]
        self.in_spec, self.out_spec = ins, outs
        self.i_data, self.i_valid, self.i_ready = (getattr(dut, f"{ins['port']}_{s}") for s in ("TDATA", "TVALID", "TREADY"))
        self.o_data, self.o_valid, self.o_ready = (getattr(dut, f"{outs['port']}_{s}") for s in ("TDATA", "TVALID", "TREADY"))
        self.t0 = 0.0
        self.first_in: list[int] = []
        self.last_out: list[int] = []
        self.outputs: list[list[list[int]]] = []
        self.last_output_cycle = 0
        self.done = False
        self.watch = CounterWatch(dut, job.get("streams", []), job.get("fifos", []))

    def cycle(self) -> int:
        return int(round((get_sim_time("ns") - self.t0) / self.period))

    async def drive(self, images: np.ndarray) -> None:
        gap = float(self.job["gap_prob"])
        width = self.in_spec["width"]
        for image in images:
            for b, beat in enumerate(image):
                if gap and self.rng.random() < gap:
                    self.i_valid.value = 0
                    for _ in range(int(self.rng.integers(1, 4))):
                        await FallingEdge(self.dut.ap_clk)
                self.i_data.value = pack_lanes(beat, width)
                self.i_valid.value = 1
                while True:
                    await ReadOnly()
                    if int(self.i_ready.value):
                        break
                    await RisingEdge(self.i_ready)
                    await FallingEdge(self.dut.ap_clk)
                if b == 0:
                    self.first_in.append(self.cycle() + 1)  # transfers at the coming rising edge
                await FallingEdge(self.dut.ap_clk)
        self.i_valid.value = 0

    async def collect(self, n_images: int) -> None:
        stall = float(self.job["stall_prob"])
        spec = self.out_spec
        beats = spec["beats_per_image"]
        for _ in range(n_images):
            image = []
            while len(image) < beats:
                hold = stall and self.rng.random() < stall
                self.o_ready.value = 0 if hold else 1
                await ReadOnly()
                if not hold and int(self.o_valid.value):
                    word = self.o_data.value.to_unsigned()
                    image.append(unpack_lanes(word, spec["channels"], spec["width"], spec["signed"]))
                    self.last_output_cycle = self.cycle() + 1
                elif not hold:
                    await RisingEdge(self.o_valid)
                await FallingEdge(self.dut.ap_clk)
            self.outputs.append(image)
            self.last_out.append(self.last_output_cycle)
        self.o_ready.value = 0
        self.done = True

    async def probe(self, stream: dict, words: list[int]) -> None:
        """Record every beat of an internal stream (a debugging aid: it wakes every cycle)."""
        sig = stream["signal"]
        data, valid, ready = (getattr(self.dut, f"{sig}_{s}") for s in ("data", "valid", "ready"))
        while not self.done:
            await FallingEdge(self.dut.ap_clk)
            await ReadOnly()
            if int(valid.value) and int(ready.value):
                words.append(data.value.to_unsigned())

    async def watchdog(self) -> str | None:
        limit = int(self.job["watchdog_cycles"])
        step = max(1, limit // 8)
        while not self.done:
            await Timer(step * self.period, unit="ns")
            self.watch.sample(self.cycle())
            if not self.done and self.cycle() - self.last_output_cycle > limit:
                return f"stalled: no output for {limit} cycles; {self.watch.diagnose()}"
        return None


@cocotb.test()
async def stream_images(dut):
    job_path = Path(os.environ["SKIPLESS_COSIM_JOB"])
    job = json.loads(job_path.read_text())
    images = np.load(job["inputs"])  # (N, beats, channels) mantissas
    bench = Bench(dut, job)
    wall = time.perf_counter()
    cocotb.start_soon(Clock(dut.ap_clk, bench.period, unit="ns").start())
    if hasattr(dut, "ap_start"):
        dut.ap_start.value = 1
    bench.i_valid.value = 0
    bench.o_ready.value = 0
    dut.ap_rst_n.value = 0
    for _ in range(8):
        await RisingEdge(dut.ap_clk)
    dut.ap_rst_n.value = 1
    await FallingEdge(dut.ap_clk)
    bench.t0 = get_sim_time("ns") - bench.period / 2  # cycle 0 = the first rising edge after reset
    probes = {s["stream"]: [] for s in job.get("streams", []) if s["stream"] in job.get("probes", [])}
    for s in job.get("streams", []):
        if s["stream"] in probes:
            cocotb.start_soon(bench.probe(s, probes[s["stream"]]))
    cocotb.start_soon(bench.drive(images))
    collector = cocotb.start_soon(bench.collect(len(images)))
    watchdog = cocotb.start_soon(bench.watchdog())
    stalled = await cocotb.triggers.First(collector, watchdog)
    wall = time.perf_counter() - wall
    result = {
        "outputs": bench.outputs,
        "first_in": bench.first_in,
        "last_out": bench.last_out,
        "cycles": bench.cycle(),
        "wall_s": wall,
        "error": stalled if isinstance(stalled, str) else None,
        "probes": {k: [str(w) for w in v] for k, v in probes.items()},
        "beats": bench.watch.beats(),
    }
    tmp = job_path.with_name(job_path.stem + ".result.json.tmp")
    tmp.write_text(json.dumps(result))
    os.replace(tmp, job_path.with_name(job_path.stem + ".result.json"))
    assert result["error"] is None, result["error"]
