"""The open timing estimate (skipless.synth.timing) on netlists of real xc7 primitives, read by real Yosys.

The hand-built netlists instantiate the cells themselves (FDRE, LUT6, CARRY4), so the expected critical
path is known exactly: the sum of the library's arcs along it plus one wire delay per general-routing net.
Each checker gets its planted fault: a longer chain, a dedicated carry wire charged as routing, a loop.
"""

import json
import subprocess

import pytest

from skipless.errors import SkiplessError
from skipless.synth import timing
from skipless.tools import find_yosys

pytestmark = pytest.mark.synth

CLOCK = 6.667
ONES = "1'b1"
ZERO = "1'b0"


def _yosys_or_skip() -> list[str]:
    try:
        return find_yosys()
    except SkiplessError as e:
        pytest.skip(str(e))


def _lut6_inverter(name: str, i0: str, o: str) -> str:
    zeros = ", ".join(f".I{k}({ZERO})" for k in range(1, 6))
    return f"  LUT6 #(.INIT(64'h5555555555555555)) {name} (.I0({i0}), {zeros}, .O({o}));\n"


def _ff(name: str, d: str, q: str) -> str:
    return f"  FDRE {name} (.C(clk), .CE({ONES}), .R({ZERO}), .D({d}), .Q({q}));\n"


def chain_verilog(carries: int, capture_from: str | None = None) -> str:
    """r0 -> LUT6 -> `carries` CARRY4 (S[0] of the first, then CO[3] -> CI) -> r1. Nets and cells carry
    flattened-style names (``u_<layer>.<name>``, escaped identifiers), as in a synthesized design."""
    src_q, dst_q = "\\u_src.q0 ", "\\u_dst.q "
    body = _ff("\\u_src.r0 ", "d", src_q) + _lut6_inverter("\\u_mid.lut ", src_q, "l")
    wires = f"  wire {src_q}, {dst_q}, l;\n"
    ci = ZERO
    for k in range(carries):
        wires += f"  wire [3:0] co{k}, o{k};\n"
        s = "{3'b111, l}" if k == 0 else "4'b1111"
        body += (f"  CARRY4 \\u_mid.c{k}  (.CI({ci}), .CYINIT({ZERO}), .DI(4'b0000), .S({s}), "
                 f".CO(co{k}), .O(o{k}));\n")
        ci = f"co{k}[3]"
    body += _ff("\\u_dst.r1 ", capture_from or ci, dst_q) + f"  assign q = {dst_q};\n"
    return f"module chain (input clk, input d, output q);\n{wires}{body}endmodule\n"


def yosys_files(tmp_path, verilog: str, top: str = "chain") -> tuple[dict, dict]:
    """The netlist and the cell library as the synthesis script writes them (timing.script_lines), for
    a netlist of instantiated primitives (no synthesis: the cells stay as written)."""
    cmd = _yosys_or_skip()
    (tmp_path / "chain.v").write_text(verilog)
    script = ["read_verilog -lib +/xilinx/cells_sim.v", "read_verilog chain.v", f"hierarchy -top {top}", "blackbox =A:whitebox",  # as synth_xilinx ends
              *timing.script_lines("."), ""]
    (tmp_path / "t.ys").write_text("\n".join(script))
    proc = subprocess.run([*cmd, "-q", "-s", "t.ys"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return (json.loads((tmp_path / timing.NETLIST_FILE).read_text()),
            json.loads((tmp_path / timing.LIBRARY_FILE).read_text()))


@pytest.fixture(scope="module")
def chain3(tmp_path_factory):
    return yosys_files(tmp_path_factory.mktemp("chain3"), chain_verilog(3))


def arcs(library: dict):
    """The library arcs the hand-built paths use, read from the library itself."""
    models = {name: timing.build_model(library["modules"][name]) for name in ("FDRE", "LUT6", "CARRY4")}
    ff, lut, carry = models["FDRE"], models["LUT6"], models["CARRY4"]
    return {
        "clock_to_q": ff.clock_to_out[("Q", 0)],
        "setup_d": ff.setup[("D", 0)],
        "lut_i0": dict(lut.into[("O", 0)])[("I0", 0)],
        "s0_co3": dict(carry.into[("CO", 3)])[("S", 0)],
        "ci_co3": dict(carry.into[("CO", 3)])[("CI", 0)],
    }


def test_the_library_has_the_xc7_arcs(chain3):
    _, library = chain3
    a = arcs(library)
    assert all(v >= 0 for v in a.values()) and a["clock_to_q"] > 0 and a["lut_i0"] > 0 and a["ci_co3"] > 0
    carry = timing.build_model(library["modules"]["CARRY4"])
    assert ("S", 3) in dict(carry.into[("CO", 3)])  # bit-indexed arcs, each its own


def test_a_carry_chain_is_the_sum_of_its_arcs(chain3):
    netlist, library = chain3
    a = arcs(library)
    w = timing.WIRE_PS
    want = a["clock_to_q"] + w + a["lut_i0"] + w + a["s0_co3"] + 2 * a["ci_co3"] + w + a["setup_d"]
    result = timing.analyze(netlist, library, "chain", CLOCK)
    assert result["estimated_ns"] == round(want / 1000, 3)
    assert result["fmax_mhz"] == round(1e6 / want, 1)
    path = result["critical_path"]
    assert [s["cell"] for s in path["steps"]] == ["FDRE", "LUT6", "CARRY4", "CARRY4", "CARRY4"]
    assert path["from"]["layer"] == "src" and path["from"]["net"] == "u_src.q0"
    assert path["to"]["layer"] == "dst" and path["to"]["cell"] == "FDRE" and path["to"]["pin"] == "D"
    assert result["untimed_cells"] == {}


def test_dedicated_carry_wires_cost_no_routing(chain3, monkeypatch):
    netlist, library = chain3
    base = timing.analyze(netlist, library, "chain", CLOCK)["estimated_ns"]
    monkeypatch.setattr(timing, "DEDICATED", set())  # planted fault: CO -> CI charged as a routed net
    charged = timing.analyze(netlist, library, "chain", CLOCK)["estimated_ns"]
    assert round(charged - base, 3) == round(2 * timing.WIRE_PS / 1000, 3)


def test_a_shorter_chain_is_faster_by_its_carry_arcs(tmp_path, chain3):
    netlist, library = chain3
    short_net, _ = yosys_files(tmp_path, chain_verilog(3, capture_from="co0[3]"))
    a = arcs(library)
    long_ns = timing.analyze(netlist, library, "chain", CLOCK)["estimated_ns"]
    short_ns = timing.analyze(short_net, library, "chain", CLOCK)["estimated_ns"]
    assert round(long_ns - short_ns, 3) == round(2 * a["ci_co3"] / 1000, 3)


def test_the_wire_delay_is_a_stated_parameter(chain3):
    netlist, library = chain3
    a = arcs(library)
    zero = timing.analyze(netlist, library, "chain", CLOCK, wire_ps=0)
    assert zero["estimated_ns"] == round((a["clock_to_q"] + a["lut_i0"] + a["s0_co3"] + 2 * a["ci_co3"]
                                          + a["setup_d"]) / 1000, 3)
    assert zero["wire_ps"] == 0


def test_a_combinational_loop_is_named(tmp_path):
    loop = ("module chain (input clk, input d, output q);\n  wire a, b;\n"
            + _lut6_inverter("l1", "b", "a") + _lut6_inverter("l2", "a", "b")
            + _ff("r", "a", "q") + "endmodule\n")
    netlist, library = yosys_files(tmp_path, loop)
    with pytest.raises(SkiplessError, match="combinational loop through cell"):
        timing.analyze(netlist, library, "chain", CLOCK)


def test_an_unknown_cell_is_counted_not_guessed(chain3):
    netlist, library = chain3
    library = {"modules": {k: v for k, v in library["modules"].items() if k != "LUT6"}}
    result = timing.analyze(netlist, library, "chain", CLOCK)
    assert result["untimed_cells"] == {"LUT6": 1}
    # the LUT's output now starts a path at 0, so the worst path is the carry chain alone
    assert [s["cell"] for s in result["critical_path"]["steps"]][0] == "LUT6"


def test_missing_files_are_one_clear_error(tmp_path):
    with pytest.raises(SkiplessError, match="rerun `skipless synth --force`"):
        timing.estimate(tmp_path, "chain", CLOCK)


def test_path_ends_on_top_level_stream_wires_name_their_layer():
    """A register that drives a top-level stream wire is named after the wire in the flat netlist: its end
    is given the layer that makes it (ready: the stream's consumers; valid and data: its producer)."""
    streams = [{"stream": "relu1", "signal": "s_relu1", "producer": "relu1", "consumers": ["conv2"]},
               {"stream": "fc", "signal": "s_fc", "producer": "fc", "consumers": []}]
    path = {"from": {"layer": "(top level)", "net": "s_relu1_data[3]"}, "to": {"layer": "(top level)", "net": "s_relu1_ready"}}
    timing.name_stream_ends(path, streams)
    assert path["from"] == {"layer": "relu1", "net": "s_relu1_data[3]", "stream": "relu1"}
    assert path["to"] == {"layer": "conv2", "net": "s_relu1_ready", "stream": "relu1"}
    out = {"from": {"layer": "fc", "net": "u_fc.acc[0]"}, "to": {"layer": "(top level)", "net": "s_fc_ready"}}
    timing.name_stream_ends(out, streams)
    assert out["from"] == {"layer": "fc", "net": "u_fc.acc[0]"}  # an end inside a layer is left as it is
    assert out["to"]["layer"] == "(output port)"
    timing.name_stream_ends(None, streams)  # no path (nothing timed): nothing to name
