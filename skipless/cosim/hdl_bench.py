"""The HDL testbench of the fast co-simulation: stimulus, capture and protocol checks in Verilog.

The old testbench woke Python for every input and output beat (1 024 wake-ups per ResNet-8 image),
and cocotb's runner made every signal public. Here one generated module, ``skl_tb``, does the
beat-level work in the simulator:

* a **source** reads the job's input beats from a text file (one hex TDATA word per line, read as
  needed: no memory bound on the test set) and drives ``<in>_TDATA/_TVALID`` with seeded random gaps
  (1-3 cycles before a beat, with probability ``gap``);
* a **sink** drives ``<out>_TREADY`` with seeded random back-pressure (probability ``stall`` per
  cycle) and long bursts of it: after the first stressed output beat TREADY stays low until the
  back-pressure has reached the input (the design refused an offered input beat for ``fill``
  cycles in a row, one image interval: every stage of the pipeline is full and holds its beats), or
  the input has run out, or ``burst0`` cycles have passed; after an accepted beat, with probability ``burstp``, it
  stays low for ``burst``/2 to 3 ``burst``/2 cycles. It writes every output beat with its cycle to
  a text file;
* a **protocol checker** on the output port: TVALID held and TDATA unchanged while TVALID && !TREADY,
  no X/Z on TDATA while TVALID, and exactly the expected number of output beats (extra beats are
  caught in a drain period after the last expected one);
* the first ``clean`` images run without gaps or back-pressure, so latency and interval are
  measured on them even when the rest of the run stresses the handshakes.

Random draws come from two xorshift32 generators seeded from ``seed``, so Verilator and Icarus see
the same gaps and stalls. The module fits any Vitis-style ``io_stream`` top (``ap_clk``,
``ap_rst_n``, ``<port>_TDATA/_TVALID/_TREADY``, ``ap_start`` held high if present), the vendor's RTL
included. Run-time values come as plusargs, so one build serves every job:

    +in=FILE +out=FILE +images=N +seed=S +gap=G +stall=T +clean=K +burst=B +burst0=B0 +burstp=P +fill=F [+finish=1]
    (G, T, P: probability x 65536; B, B0, F: cycles; +finish=1: $finish when done, for a run without cocotb)

The output file has one line per event: ``i <cycle>`` (first input beat of an image accepted),
``o <cycle> <hex>`` (an output beat accepted), ``E <message>`` (a protocol error), ``d <cycle>`` (done).
Signals the cocotb side reads (``done``, ``cycle``, ``out_beats``, ``idle``) are marked public for
Verilator; nothing else is. ``idle`` counts the cycles since the design last offered an output beat
(TVALID high): the stall watchdog judges the design by it, so the bench's own long stretches of
back-pressure (TVALID high, TREADY low) never count as a stall.
"""

from __future__ import annotations

import re
from pathlib import Path

from skipless.errors import SkiplessError

BENCH_TOP = "skl_tb"
DRAIN_CYCLES = 256  # after the last expected output beat: any further beat is an error
HALF_PERIOD = 5  # ns; cycles are what is measured, microseconds come from the design's clock


def top_ports(design) -> set[str]:
    """The port names of the design's top module, read from its Verilog header."""
    pattern = re.compile(rf"\bmodule\s+{re.escape(design.top)}\b\s*(?:#\s*\(.*?\)\s*)?\((.*?)\);", re.S)
    for path in design.files:
        m = pattern.search(Path(path).read_text(errors="replace"))
        if m:
            header = re.sub(r"//[^\n]*|/\*.*?\*/", "", m.group(1), flags=re.S)
            return set(re.findall(r"([A-Za-z_][A-Za-z0-9_$]*)\s*(?:,|$)", header.replace("\n", " ") + ","))
    raise SkiplessError(f"{design.path}: no module {design.top!r} in the design's files; regenerate the design")


def check_ports(design) -> bool:
    """Raise unless the top has the ports of a Vitis io_stream top; returns whether it has ap_start."""
    ports = top_ports(design)
    iface = design.info["interface"]
    wanted = ["ap_clk", "ap_rst_n"] + [f"{iface[side]['port']}_{sig}" for side in ("input", "output") for sig in ("TDATA", "TVALID", "TREADY")]
    missing = [p for p in wanted if p not in ports]
    if missing:
        raise SkiplessError(
            f"the top module {design.top!r} of {design.path} lacks the port(s) {', '.join(missing)} "
            f"(it has {', '.join(sorted(ports)) or 'none'}): the co-simulation drives Vitis-style io_stream tops "
            "(ap_clk, ap_rst_n, <in>_TDATA/_TVALID/_TREADY, <out>_TDATA/_TVALID/_TREADY)"
        )
    return "ap_start" in ports


def bench_verilog(design, hdl_clock: bool = True) -> str:
    """The ``skl_tb`` module for ``design`` (an RTLDesign). With ``hdl_clock`` the clock is an HDL
    ``always`` block (Verilator needs ``--timing``); otherwise the cocotb test drives ``ap_clk``."""
    has_start = check_ports(design)
    iface = design.info["interface"]
    i, o = iface["input"], iface["output"]
    ip, op = i["port"], o["port"]
    in_w, out_w = i["tdata_width"], o["tdata_width"]
    in_beats, out_beats = i["beats_per_image"], o["beats_per_image"]
    clock = (f"    always #{HALF_PERIOD} ap_clk = ~ap_clk;\n" if hdl_clock else "")
    start = "        .ap_start(1'b1),\n" if has_start else ""
    return f"""// skl_tb: HDL testbench of {design.top} (generated by skipless.cosim.hdl_bench; do not edit)
`timescale 1ns/1ns
module {BENCH_TOP};
    localparam integer IN_W = {in_w};
    localparam integer OUT_W = {out_w};
    localparam integer IN_BEATS = {in_beats};
    localparam integer OUT_BEATS = {out_beats};
    localparam integer DRAIN = {DRAIN_CYCLES};

    reg ap_clk /*verilator public_flat_rw*/ = 1'b0;
    reg ap_rst_n = 1'b0;
{clock}
    reg  [IN_W-1:0]  in_data = {{IN_W{{1'b0}}}};
    reg              in_valid = 1'b0;
    wire             in_ready;
    wire [OUT_W-1:0] out_data;
    wire             out_valid;
    reg              out_ready = 1'b0;

    {design.top} u_dut (
        .ap_clk(ap_clk),
        .ap_rst_n(ap_rst_n),
{start}        .{ip}_TDATA(in_data),
        .{ip}_TVALID(in_valid),
        .{ip}_TREADY(in_ready),
        .{op}_TDATA(out_data),
        .{op}_TVALID(out_valid),
        .{op}_TREADY(out_ready)
    );

    // ---- job (plusargs) -----------------------------------------------------------------
    reg [8*4096-1:0] in_path;
    reg [8*4096-1:0] out_path;
    integer fin;
    integer fout;
    integer n_images;
    integer seed;
    integer gap_t;
    integer stall_t;
    integer clean;
    integer burst_max;
    integer burst_first;
    integer burst_t;
    integer fill_t;
    integer finish_t;
    integer status;
    initial begin
        n_images = 0; seed = 0; gap_t = 0; stall_t = 0; clean = 0; burst_max = 0; burst_first = 0; burst_t = 0; fill_t = 0;
        finish_t = 0;
        if (!$value$plusargs("in=%s", in_path) || !$value$plusargs("out=%s", out_path)) begin
            $display("skl_tb: +in=FILE and +out=FILE are required");
            $finish;
        end
        status = $value$plusargs("images=%d", n_images);
        status = $value$plusargs("seed=%d", seed);
        status = $value$plusargs("gap=%d", gap_t);
        status = $value$plusargs("stall=%d", stall_t);
        status = $value$plusargs("clean=%d", clean);
        status = $value$plusargs("burst=%d", burst_max);
        status = $value$plusargs("burstp=%d", burst_t);
        status = $value$plusargs("burst0=%d", burst_first);
        status = $value$plusargs("fill=%d", fill_t);
        status = $value$plusargs("finish=%d", finish_t);
        fin = $fopen(in_path, "r");
        fout = $fopen(out_path, "w");
        if (fin == 0 || fout == 0) begin
            $display("skl_tb: cannot open the job files");
            $finish;
        end
    end

    // ---- state the cocotb side reads ----------------------------------------------------
    reg        done /*verilator public_flat_rd*/ = 1'b0;
    reg [63:0] cycle /*verilator public_flat_rd*/ = 64'd0;
    reg [63:0] out_beats /*verilator public_flat_rd*/ = 64'd0;
    reg [63:0] idle /*verilator public_flat_rd*/ = 64'd0;  // cycles since TVALID was last high

    // ---- seeded random draws (xorshift32; the same sequence on every simulator) ----------
    reg [31:0] rng_src = 32'h1;
    reg [31:0] rng_snk = 32'h2;
    function [31:0] xorshift(input [31:0] x);
        reg [31:0] y;
        begin
            y = x ^ (x << 13);
            y = y ^ (y >> 17);
            xorshift = y ^ (y << 5);
        end
    endfunction

    // ---- reset --------------------------------------------------------------------------
    integer reset_cycles = 0;
    always @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            reset_cycles <= reset_cycles + 1;
            if (reset_cycles == 0) begin
                rng_src <= 32'h9E3779B9 ^ (seed * 2 + 1);
                rng_snk <= 32'h85EBCA6B ^ (seed * 2 + 2);
            end
            if (reset_cycles == 7) ap_rst_n <= 1'b1;
        end
    end

    // ---- source ---------------------------------------------------------------------------
    integer in_beat = 0;   // beats of the current image accepted so far
    integer in_image = 0;  // images fully accepted
    integer in_image_q = 0;  // the same, as of the last edge: what the sink reads (no race between the blocks)
    integer gap_left = 0;
    reg gap_drawn = 1'b0;  // the next beat already had its draw for a gap
    reg [IN_W-1:0] word;
    integer in_blocked = 0;  // cycles in a row the design refused an offered input beat
    always @(posedge ap_clk) begin
        if (ap_rst_n && !done) begin
            cycle <= cycle + 64'd1;
            in_blocked <= (in_valid && !in_ready) ? in_blocked + 1 : 0;
            if (in_valid && in_ready) begin
                if (in_beat == 0) $fwrite(fout, "i %0d\\n", cycle);
                in_beat = in_beat + 1;
                if (in_beat == IN_BEATS) begin
                    in_beat = 0;
                    in_image = in_image + 1;
                end
            end
            in_image_q <= in_image;
            if (!in_valid || in_ready) begin
                if (in_image >= n_images) begin
                    in_valid <= 1'b0;
                end else if (gap_left > 0) begin
                    gap_left = gap_left - 1;
                    in_valid <= 1'b0;
                end else begin
                    rng_src <= xorshift(rng_src);
                    if (in_image >= clean && !gap_drawn && (rng_src[15:0] < gap_t)) begin
                        gap_left = rng_src[17:16] % 3;  // a gap of 1..3 cycles before this beat
                        gap_drawn = 1'b1;
                        in_valid <= 1'b0;
                    end else begin
                        gap_drawn = 1'b0;
                        status = $fscanf(fin, "%h\\n", word);
                        if (status != 1) begin
                            $fwrite(fout, "E the input file ended after %0d images; the job promised %0d\\n", in_image, n_images);
                            done <= 1'b1;
                        end
                        in_data <= word;
                        in_valid <= 1'b1;
                    end
                end
            end
        end
    end

    // ---- sink and protocol checker ----------------------------------------------------------
    reg               waited = 1'b0;  // last cycle: TVALID && !TREADY
    reg [OUT_W-1:0]   waited_data;
    integer           drain = 0;
    integer           burst_left = 0;
    reg               burst_armed = 1'b1;  // the first stressed beat always starts a burst ...
    reg               filling = 1'b0;      // ... that lasts until the back-pressure reaches the input
    wire [63:0]       expected = n_images * OUT_BEATS;
    always @(posedge ap_clk) begin
        if (ap_rst_n && !done) begin
            if (waited && !out_valid) begin
                $fwrite(fout, "E protocol: {op}_TVALID dropped at cycle %0d before the beat was accepted\\n", cycle);
                done <= 1'b1;
            end
            if (waited && out_valid && out_data !== waited_data) begin
                $fwrite(fout, "E protocol: {op}_TDATA changed at cycle %0d while TVALID was high and TREADY low\\n", cycle);
                done <= 1'b1;
            end
            if (out_valid && ^out_data === 1'bx) begin
                $fwrite(fout, "E protocol: {op}_TDATA holds X or Z bits while TVALID is high at cycle %0d\\n", cycle);
                done <= 1'b1;
            end
            if (out_valid && out_ready) begin
                if (out_beats >= expected) begin
                    $fwrite(fout, "E protocol: an extra output beat at cycle %0d after the %0d expected (%0d images x %0d)\\n",
                            cycle, expected, n_images, OUT_BEATS);
                    done <= 1'b1;
                end
                $fwrite(fout, "o %0d %h\\n", cycle, out_data);
                out_beats <= out_beats + 64'd1;
            end
            waited <= out_valid && !out_ready;
            idle <= out_valid ? 64'd0 : idle + 64'd1;
            waited_data <= out_data;
            rng_snk <= xorshift(rng_snk);
            if (out_beats + (out_valid && out_ready ? 64'd1 : 64'd0) < clean * OUT_BEATS) begin
                out_ready <= 1'b1;
            end else if (burst_left > 0) begin
                burst_left = burst_left - 1;
                if (filling && (in_blocked >= fill_t || in_image_q >= n_images)) begin
                    burst_left = 0;  // the whole pipeline is full (or there is no input left to back up)
                    filling = 1'b0;
                end
                out_ready <= 1'b0;
            end else if (out_valid && out_ready && burst_max > 0 && (burst_armed || rng_snk[31:16] < burst_t)) begin
                // a long stretch of back-pressure starts (the first one until the pipeline is full)
                burst_left = burst_armed ? burst_first : burst_max / 2 + (rng_snk % burst_max);
                filling = burst_armed && fill_t > 0;
                burst_armed = 1'b0;
                out_ready <= 1'b0;
            end else begin
                out_ready <= !(rng_snk[15:0] < stall_t);
            end
            if (out_beats >= expected) begin
                out_ready <= 1'b1;
                drain = drain + 1;
                if (drain > DRAIN) begin
                    $fwrite(fout, "d %0d\\n", cycle);
                    done <= 1'b1;
                end
            end
        end
    end

    always @(posedge done) begin
        $fflush(fout);
        if (finish_t != 0) $finish;  // a run without cocotb (the speed benchmark's native build) ends itself
    end
endmodule
"""
