"""Verilog text for a planned :class:`~skipless.rtl.graph.Network`.

The top module instantiates the library (``verilog/skipless_lib.v``) once per node, with generated
weight/bias ROMs per convolution. Its ports are named like a Vitis HLS ``io_stream`` top of the same
hls4ml project (``ap_clk``, ``ap_rst_n``, ``<input>_TDATA/_TVALID/_TREADY``,
``<output>_TDATA/_TVALID/_TREADY``; TDATA padded to whole bytes), so one testbench drives both.
Each internal stream has a beat counter (``beats_<stream>``) for the testbench's stall report; it
drives no output, so synthesis removes it.
"""

from __future__ import annotations

import re

from skipless.errors import SkiplessError
from skipless.rtl.graph import Network, Node
from skipless.rtl.schedule import ConvPlan, Plan, clog2
from skipless.rtl.types import FixedType, pack_lanes

RND_CODE = {"TRN": 0, "RND": 1, "RND_CONV": 2}
OVF_CODE = {"WRAP": 0, "SAT": 1, "SAT_SYM": 2}


def ident(name: str) -> str:
    out = re.sub(r"[^A-Za-z0-9_]", "_", name)
    return out if re.match(r"[A-Za-z_]", out) else f"n_{out}"


def tdata_width(bits: int) -> int:
    return (bits + 7) // 8 * 8


def _type_params(prefix: str, t: FixedType) -> list[str]:
    return [f".{prefix}_W({t.width})", f".{prefix}_F({t.frac})", f".{prefix}_S({int(t.signed)})"]


def _cast_params(t: FixedType) -> list[str]:
    return [f".RND({RND_CODE[t.rounding]})", f".OVF({OVF_CODE[t.overflow]})"]


BLOCK_ROM_BITS = 4096  # larger ROMs are marked for block RAM (Yosys and Vivado honour rom_style)


def _rom(module: str, words: list[int], width: int) -> str:
    aw = clog2(len(words))
    # without the attribute Yosys 0.23 maps most weight ROMs to logic (LUTs), whatever their size
    style = '(* rom_style = "block" *) ' if len(words) * width >= BLOCK_ROM_BITS else ""
    lines = [
        f"// {len(words)} x {width} bit ROM (synchronous read)",
        f"module {module} (",
        "    input  wire clk,",
        "    input  wire en,",
        f"    input  wire [{aw - 1}:0] addr,",
        f"    output reg  [{width - 1}:0] q",
        ");",
        f"    {style}reg [{width - 1}:0] rom [0:{len(words) - 1}];",
        "    initial begin",
    ]
    lines += [f"        rom[{i}] = {width}'h{w:x};" for i, w in enumerate(words)]
    lines += ["    end"]
    if len(words) < (1 << aw):
        lines += ["    /* verilator lint_off WIDTHEXPAND */  // the address never passes the last word"]
        lines += ["    always @(posedge clk) if (en) q <= rom[addr];", "    /* verilator lint_on WIDTHEXPAND */"]
    else:
        lines += ["    always @(posedge clk) if (en) q <= rom[addr];"]
    lines += ["endmodule", ""]
    return "\n".join(lines)


def conv_roms(node: Node, plan: ConvPlan, top: str) -> tuple[str, str, str, str]:
    """(weight ROM module name, its text, bias ROM module name, its text) in the engine's step order."""
    p = node.params
    w, wt, acc = p["weight"], p["weight_type"], p["acc_type"]
    k, (cin, cout) = p["k"], (p["in_shape"][2], node.shape[2])
    pi, po = plan.pi, plan.po
    words = []
    for g in range(cout // po):
        for ky in range(k):
            for kx in range(k):
                for c in range(cin // pi):
                    block = w[ky, kx, c * pi : (c + 1) * pi, g * po : (g + 1) * po]  # (pi, po)
                    words.append(pack_lanes(block.T.reshape(-1), wt.width))  # lane o*PI + i
    shift = acc.frac - p["bias_type"].frac
    bias = p["bias"] << shift if shift >= 0 else p["bias"] >> (-shift)
    bias_words = [pack_lanes(bias[g * po : (g + 1) * po], acc.width) for g in range(cout // po)]
    wname, bname = f"{top}_{ident(node.name)}_w", f"{top}_{ident(node.name)}_b"
    return wname, _rom(wname, words, po * pi * wt.width), bname, _rom(bname, bias_words, po * acc.width)


class _Top:
    def __init__(self, net: Network, plan: Plan, top: str):
        self.net, self.plan, self.top = net, plan, top
        self.decls: list[str] = []
        self.body: list[str] = []
        self.modules: list[str] = []
        self.streams: list[dict] = []
        self.types: dict[str, FixedType] = {}
        self.channels: dict[str, int] = {}
        for node in net.nodes:
            for s in node.outputs:
                self.types[s] = node.type
                self.channels[s] = node.shape[2]

    def wire(self, stream: str, width: int, producer: str) -> str:
        sid = f"s_{ident(stream)}"
        self.decls += [f"    wire [{width - 1}:0] {sid}_data;", f"    wire {sid}_valid;", f"    wire {sid}_ready;"]
        self.streams.append({"stream": stream, "signal": sid, "producer": producer, "counter": f"beats_{sid}"})
        return sid

    def width(self, stream: str) -> int:
        return self.channels[stream] * self.types[stream].width

    @staticmethod
    def inst(module: str, params: list[str], name: str, ports: list[tuple[str, str]]) -> list[str]:
        lines = [f"    {module} #("] if params else [f"    {module}"]
        if params:
            lines += ["        " + ", ".join(params), "    )"]
        lines[-1] += f" u_{name} ("
        lines += [f"        .{p}({s})," for p, s in ports]
        lines[-1] = lines[-1].rstrip(",")
        lines += ["    );"]
        return lines

    @staticmethod
    def stream_ports(prefix: str, sid: str) -> list[tuple[str, str]]:
        return [(f"{prefix}_data", f"{sid}_data"), (f"{prefix}_valid", f"{sid}_valid"), (f"{prefix}_ready", f"{sid}_ready")]

    CLK = [("clk", "ap_clk"), ("rst_n", "ap_rst_n")]

    def conv(self, node: Node) -> None:
        p, cp = node.params, self.plan.convs[node.name]
        src = node.inputs[0]
        xt, acc = self.types[src], p["acc_type"]
        n = ident(node.name)
        cin, cout = p["in_shape"][2], node.shape[2]
        wname, wtext, bname, btext = conv_roms(node, cp, self.top)
        self.modules += [wtext, btext]
        steps, groups = cp.steps_per_pixel, cout // cp.po
        sa, ga = clog2(steps), clog2(groups)
        out = node.outputs[0]
        raw = self.wire(f"{node.name}_acc", cout * acc.width, node.name) if acc != node.type else self.wire(out, self.width(out), node.name)
        self.decls += [
            f"    wire {n}_rom_en;", f"    wire [{sa - 1}:0] {n}_w_addr;", f"    wire [{cp.po * cp.pi * p['weight_type'].width - 1}:0] {n}_w_data;",
            f"    wire [{ga - 1}:0] {n}_b_addr;", f"    wire [{cp.po * acc.width - 1}:0] {n}_b_data;",
        ]
        params = [
            f".H({p['in_shape'][0]})", f".W({p['in_shape'][1]})", f".CIN({cin})", f".COUT({cout})", f".K({p['k']})",
            f".S({p['stride']})", f".PT({p['pad_top']})", f".PL({p['pad_left']})", f".OH({node.shape[0]})", f".OW({node.shape[1]})",
            f".XW({xt.width})", f".XS({int(xt.signed)})", f".WW({p['weight_type'].width})", f".AW({acc.width})",
            f".PSH({acc.frac - xt.frac - p['weight_type'].frac})", f".PI({cp.pi})", f".PO({cp.po})",
            f".BUF_AW({clog2(cp.buffer_pixels)})", f".SA_W({sa})", f".GA_W({ga})",
        ]
        self.body += self.inst("skl_conv", params, n, self.CLK + self.stream_ports("in", f"s_{ident(src)}") + self.stream_ports("out", raw) + [
            ("rom_en", f"{n}_rom_en"), ("w_addr", f"{n}_w_addr"), ("w_data", f"{n}_w_data"), ("b_addr", f"{n}_b_addr"), ("b_data", f"{n}_b_data"),
        ])
        self.body += self.inst(wname, [], f"{n}_w", [("clk", "ap_clk"), ("en", f"{n}_rom_en"), ("addr", f"{n}_w_addr"), ("q", f"{n}_w_data")])
        self.body += self.inst(bname, [], f"{n}_b", [("clk", "ap_clk"), ("en", f"{n}_rom_en"), ("addr", f"{n}_b_addr"), ("q", f"{n}_b_data")])
        if acc != node.type:  # the conv's own result type differs from its accumulator
            sid = self.wire(out, self.width(out), node.name)
            params = [f".C({cout})", *_type_params("IN", acc), *_type_params("OUT", node.type), *_cast_params(node.type), ".RELU(0)"]
            self.body += self.inst("skl_map", params, f"{n}_result", self.CLK + self.stream_ports("in", raw) + self.stream_ports("out", sid))

    def cast(self, node: Node) -> None:
        src, out = node.inputs[0], node.outputs[0]
        sid = self.wire(out, self.width(out), node.name)
        params = [f".C({node.shape[2]})", *_type_params("IN", self.types[src]), *_type_params("OUT", node.type), *_cast_params(node.type),
                  f".RELU({int(node.params['relu'])})"]
        self.body += self.inst("skl_map", params, ident(node.name), self.CLK + self.stream_ports("in", f"s_{ident(src)}") + self.stream_ports("out", sid))

    def add(self, node: Node) -> None:
        fifo = self.plan.fifos[node.name]
        ins = []
        for src in node.inputs:
            sid = f"s_{ident(src)}"
            if src == fifo.stream:
                fid = self.wire(f"{node.name}_skip_fifo", self.width(src), f"{node.name}_skip_fifo")
                params = [f".DW({self.width(src)})", f".DEPTH({fifo.depth})", f".AW({clog2(fifo.depth)})"]
                self.body += self.inst("skl_fifo", params, f"{ident(node.name)}_skip_fifo", self.CLK + self.stream_ports("in", sid) + self.stream_ports("out", fid))
                sid = fid
            ins.append(sid)
        out = node.outputs[0]
        sid = self.wire(out, self.width(out), node.name)
        a, b = (self.types[s] for s in node.inputs)
        params = [f".C({node.shape[2]})", *_type_params("A", a), *_type_params("B", b), *_type_params("OUT", node.type), *_cast_params(node.type)]
        self.body += self.inst("skl_add", params, ident(node.name), self.CLK + self.stream_ports("a", ins[0]) + self.stream_ports("b", ins[1]) + self.stream_ports("out", sid))

    def fork(self, node: Node) -> None:
        src = node.inputs[0]
        a = self.wire(node.outputs[0], self.width(src), node.name)
        b = self.wire(node.outputs[1], self.width(src), node.name)
        self.body += self.inst("skl_fork", [f".DW({self.width(src)})"], ident(node.name),
                               self.stream_ports("in", f"s_{ident(src)}") + self.stream_ports("a", a) + self.stream_ports("b", b))

    def gap(self, node: Node) -> None:
        src, out = node.inputs[0], node.outputs[0]
        acc, count = node.params["acc_type"], node.params["count"]
        pow2 = count & (count - 1) == 0
        sid = self.wire(out, self.width(out), node.name)
        params = [f".C({node.shape[2]})", f".N({count})", f".LOG2N({count.bit_length() - 1 if pow2 else 0})", f".POW2({int(pow2)})",
                  *_type_params("IN", self.types[src]), *_type_params("ACC", acc), *_type_params("OUT", node.type), *_cast_params(node.type),
                  f".CW({clog2(count + 1)})"]
        self.body += self.inst("skl_gap", params, ident(node.name), self.CLK + self.stream_ports("in", f"s_{ident(src)}") + self.stream_ports("out", sid))

    def text(self) -> str:
        net = self.net
        in_sid = self.wire(net.input_name, self.width(net.input_name), net.input.name)
        for node in net.nodes[1:]:
            getattr(self, node.op)(node)
        ip, op = ident(net.input_port), ident(net.output_port)
        in_w, out_w = self.width(net.input_name), self.width(net.output_name)
        in_tw, out_tw = tdata_width(in_w), tdata_width(out_w)
        out_sid = f"s_{ident(net.output_name)}"
        lines = [
            f"// {self.top}: open RTL of hls4ml network {net.name!r}, generated by skipless (do not edit)",
            "`default_nettype none",
            f"module {self.top} (",
            "    input  wire ap_clk,",
            "    input  wire ap_rst_n,",
            f"    input  wire [{in_tw - 1}:0] {ip}_TDATA,",
            f"    input  wire {ip}_TVALID,",
            f"    output wire {ip}_TREADY,",
            f"    output wire [{out_tw - 1}:0] {op}_TDATA,",
            f"    output wire {op}_TVALID,",
            f"    input  wire {op}_TREADY",
            ");",
            *self.decls,
            "",
        ]
        if in_tw > in_w:
            lines += ["    /* verilator lint_off UNUSEDSIGNAL */  // TDATA is padded to whole bytes; the pad bits carry nothing",
                      f"    wire [{in_tw - 1}:0] in_tdata = {ip}_TDATA;", "    /* verilator lint_on UNUSEDSIGNAL */",
                      f"    assign {in_sid}_data = in_tdata[{in_w - 1}:0];"]
        else:
            lines += [f"    assign {in_sid}_data = {ip}_TDATA;"]
        lines += [f"    assign {in_sid}_valid = {ip}_TVALID;", f"    assign {ip}_TREADY = {in_sid}_ready;"]
        pad = f"{{{out_tw - out_w}'d0}}, " if out_tw > out_w else ""
        lines += [f"    assign {op}_TDATA = {{{pad}{out_sid}_data}};", f"    assign {op}_TVALID = {out_sid}_valid;",
                  f"    assign {out_sid}_ready = {op}_TREADY;", ""]
        lines += self.body
        lines += ["", "    // beat counters per stream: read by the testbench's stall report, removed by synthesis",
                  "    /* verilator lint_off UNUSEDSIGNAL */"]
        for s in self.streams:
            c, sid = s["counter"], s["signal"]
            lines += [f"    reg [31:0] {c};",
                      f"    always @(posedge ap_clk) if (!ap_rst_n) {c} <= 32'd0; else if ({sid}_valid && {sid}_ready) {c} <= {c} + 32'd1;"]
        lines += ["    /* verilator lint_on UNUSEDSIGNAL */", "endmodule", "`default_nettype wire", ""]
        return "\n".join(lines)


def emit(net: Network, plan: Plan, top: str = "myproject") -> tuple[str, list[dict]]:
    """(Verilog text of the top module and its ROMs, the stream table in topological order)."""
    for node in net.convs():
        if not node.params["weight_type"].signed:
            raise SkiplessError(f"layer {node.name}: unsigned weight types are not supported by the open RTL")
    for t in {n.type for n in net.nodes}:
        if t.signed and t.width < 2:
            raise SkiplessError(f"type {t}: signed types need at least 2 bits in the open RTL")
    builder = _Top(net, plan, ident(top))
    text = builder.text()
    roms = "\n".join(builder.modules)
    waive = "// the network's ROMs share its file, so their names cannot match the file name\n/* verilator lint_off DECLFILENAME */\n"
    return waive + "`default_nettype none\n" + roms + "`default_nettype wire\n/* verilator lint_on DECLFILENAME */\n" + text, builder.streams
