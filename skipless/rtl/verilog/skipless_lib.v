// skipless open RTL library: streaming building blocks for quantized CNNs (Verilog-2001, no vendor
// primitives). Every stream is a ready/valid pair carrying one pixel (all channels) per beat,
// channel 0 in the low bits; a beat moves on a rising clock edge where valid and ready are both 1.
// Arithmetic follows ap_fixed: values are integer mantissas on a binary point given by a
// fractional-bit count (*_F parameters); *_S = 1 for two's complement.
// Rounding codes: 0 TRN (floor), 1 RND (half up), 2 RND_CONV (half to even).
// Overflow codes: 0 WRAP, 1 SAT, 2 SAT_SYM.

//
// Simulation-only checks (left out of synthesis, which defines SYNTHESIS): every module's output
// register checks the ready/valid rule (valid held and data unchanged while not accepted), and the
// FIFO checks overflow and underflow. A failed check prints "SKL_ASSERT <instance>: <what>" and
// ends the simulation; the testbench reports the line.

// One file holds the whole library, so module names cannot match the file name:
/* verilator lint_off DECLFILENAME */
`default_nettype none

// ---------------------------------------------------------------------------------------------
// skl_oreg: the output register every module ends in. A beat is loaded when the module has one
// (load) and there is room (the register is empty or its beat leaves this cycle); the module must
// not load without room. out_valid never depends on out_ready.
module skl_oreg #(
    parameter integer DW = 8
) (
    input  wire          clk,
    input  wire          rst_n,
    input  wire          load,
    input  wire [DW-1:0] din,
    output wire          room,
    output reg  [DW-1:0] out_data,
    output reg           out_valid,
    input  wire          out_ready
);
    assign room = !out_valid || out_ready;
    always @(posedge clk) begin
        if (!rst_n) begin
            out_valid <= 1'b0;
        end else if (load) begin
            out_valid <= 1'b1;
        end else if (out_ready) begin
            out_valid <= 1'b0;
        end
    end
    always @(posedge clk) begin
        if (load) out_data <= din;
    end
`ifndef SYNTHESIS
    reg          held;       // last cycle a beat waited (valid && !ready)
    reg [DW-1:0] held_data;
    always @(posedge clk) begin
        if (!rst_n) begin
            held <= 1'b0;
        end else begin
            if (held && !out_valid) begin
                $display("SKL_ASSERT %m: valid dropped before the beat was accepted (time %0t)", $time);
                $finish;
            end
            if (held && out_valid && out_data !== held_data) begin
                $display("SKL_ASSERT %m: data changed while valid and not ready (time %0t)", $time);
                $finish;
            end
            if (load && !room) begin
                $display("SKL_ASSERT %m: a beat was loaded over one not yet accepted (time %0t)", $time);
                $finish;
            end
            held <= out_valid && !out_ready;
            if (out_valid && !out_ready) held_data <= out_data;  // copied only while a beat waits
        end
    end
`endif
endmodule

// ---------------------------------------------------------------------------------------------
// skl_cast: assignment of one fixed-point value to another type (combinational).
module skl_cast #(
    parameter integer IN_W = 8,
    parameter integer IN_F = 0,
    parameter integer IN_S = 1,
    parameter integer OUT_W = 8,
    parameter integer OUT_F = 0,
    parameter integer OUT_S = 1,
    parameter integer RND = 0,
    parameter integer OVF = 0,
    parameter integer RELU = 0
) (
    input  wire [IN_W-1:0]  din,
    output wire [OUT_W-1:0] dout
);
    localparam integer SH = IN_F - OUT_F;  // > 0: SH fractional bits are dropped
    localparam integer LSH = (SH < 0) ? -SH : 0;
    localparam integer RSH = (SH > 0) ? SH : 0;
    localparam integer XW = ((IN_W + LSH > OUT_W) ? IN_W + LSH : OUT_W) + 2;

    wire signed [XW-1:0] x_ext = (IN_S != 0) ? {{(XW-IN_W){din[IN_W-1]}}, din} : {{(XW-IN_W){1'b0}}, din};
    wire signed [XW-1:0] x_pos = (RELU != 0 && x_ext[XW-1]) ? {XW{1'b0}} : x_ext;
    wire signed [XW-1:0] floor_q = x_pos >>> RSH;
    wire                 round_up;
    generate
        if (RSH == 0) begin : g_exact
            assign round_up = 1'b0;
        end else if (RSH == 1) begin : g_one
            assign round_up = (RND == 1) ? x_pos[0] : (RND == 2) ? (x_pos[0] & floor_q[0]) : 1'b0;
        end else begin : g_many
            wire half = x_pos[RSH-1];
            wire rest = |x_pos[RSH-2:0];
            assign round_up = (RND == 1) ? half : (RND == 2) ? (half & (rest | floor_q[0])) : 1'b0;
        end
    endgenerate
    wire signed [XW-1:0] r = (SH > 0) ? floor_q + {{(XW-1){1'b0}}, round_up} : (x_pos <<< LSH);

    wire signed [XW-1:0] hi = (OUT_S != 0) ? {{(XW-OUT_W+1){1'b0}}, {(OUT_W-1){1'b1}}} : {{(XW-OUT_W){1'b0}}, {OUT_W{1'b1}}};
    wire signed [XW-1:0] lo_full = (OUT_S != 0) ? {{(XW-OUT_W+1){1'b1}}, {(OUT_W-1){1'b0}}} : {XW{1'b0}};
    wire signed [XW-1:0] lo = (OVF == 2 && OUT_S != 0) ? lo_full + {{(XW-1){1'b0}}, 1'b1} : lo_full;
    wire signed [XW-1:0] clamped = (r > hi) ? hi : (r < lo) ? lo : r;
    /* verilator lint_off UNUSEDSIGNAL */  // WRAP keeps the low OUT_W bits by definition
    wire signed [XW-1:0] result = (OVF == 0) ? r : clamped;
    /* verilator lint_on UNUSEDSIGNAL */
    assign dout = result[OUT_W-1:0];
endmodule

// ---------------------------------------------------------------------------------------------
// skl_map: element-wise cast (optionally after ReLU) of C channels, one register stage.
module skl_map #(
    parameter integer C = 1,
    parameter integer IN_W = 8,
    parameter integer IN_F = 0,
    parameter integer IN_S = 1,
    parameter integer OUT_W = 8,
    parameter integer OUT_F = 0,
    parameter integer OUT_S = 1,
    parameter integer RND = 0,
    parameter integer OVF = 0,
    parameter integer RELU = 0
) (
    input  wire               clk,
    input  wire               rst_n,
    input  wire [C*IN_W-1:0]  in_data,
    input  wire               in_valid,
    output wire               in_ready,
    output wire [C*OUT_W-1:0] out_data,
    output wire               out_valid,
    input  wire               out_ready
);
    wire [C*OUT_W-1:0] cast_data;
    genvar i;
    generate
        for (i = 0; i < C; i = i + 1) begin : g_ch
            skl_cast #(
                .IN_W(IN_W), .IN_F(IN_F), .IN_S(IN_S), .OUT_W(OUT_W), .OUT_F(OUT_F), .OUT_S(OUT_S),
                .RND(RND), .OVF(OVF), .RELU(RELU)
            ) u_cast (
                .din(in_data[i*IN_W +: IN_W]),
                .dout(cast_data[i*OUT_W +: OUT_W])
            );
        end
    endgenerate
    wire room;
    assign in_ready = room;
    skl_oreg #(.DW(C*OUT_W)) u_out (
        .clk(clk), .rst_n(rst_n), .load(in_valid && room), .din(cast_data), .room(room),
        .out_data(out_data), .out_valid(out_valid), .out_ready(out_ready)
    );
endmodule

// ---------------------------------------------------------------------------------------------
// skl_hard: hls4ml's hard_sigmoid, clip(SLOPE * x + SHIFT, 0, 1), and hard_tanh, 2 * that - 1, on
// binary point F (the finest of x * slope and shift: exact), then cast to OUT. SLOPE is the slope's
// mantissa (x * SLOPE is shifted left by PSH onto F, which places x's own binary point), SHIFT the
// shift's mantissa already on F.
module skl_hard #(
    parameter integer C = 1,
    parameter integer IN_W = 8,
    parameter integer IN_S = 1,
    parameter integer SLOPE = 1,
    parameter integer SLOPE_W = 2,  // signed bits that hold SLOPE
    parameter integer PSH = 0,
    parameter integer SHIFT = 0,
    parameter integer F = 0,
    parameter integer TANH = 0,
    parameter integer OUT_W = 8,
    parameter integer OUT_F = 0,
    parameter integer OUT_S = 1,
    parameter integer RND = 0,
    parameter integer OVF = 0
) (
    input  wire               clk,
    input  wire               rst_n,
    input  wire [C*IN_W-1:0]  in_data,
    input  wire               in_valid,
    output wire               in_ready,
    output wire [C*OUT_W-1:0] out_data,
    output wire               out_valid,
    input  wire               out_ready
);
    // x * SLOPE << PSH, SHIFT and 2^(F+1) all fit VW signed bits
    localparam integer VW = ((IN_W + SLOPE_W + PSH > F + 2) ? IN_W + SLOPE_W + PSH : F + 2) + 2;
    /* verilator lint_off WIDTHTRUNC */
    /* verilator lint_off WIDTHEXPAND */
    localparam signed [VW-1:0] ONE = 1 <<< F;
    localparam signed [VW-1:0] K = SLOPE;
    localparam signed [VW-1:0] B = SHIFT;
    /* verilator lint_on WIDTHEXPAND */
    /* verilator lint_on WIDTHTRUNC */
    wire [C*OUT_W-1:0] act;
    genvar i;
    generate
        for (i = 0; i < C; i = i + 1) begin : g_ch
            wire [IN_W-1:0] x = in_data[i*IN_W +: IN_W];
            wire signed [VW-1:0] x_ext = (IN_S != 0) ? {{(VW-IN_W){x[IN_W-1]}}, x} : {{(VW-IN_W){1'b0}}, x};
            wire signed [VW-1:0] v = ((x_ext * K) <<< PSH) + B;
            wire signed [VW-1:0] c = (v > ONE) ? ONE : (v < 0) ? {VW{1'b0}} : v;
            wire signed [VW-1:0] r = (TANH != 0) ? (c <<< 1) - ONE : c;
            skl_cast #(
                .IN_W(VW), .IN_F(F), .IN_S(1), .OUT_W(OUT_W), .OUT_F(OUT_F), .OUT_S(OUT_S), .RND(RND), .OVF(OVF)
            ) u_cast (
                .din(r),
                .dout(act[i*OUT_W +: OUT_W])
            );
        end
    endgenerate
    wire room;
    assign in_ready = room;
    skl_oreg #(.DW(C*OUT_W)) u_out (
        .clk(clk), .rst_n(rst_n), .load(in_valid && room), .din(act), .room(room),
        .out_data(out_data), .out_valid(out_valid), .out_ready(out_ready)
    );
endmodule

// ---------------------------------------------------------------------------------------------
// skl_add: element-wise sum of two streams (exact, on the finer binary point), cast to OUT.
module skl_add #(
    parameter integer C = 1,
    parameter integer A_W = 8,
    parameter integer A_F = 0,
    parameter integer A_S = 1,
    parameter integer B_W = 8,
    parameter integer B_F = 0,
    parameter integer B_S = 1,
    parameter integer OUT_W = 9,
    parameter integer OUT_F = 0,
    parameter integer OUT_S = 1,
    parameter integer RND = 0,
    parameter integer OVF = 0
) (
    input  wire               clk,
    input  wire               rst_n,
    input  wire [C*A_W-1:0]   a_data,
    input  wire               a_valid,
    output wire               a_ready,
    input  wire [C*B_W-1:0]   b_data,
    input  wire               b_valid,
    output wire               b_ready,
    output wire [C*OUT_W-1:0] out_data,
    output wire               out_valid,
    input  wire               out_ready
);
    localparam integer F = (A_F > B_F) ? A_F : B_F;
    localparam integer AX = A_W + F - A_F;
    localparam integer BX = B_W + F - B_F;
    localparam integer SW = ((AX > BX) ? AX : BX) + 2;  // sign bit and carry
    wire [C*OUT_W-1:0] sum_data;
    genvar i;
    generate
        for (i = 0; i < C; i = i + 1) begin : g_ch
            wire [A_W-1:0] a = a_data[i*A_W +: A_W];
            wire [B_W-1:0] b = b_data[i*B_W +: B_W];
            wire signed [SW-1:0] a_ext = (A_S != 0) ? {{(SW-A_W){a[A_W-1]}}, a} : {{(SW-A_W){1'b0}}, a};
            wire signed [SW-1:0] b_ext = (B_S != 0) ? {{(SW-B_W){b[B_W-1]}}, b} : {{(SW-B_W){1'b0}}, b};
            wire signed [SW-1:0] s = (a_ext <<< (F - A_F)) + (b_ext <<< (F - B_F));
            skl_cast #(
                .IN_W(SW), .IN_F(F), .IN_S(1), .OUT_W(OUT_W), .OUT_F(OUT_F), .OUT_S(OUT_S), .RND(RND), .OVF(OVF)
            ) u_cast (
                .din(s),
                .dout(sum_data[i*OUT_W +: OUT_W])
            );
        end
    endgenerate
    wire room;
    assign a_ready = room && b_valid;
    assign b_ready = room && a_valid;
    skl_oreg #(.DW(C*OUT_W)) u_out (
        .clk(clk), .rst_n(rst_n), .load(room && a_valid && b_valid), .din(sum_data), .room(room),
        .out_data(out_data), .out_valid(out_valid), .out_ready(out_ready)
    );
endmodule

// ---------------------------------------------------------------------------------------------
// skl_concat: two streams joined on channels (hls4ml Concatenate, axis -1): each element of A (channels
// 0..CA-1) and of B (CA..CA+CB-1) assigned to OUT.
module skl_concat #(
    parameter integer CA = 1,
    parameter integer CB = 1,
    parameter integer A_W = 8,
    parameter integer A_F = 0,
    parameter integer A_S = 1,
    parameter integer B_W = 8,
    parameter integer B_F = 0,
    parameter integer B_S = 1,
    parameter integer OUT_W = 8,
    parameter integer OUT_F = 0,
    parameter integer OUT_S = 1,
    parameter integer RND = 0,
    parameter integer OVF = 0
) (
    input  wire                    clk,
    input  wire                    rst_n,
    input  wire [CA*A_W-1:0]       a_data,
    input  wire                    a_valid,
    output wire                    a_ready,
    input  wire [CB*B_W-1:0]       b_data,
    input  wire                    b_valid,
    output wire                    b_ready,
    output wire [(CA+CB)*OUT_W-1:0] out_data,
    output wire                    out_valid,
    input  wire                    out_ready
);
    wire [(CA+CB)*OUT_W-1:0] joined;
    genvar i;
    generate
        for (i = 0; i < CA; i = i + 1) begin : g_a
            skl_cast #(
                .IN_W(A_W), .IN_F(A_F), .IN_S(A_S), .OUT_W(OUT_W), .OUT_F(OUT_F), .OUT_S(OUT_S), .RND(RND), .OVF(OVF)
            ) u_cast (
                .din(a_data[i*A_W +: A_W]),
                .dout(joined[i*OUT_W +: OUT_W])
            );
        end
        for (i = 0; i < CB; i = i + 1) begin : g_b
            skl_cast #(
                .IN_W(B_W), .IN_F(B_F), .IN_S(B_S), .OUT_W(OUT_W), .OUT_F(OUT_F), .OUT_S(OUT_S), .RND(RND), .OVF(OVF)
            ) u_cast (
                .din(b_data[i*B_W +: B_W]),
                .dout(joined[(CA+i)*OUT_W +: OUT_W])
            );
        end
    endgenerate
    wire room;
    assign a_ready = room && b_valid;
    assign b_ready = room && a_valid;
    skl_oreg #(.DW((CA+CB)*OUT_W)) u_out (
        .clk(clk), .rst_n(rst_n), .load(room && a_valid && b_valid), .din(joined), .room(room),
        .out_data(out_data), .out_valid(out_valid), .out_ready(out_ready)
    );
endmodule

// ---------------------------------------------------------------------------------------------
// skl_fork: one stream to two consumers. Each side takes the beat on its own handshake; the input
// beat is released once both have it. A side's valid depends on the input's valid and on whether
// that side already took the beat, never on a ready (the AXI-Stream rule).
module skl_fork #(
    parameter integer DW = 8
) (
    input  wire          clk,
    input  wire          rst_n,
    input  wire [DW-1:0] in_data,
    input  wire          in_valid,
    output wire          in_ready,
    output wire [DW-1:0] a_data,
    output wire          a_valid,
    input  wire          a_ready,
    output wire [DW-1:0] b_data,
    output wire          b_valid,
    input  wire          b_ready
);
    reg a_done;  // side a already took the current input beat
    reg b_done;
    assign a_data = in_data;
    assign b_data = in_data;
    assign a_valid = in_valid && !a_done;
    assign b_valid = in_valid && !b_done;
    wire a_take = a_valid && a_ready;
    wire b_take = b_valid && b_ready;
    assign in_ready = (a_done || a_take) && (b_done || b_take);
    always @(posedge clk) begin
        if (!rst_n || (in_valid && in_ready)) begin
            a_done <= 1'b0;
            b_done <= 1'b0;
        end else begin
            if (a_take) a_done <= 1'b1;
            if (b_take) b_done <= 1'b1;
        end
    end
endmodule

// ---------------------------------------------------------------------------------------------
// skl_fifo: DEPTH-entry memory plus the output register, which is the memory's synchronous read
// port (block RAM when large: after flattening, synthesis merges the register into the memory).
module skl_fifo #(
    parameter integer DW = 8,
    parameter integer DEPTH = 4,
    parameter integer AW = 2  // address bits: clog2(DEPTH), at least 1
) (
    input  wire          clk,
    input  wire          rst_n,
    input  wire [DW-1:0] in_data,
    input  wire          in_valid,
    output wire          in_ready,
    output wire [DW-1:0] out_data,
    output wire          out_valid,
    input  wire          out_ready
);
    reg [DW-1:0] mem [0:DEPTH-1];
    reg [AW-1:0] wr_ptr;
    reg [AW-1:0] rd_ptr;
    reg [AW:0]   count;
    wire room;
    wire push = in_valid && in_ready;
    wire pop = (count != 0) && room;
    /* verilator lint_off WIDTHEXPAND */
    assign in_ready = count < DEPTH;
    wire [AW-1:0] wr_next = (wr_ptr == DEPTH - 1) ? {AW{1'b0}} : wr_ptr + 1'b1;
    wire [AW-1:0] rd_next = (rd_ptr == DEPTH - 1) ? {AW{1'b0}} : rd_ptr + 1'b1;
    /* verilator lint_on WIDTHEXPAND */
    always @(posedge clk) begin
        if (push) mem[wr_ptr] <= in_data;
    end
    always @(posedge clk) begin
        if (!rst_n) begin
            wr_ptr <= {AW{1'b0}};
            rd_ptr <= {AW{1'b0}};
            count <= {(AW+1){1'b0}};
        end else begin
            if (push) wr_ptr <= wr_next;
            if (pop) rd_ptr <= rd_next;
            count <= count + {{AW{1'b0}}, push} - {{AW{1'b0}}, pop};
        end
    end
    skl_oreg #(.DW(DW)) u_out (
        .clk(clk), .rst_n(rst_n), .load(pop), .din(mem[rd_ptr]), .room(room),
        .out_data(out_data), .out_valid(out_valid), .out_ready(out_ready)
    );
`ifndef SYNTHESIS
    always @(posedge clk) begin
        if (rst_n) begin
            /* verilator lint_off WIDTHEXPAND */
            if (count > DEPTH || (push && count == DEPTH)) begin
            /* verilator lint_on WIDTHEXPAND */
                $display("SKL_ASSERT %m: overflow, a beat was written into a full FIFO of %0d entries (time %0t)", DEPTH, $time);
                $finish;
            end
            if (pop && count == 0) begin
                $display("SKL_ASSERT %m: underflow, an entry was read from an empty FIFO (time %0t)", $time);
                $finish;
            end
        end
    end
`endif
endmodule

// ---------------------------------------------------------------------------------------------
// skl_divn: a signed value divided by the constant N, truncating toward zero (ap_fixed's operator/ by
// an integer: the quotient keeps the dividend's binary point). Combinational. N must fit DW-1 bits.
module skl_divn #(
    parameter integer DW = 9,
    parameter integer N = 4,
    parameter integer LOG2N = 2,  // used when N is a power of two (POW2 = 1): the division is a shift
    parameter integer POW2 = 1
) (
    input  wire signed [DW-1:0] din,
    output wire signed [DW-1:0] q
);
    generate
        if (POW2 != 0) begin : g_shift
            // truncation toward zero: bias negative values by N-1 before the arithmetic shift
            wire signed [DW-1:0] bias = din[DW-1] ? $signed({{(DW-LOG2N){1'b0}}, {LOG2N{1'b1}}}) : {DW{1'b0}};
            assign q = (din + bias) >>> LOG2N;
        end else begin : g_div
            // the divisor at the dividend's width (a 32-bit N would widen the divide: WIDTHEXPAND)
            /* verilator lint_off WIDTHTRUNC */
            /* verilator lint_off WIDTHEXPAND */
            localparam signed [DW-1:0] DIVISOR = N;
            /* verilator lint_on WIDTHEXPAND */
            /* verilator lint_on WIDTHTRUNC */
            assign q = din / DIVISOR;
        end
    endgenerate
endmodule

// ---------------------------------------------------------------------------------------------
// skl_gap: global average pooling over N beats. Sums in the accumulator type (ACC_W bits, wraps),
// divides the mantissa by N truncating toward zero (as ap_fixed's operator/), casts to OUT.
module skl_gap #(
    parameter integer C = 1,
    parameter integer N = 64,
    parameter integer LOG2N = 6,  // used when N is a power of two (POW2 = 1): the division is a shift
    parameter integer POW2 = 1,
    parameter integer IN_W = 8,
    parameter integer IN_F = 0,
    parameter integer IN_S = 0,
    parameter integer ACC_W = 16,
    parameter integer ACC_F = 0,
    parameter integer ACC_S = 0,
    parameter integer OUT_W = 8,
    parameter integer OUT_F = 0,
    parameter integer OUT_S = 1,
    parameter integer RND = 0,
    parameter integer OVF = 0,
    parameter integer CW = 16  // beat counter bits
) (
    input  wire               clk,
    input  wire               rst_n,
    input  wire [C*IN_W-1:0]  in_data,
    input  wire               in_valid,
    output wire               in_ready,
    output wire [C*OUT_W-1:0] out_data,
    output wire               out_valid,
    input  wire               out_ready
);
    localparam integer SH = ACC_F - IN_F;
    localparam integer XW = ((IN_W + (SH > 0 ? SH : 0)) > ACC_W ? (IN_W + (SH > 0 ? SH : 0)) : ACC_W) + 1;
    reg  [C*ACC_W-1:0] acc;
    wire [C*ACC_W-1:0] acc_next;
    wire [C*OUT_W-1:0] avg;
    reg  [CW-1:0]      beat;
    wire               first = (beat == {CW{1'b0}});
    /* verilator lint_off WIDTHEXPAND */
    wire               last = (beat == N - 1);
    /* verilator lint_on WIDTHEXPAND */
    genvar i;
    generate
        for (i = 0; i < C; i = i + 1) begin : g_ch
            wire [IN_W-1:0] x = in_data[i*IN_W +: IN_W];
            wire signed [XW-1:0] x_ext = (IN_S != 0) ? {{(XW-IN_W){x[IN_W-1]}}, x} : {{(XW-IN_W){1'b0}}, x};
            /* verilator lint_off UNUSEDSIGNAL */  // bits above the accumulator width wrap away
            wire signed [XW-1:0] x_al = (SH >= 0) ? (x_ext <<< (SH >= 0 ? SH : 0)) : (x_ext >>> (SH < 0 ? -SH : 0));
            /* verilator lint_on UNUSEDSIGNAL */
            wire [ACC_W-1:0] a_prev = first ? {ACC_W{1'b0}} : acc[i*ACC_W +: ACC_W];
            assign acc_next[i*ACC_W +: ACC_W] = a_prev + x_al[ACC_W-1:0];
            wire [ACC_W-1:0] s = acc_next[i*ACC_W +: ACC_W];
            wire signed [ACC_W:0] s_ext = (ACC_S != 0) ? {s[ACC_W-1], s} : {1'b0, s};
            wire signed [ACC_W:0] q;
            skl_divn #(.DW(ACC_W+1), .N(N), .LOG2N(LOG2N), .POW2(POW2)) u_div (.din(s_ext), .q(q));
            skl_cast #(
                .IN_W(ACC_W+1), .IN_F(ACC_F), .IN_S(1), .OUT_W(OUT_W), .OUT_F(OUT_F), .OUT_S(OUT_S), .RND(RND), .OVF(OVF)
            ) u_cast (
                .din(q),
                .dout(avg[i*OUT_W +: OUT_W])
            );
        end
    endgenerate
    wire room;
    assign in_ready = !last || room;
    wire take = in_valid && in_ready;
    always @(posedge clk) begin
        if (!rst_n) begin
            beat <= {CW{1'b0}};
        end else if (take) begin
            beat <= last ? {CW{1'b0}} : beat + 1'b1;
        end
    end
    always @(posedge clk) begin
        if (take) acc <= acc_next;
    end
    skl_oreg #(.DW(C*OUT_W)) u_out (
        .clk(clk), .rst_n(rst_n), .load(take && last), .din(avg), .room(room),
        .out_data(out_data), .out_valid(out_valid), .out_ready(out_ready)
    );
endmodule

// ---------------------------------------------------------------------------------------------
// skl_pool: max or average pooling over PH x PW windows moved by a stride equal to the window (what
// hls4ml's io_stream pooling computes), without padding; pixels right of or below the last whole
// window are read and dropped. Every input value is first cast to the accumulator type (ACC_RND,
// ACC_OVF). One running max or sum per output column and channel (OW x C accumulators) is updated
// as the rows of a window stream in; the window's last pixel loads the output beat. Average: the sum
// (wrapping in ACC_W bits) divided by PH*PW truncating toward zero (skl_divn), then cast to OUT.
module skl_pool #(
    parameter integer C = 1,
    parameter integer H = 4,
    parameter integer W = 4,
    parameter integer PH = 2,
    parameter integer PW = 2,
    parameter integer OH = 2,
    parameter integer OW = 2,
    parameter integer MAX = 1,  // 1: max pooling, 0: average pooling
    parameter integer LOG2N = 2,  // average: PH*PW is 2^LOG2N when POW2 = 1
    parameter integer POW2 = 1,
    parameter integer IN_W = 8,
    parameter integer IN_F = 0,
    parameter integer IN_S = 1,
    parameter integer ACC_W = 8,
    parameter integer ACC_F = 0,
    parameter integer ACC_S = 1,
    parameter integer ACC_RND = 0,
    parameter integer ACC_OVF = 0,
    parameter integer OUT_W = 8,
    parameter integer OUT_F = 0,
    parameter integer OUT_S = 1,
    parameter integer RND = 0,
    parameter integer OVF = 0,
    parameter integer CB = 8  // bits of the row and column counters (hold H and W)
) (
    input  wire               clk,
    input  wire               rst_n,
    input  wire [C*IN_W-1:0]  in_data,
    input  wire               in_valid,
    output wire               in_ready,
    output wire [C*OUT_W-1:0] out_data,
    output wire               out_valid,
    input  wire               out_ready
);
    localparam integer OCB = (OW > 1) ? $clog2(OW) : 1;
    reg  [CB-1:0] x, y, wx, wy;  // pixel column and row; position in_window the window
    reg  [CB-1:0] ox;            // output column of the window the pixel falls in
    /* verilator lint_off WIDTHEXPAND */
    wire in_window = (x < OW * PW) && (y < OH * PH);
    wire first = (wx == 0) && (wy == 0);
    wire last = in_window && (wx == PW - 1) && (wy == PH - 1);
    wire end_of_row = (x == W - 1);
    wire end_of_image = (y == H - 1);
    wire wx_wrap = (wx == PW - 1);
    wire wy_wrap = (wy == PH - 1);
    /* verilator lint_on WIDTHEXPAND */
    /* verilator lint_off UNUSEDSIGNAL */  // only the low bits index the OW accumulators
    wire [CB-1:0] col = in_window ? ox : {CB{1'b0}};
    /* verilator lint_on UNUSEDSIGNAL */
    wire [OCB-1:0] col_a = col[OCB-1:0];
    reg  [C*ACC_W-1:0] acc [0:OW-1];
    wire [C*ACC_W-1:0] prev = acc[col_a];
    wire [C*ACC_W-1:0] acc_next;
    wire [C*OUT_W-1:0] result;
    genvar i;
    generate
        for (i = 0; i < C; i = i + 1) begin : g_ch
            wire [ACC_W-1:0] xa;
            skl_cast #(
                .IN_W(IN_W), .IN_F(IN_F), .IN_S(IN_S), .OUT_W(ACC_W), .OUT_F(ACC_F), .OUT_S(ACC_S), .RND(ACC_RND), .OVF(ACC_OVF)
            ) u_in (
                .din(in_data[i*IN_W +: IN_W]),
                .dout(xa)
            );
            wire [ACC_W-1:0] a = prev[i*ACC_W +: ACC_W];
            wire [ACC_W-1:0] next;
            if (MAX != 0) begin : g_max
                wire signed [ACC_W:0] a_ext = (ACC_S != 0) ? {a[ACC_W-1], a} : {1'b0, a};
                wire signed [ACC_W:0] x_ext = (ACC_S != 0) ? {xa[ACC_W-1], xa} : {1'b0, xa};
                assign next = (first || x_ext > a_ext) ? xa : a;
                skl_cast #(
                    .IN_W(ACC_W), .IN_F(ACC_F), .IN_S(ACC_S), .OUT_W(OUT_W), .OUT_F(OUT_F), .OUT_S(OUT_S), .RND(RND), .OVF(OVF)
                ) u_out (
                    .din(next),
                    .dout(result[i*OUT_W +: OUT_W])
                );
            end else begin : g_avg
                assign next = first ? xa : a + xa;
                wire signed [ACC_W:0] s_ext = (ACC_S != 0) ? {next[ACC_W-1], next} : {1'b0, next};
                wire signed [ACC_W:0] q;
                skl_divn #(.DW(ACC_W+1), .N(PH*PW), .LOG2N(LOG2N), .POW2(POW2)) u_div (.din(s_ext), .q(q));
                skl_cast #(
                    .IN_W(ACC_W+1), .IN_F(ACC_F), .IN_S(1), .OUT_W(OUT_W), .OUT_F(OUT_F), .OUT_S(OUT_S), .RND(RND), .OVF(OVF)
                ) u_out (
                    .din(q),
                    .dout(result[i*OUT_W +: OUT_W])
                );
            end
            assign acc_next[i*ACC_W +: ACC_W] = next;
        end
    endgenerate
    wire room;
    assign in_ready = !last || room;
    wire take = in_valid && in_ready;
    always @(posedge clk) begin
        if (!rst_n) begin
            x <= {CB{1'b0}}; y <= {CB{1'b0}}; wx <= {CB{1'b0}}; wy <= {CB{1'b0}}; ox <= {CB{1'b0}};
        end else if (take) begin
            if (end_of_row) begin
                x <= {CB{1'b0}}; wx <= {CB{1'b0}}; ox <= {CB{1'b0}};
                y <= end_of_image ? {CB{1'b0}} : y + 1'b1;
                wy <= (end_of_image || wy_wrap) ? {CB{1'b0}} : wy + 1'b1;
            end else begin
                x <= x + 1'b1;
                wx <= wx_wrap ? {CB{1'b0}} : wx + 1'b1;
                ox <= wx_wrap ? ox + 1'b1 : ox;
            end
        end
    end
    always @(posedge clk) begin
        if (take && in_window) acc[col_a] <= acc_next;
    end
    skl_oreg #(.DW(C*OUT_W)) u_out (
        .clk(clk), .rst_n(rst_n), .load(take && last), .din(result), .room(room),
        .out_data(out_data), .out_valid(out_valid), .out_ready(out_ready)
    );
endmodule

// ---------------------------------------------------------------------------------------------
// skl_conv: streaming KH x KW convolution, strides SH x SW, zero padding (PT top, PL left; bottom/right
// padding is implicit in the bounds), PI x PO multiply-accumulates per cycle. A 1-D convolution is one
// with H = KH = 1; a Dense after a Flatten is one whose kernel covers the whole image.
//
// Input pixels are written into a circular window buffer of 2^BUF_AW pixels, addressed by their
// running raster index. An output pixel is computed once its last input pixel has arrived; pixels
// older than the first one that this or a later window reads are dead, which frees room for the
// writer. The pixel takes G * KH * KW * NCH steps (G = COUT/PO output groups, NCH = CIN/PI input chunks); each
// step reads one window pixel and one weight word (PO x PI weights, external ROM, address = step)
// and adds PI products into each of PO accumulators. Accumulation is modulo 2^AW (the accumulator
// type wraps), products are shifted onto the accumulator's binary point by PSH (negative: floor).
// The accumulators start from the bias word of the group (external ROM, already aligned).
//
// MUL chooses how the PI x PO products are made (the planner's choice per layer):
//   0  one multiplier per product (a DSP48 each after synthesis); weight word: lane o*PI+i, WW bits;
//   1  two products per multiplier: lanes 2j and 2j+1 share the input x, so one multiply
//      (w_hi * 2^K + w_lo) * x with K = XW + WW gives both (|w * x| < 2^(K-1)). Adding 2^(K-1) to the
//      product makes the high field exactly w_hi * x (no borrow from a negative low product) and the
//      low field w_lo * x with its top bit flipped. Synthesis puts the operand's sum in the DSP48's
//      pre-adder and the constant in its post-adder (no LUT). Needs PO even and an operand of
//      XW + 2WW + 1 <= 25 bits beside XW + 1 <= 18 (w8a8 and narrower); the weight word is as for 0;
//   2  shift-and-add in LUTs: the product is the sum of x << b over the weight's set bits (the sign
//      bit subtracted), so synthesis sees adders, no multiplier; for narrow weights (<= 4 bits).
module skl_addtree #(
    parameter integer N = 2,   // operands
    parameter integer W = 16   // width: every sum wraps to W bits, so the order of the additions is free
) (
    input  wire         clk,
    input  wire         en,
    input  wire [N*W-1:0] in,
    output wire [W-1:0] sum
);
    // A balanced binary tree of W-bit adders with a register after every level: LEVELS = clog2(N) cycles
    // from `in` to `sum`, one add of logic between registers. The netlist it replaces (acc + the PI
    // products added in one cycle) was a chain of DSP48s in series; the timing estimate put it at
    // 17.6 MHz (r8-skip-w8a8).
    function integer nodes_at;  // nodes at level lvl (level 0: the operands)
        input integer lvl;
        integer k, n;
        begin
            n = N;
            for (k = 0; k < lvl; k = k + 1) n = (n + 1) / 2;
            nodes_at = n;
        end
    endfunction
    function integer offset_at;  // index of level lvl's first node in `all`
        input integer lvl;
        integer k, n, off;
        begin
            n = N;
            off = 0;
            for (k = 0; k < lvl; k = k + 1) begin
                off = off + n;
                n = (n + 1) / 2;
            end
            offset_at = off;
        end
    endfunction
    localparam integer LEVELS = (N > 1) ? $clog2(N) : 0;
    localparam integer NODES = offset_at(LEVELS) + 1;

    wire [NODES*W-1:0] all;
    assign all[N*W-1:0] = in;
    genvar l, k;
    generate
        for (l = 1; l <= LEVELS; l = l + 1) begin : g_level
            for (k = 0; k < nodes_at(l); k = k + 1) begin : g_node
                reg [W-1:0] r;
                if (2 * k + 1 < nodes_at(l - 1)) begin : g_pair
                    always @(posedge clk) begin
                        if (en) r <= all[(offset_at(l - 1) + 2 * k) * W +: W] + all[(offset_at(l - 1) + 2 * k + 1) * W +: W];
                    end
                end else begin : g_pass
                    always @(posedge clk) begin
                        if (en) r <= all[(offset_at(l - 1) + 2 * k) * W +: W];
                    end
                end
                assign all[(offset_at(l) + k) * W +: W] = r;
            end
        end
    endgenerate
    assign sum = all[offset_at(LEVELS) * W +: W];
endmodule

module skl_conv #(
    parameter integer H = 8,
    parameter integer W = 8,
    parameter integer CIN = 1,
    parameter integer COUT = 1,
    parameter integer KH = 3,  // kernel rows
    parameter integer KW = 3,  // kernel columns
    parameter integer SH = 1,  // row stride
    parameter integer SW = 1,  // column stride
    parameter integer PT = 1,
    parameter integer PL = 1,
    parameter integer OH = 8,
    parameter integer OW = 8,
    parameter integer XW = 8,
    parameter integer XS = 1,
    parameter integer WW = 8,
    parameter integer AW = 16,
    parameter integer PSH = 0,
    parameter integer PI = 1,
    parameter integer PO = 1,
    parameter integer MUL = 0,  // 0: a multiplier per product, 1: two products per multiplier, 2: LUTs
    parameter integer BUF_AW = 5,
    parameter integer SA_W = 8,  // step address bits: clog2(G*KH*KW*NCH), at least 1
    parameter integer GA_W = 1   // group address bits: clog2(G), at least 1
) (
    input  wire                clk,
    input  wire                rst_n,
    input  wire [CIN*XW-1:0]   in_data,
    input  wire                in_valid,
    output wire                in_ready,
    output wire [COUT*AW-1:0]  out_data,
    output wire                out_valid,
    input  wire                out_ready,
    output wire                rom_en,
    output wire [SA_W-1:0]     w_addr,
    input  wire [PO*PI*WW-1:0] w_data,
    output wire [GA_W-1:0]     b_addr,
    input  wire [PO*AW-1:0]    b_data
);
    localparam integer G = COUT / PO;
    localparam integer NCH = CIN / PI;
    localparam integer PW = XW + 1 + WW;  // signed product width (input zero-extended when unsigned)
    localparam integer EW = ((PW + (PSH > 0 ? PSH : 0)) > AW ? (PW + (PSH > 0 ? PSH : 0)) : AW);

    // ---- window buffer -------------------------------------------------------------------
    reg [CIN*XW-1:0] mem [0:(1<<BUF_AW)-1];
    reg [31:0] wr_cnt;

    // ---- issue stage: output pixel (oy, ox), step counters --------------------------------
    reg [15:0] oy;
    reg [15:0] ox;
    reg wrap_row;            // ox == OW - 1: this pixel ends its row
    reg last_row;            // oy == OH - 1
    reg signed [15:0] row0;  // oy*SH - PT
    reg signed [15:0] col0;  // ox*SW - PL
    reg [31:0] base;         // raster index of this image's first pixel
    reg [15:0] g;
    reg [15:0] ky;
    reg [15:0] kx;
    reg [15:0] c;
    reg [SA_W-1:0] step;

    /* verilator lint_off WIDTHEXPAND */
    /* verilator lint_off WIDTHTRUNC */
    wire signed [15:0] row_first = (row0 < 0) ? 16'sd0 : row0;
    wire signed [15:0] col_first = (col0 < 0) ? 16'sd0 : col0;
    // The next output row's windows start at column 0 of its first row: while that row is this
    // window's first row (top padding), its pixels left of the window are still needed.
    wire signed [15:0] row_next = (row0 + SH < 0) ? 16'sd0 : row0 + SH;
    wire keep_row = !last_row && (row_next == row_first);
    // `need`, the raster index of the last input pixel of the window, is a register: loaded when a
    // pixel's last step issues, with the next pixel's value computed ahead from the next pixel's
    // coordinates, so the window test reads a register and no path runs from the window state through
    // the test and the issue logic back into it.
    // The next pixel's coordinates (the issue stage moves to them when a pixel's last step issues).
    // Whether this pixel ends its row and its image are registers (wrap_row, last_row), kept with ox and
    // oy, so no equality test of the counters sits in front of the look-ahead.
    wire wrap_image = wrap_row && last_row;
    wire signed [15:0] row0_nx = wrap_image ? -PT : wrap_row ? row0 + SH : row0;
    wire signed [15:0] col0_nx = wrap_row ? -PL : col0 + SW;
    wire [31:0] base_nx = wrap_image ? base + H * W : base;
    // The last row and column of the next window, clipped to the image: each candidate is compared
    // and summed from row0/col0 directly (in parallel), then selected by the wrap flags.
    localparam integer ROW_LAST0 = (KH - 1 - PT > H - 1) ? H - 1 : KH - 1 - PT;  // the first pixel's window
    localparam integer COL_LAST0 = (KW - 1 - PL > W - 1) ? W - 1 : KW - 1 - PL;
    wire signed [15:0] row_last_same = (row0 > H - KH) ? H - 1 : row0 + KH - 1;
    wire signed [15:0] row_last_down = (row0 > H - SH - KH) ? H - 1 : row0 + SH + KH - 1;
    wire signed [15:0] row_last_nx = wrap_image ? ROW_LAST0 : wrap_row ? row_last_down : row_last_same;
    wire signed [15:0] col_last_nx = wrap_row ? COL_LAST0 : (col0 > W - SW - KW) ? W - 1 : col0 + SW + KW - 1;
    // With at least three steps per pixel the look-ahead takes two registered cycles (the coordinates it
    // reads change only when a pixel's last step issues, and the next such issue is >= 3 cycles later):
    // the clip, then the sum. With fewer, it is one combinational sum.
    localparam integer STEPS = G * KH * KW * NCH;
    wire [31:0] need_nx;
    generate
        if (STEPS >= 3) begin : g_need_staged
            reg signed [15:0] row_last_r;
            reg signed [15:0] col_last_r;
            reg [31:0] base_r;
            reg [31:0] need_nx_r;
            always @(posedge clk) begin
                row_last_r <= row_last_nx;
                col_last_r <= col_last_nx;
                base_r <= base_nx;
                need_nx_r <= base_r + row_last_r * W + col_last_r;
            end
            assign need_nx = need_nx_r;
        end else begin : g_need_comb
            assign need_nx = base_nx + row_last_nx * W + col_last_nx;
        end
    endgenerate
    reg [31:0] need;
    wire [31:0] oldest = base + row_first * W + (keep_row ? 16'sd0 : col_first);  // first pixel still needed
    wire [31:0] have = wr_cnt - need;                     // > 0: the window is complete
    wire win_ok = (have != 32'd0) && !have[31];
    // Input ready is a register, so no path runs from this layer's window state through the streams
    // upstream. It is computed from `oldest` one cycle late (oldest only grows: a stale value frees
    // buffer space late, never early) with room for one more beat than the cycle accepts (at most one
    // beat a cycle), so a beat it admits always has a free slot. The window needs at most
    // (KH-1)*W + W pixels and the buffer holds at least (KH-1)*W + KW + W, so the slot it keeps back
    // never starves the window.
    reg [31:0] oldest_r;
    reg in_ready_r;
    wire [31:0] held_next = wr_cnt + 32'd1 - oldest_r;  // negative while a stride skips pixels not yet written
    always @(posedge clk) begin
        if (!rst_n) begin
            oldest_r <= 32'd0;
            in_ready_r <= 1'b0;
        end else begin
            oldest_r <= oldest;
            in_ready_r <= held_next[31] || (held_next < (32'd1 << BUF_AW));
        end
    end
    assign in_ready = in_ready_r;

    wire signed [15:0] iy = row0 + ky;
    wire signed [15:0] ix = col0 + kx;
    wire inb = (iy >= 0) && (iy < H) && (ix >= 0) && (ix < W);
    /* verilator lint_off UNUSEDSIGNAL */  // only the low BUF_AW bits address the circular buffer
    wire [31:0] rd_idx = base + iy * W + ix;
    /* verilator lint_on UNUSEDSIGNAL */
    /* verilator lint_on WIDTHTRUNC */
    /* verilator lint_on WIDTHEXPAND */

    reg v1;
    reg first1;
    reg lastpix1;
    reg inb1;
    /* verilator lint_off UNUSEDSIGNAL */  // the group end is only read when G > 1
    reg last1;
    /* verilator lint_on UNUSEDSIGNAL */
    reg [15:0] c1;
    reg [CIN*XW-1:0] q1;
    reg [PO*AW-1:0] acc;

    wire room;      // the output register can take the finished pixel
    wire vs;        // a step's sum reaches the accumulator (TREE_D cycles after v1)
    wire lastpixs;  // ... and it is the last step of a pixel
    wire en = !(vs && lastpixs && !room);
    wire issue = en && win_ok;
    /* verilator lint_off WIDTHEXPAND */
    wire last_c = (c == NCH - 1);
    wire last_kx = (kx == KW - 1);
    wire last_ky = (ky == KH - 1);
    wire last_g = (g == G - 1);
    /* verilator lint_on WIDTHEXPAND */
    wire group_end = last_c && last_kx && last_ky;
    wire pixel_end = group_end && last_g;

    assign rom_en = en;
    assign w_addr = step;
    assign b_addr = g[GA_W-1:0];

    always @(posedge clk) begin
        if (in_valid && in_ready) mem[wr_cnt[BUF_AW-1:0]] <= in_data;
        if (en) q1 <= mem[rd_idx[BUF_AW-1:0]];
    end

    always @(posedge clk) begin
        if (!rst_n) begin
            wr_cnt <= 32'd0;
        end else if (in_valid && in_ready) begin
            wr_cnt <= wr_cnt + 32'd1;
        end
    end

    /* verilator lint_off WIDTHEXPAND */
    /* verilator lint_off WIDTHTRUNC */
    always @(posedge clk) begin
        if (!rst_n) begin
            oy <= 16'd0;
            ox <= 16'd0;
            wrap_row <= (OW == 1);
            last_row <= (OH == 1);
            row0 <= -PT;
            col0 <= -PL;
            base <= 32'd0;
            g <= 16'd0;
            ky <= 16'd0;
            kx <= 16'd0;
            c <= 16'd0;
            step <= {SA_W{1'b0}};
            need <= ROW_LAST0 * W + COL_LAST0;
            v1 <= 1'b0;
            first1 <= 1'b0;
            last1 <= 1'b0;
            lastpix1 <= 1'b0;
            inb1 <= 1'b0;
            c1 <= 16'd0;
        end else if (en) begin
            v1 <= issue;
            if (issue) begin
                first1 <= (c == 0) && (kx == 0) && (ky == 0);
                last1 <= group_end;
                lastpix1 <= pixel_end;
                inb1 <= inb;
                c1 <= c;
                if (!last_c) begin
                    c <= c + 1;
                end else begin
                    c <= 0;
                    if (!last_kx) begin
                        kx <= kx + 1;
                    end else begin
                        kx <= 0;
                        if (!last_ky) begin
                            ky <= ky + 1;
                        end else begin
                            ky <= 0;
                            g <= last_g ? 16'd0 : g + 1;
                        end
                    end
                end
                if (pixel_end) begin
                    step <= {SA_W{1'b0}};
                    need <= need_nx;
                    row0 <= row0_nx;
                    col0 <= col0_nx;
                    base <= base_nx;
                    ox <= wrap_row ? 16'd0 : ox + 1;
                    wrap_row <= wrap_row ? (OW == 1) : (ox == OW - 2);
                    if (wrap_row) begin
                        oy <= wrap_image ? 16'd0 : oy + 1;
                        last_row <= wrap_image ? (OH == 1) : (oy == OH - 2);
                    end
                end else begin
                    step <= step + 1'b1;
                end
            end
        end
    end
    /* verilator lint_on WIDTHTRUNC */
    /* verilator lint_on WIDTHEXPAND */

    // ---- multiply-accumulate stage ---------------------------------------------------------
    // The step's chunk of PI inputs. The chunks are laid out at a power-of-two stride CS, so that the
    // select's offset c1 * CS is a shift: q1[c1*PI*XW +: PI*XW] multiplies c1 by PI*XW when that is not
    // a power of two (the w16a16 fc, XW = 17: Yosys put the product in a DSP48, and the shifter behind
    // it was the design's critical path, 124.6 MHz). Where PI*XW is a power of two this is that select.
    localparam integer CS = 1 << $clog2(PI * XW);
    wire [NCH*CS-1:0] q1_chunks;
    genvar ch;
    generate
        for (ch = 0; ch < NCH; ch = ch + 1) begin : g_chunk
            assign q1_chunks[ch*CS +: PI*XW] = q1[ch*PI*XW +: PI*XW];
            if (CS > PI * XW) begin : g_pad
                assign q1_chunks[ch*CS + PI*XW +: CS - PI*XW] = {(CS - PI*XW){1'b0}};
            end
        end
    endgenerate
    wire [PI*XW-1:0] x_chunk = inb1 ? q1_chunks[c1*CS +: PI*XW] : {(PI*XW){1'b0}};
    wire [PO*PI*AW-1:0] terms;
    wire [PO*PI*PW-1:0] prods;  // lane o*PI+i: the signed product x_i * w_oi
    wire [PI*(XW+1)-1:0] x_in;  // input i as a signed XW+1-bit operand (zero-extended when unsigned)
    // The operand stage: the inputs, the weights (straight from the ROM), and each lane's bias operand
    // are registered before the multipliers, so no path runs from a block RAM's output through a
    // multiplier (on the packed r8-skip Yosys put the weight registers inside the DSP48s and kept the
    // input and bias registers in fabric).
    reg [PI*(XW+1)-1:0] x_op;
    reg [PO*PI*WW-1:0] w_op;
    reg [PO*AW-1:0] b_op;  // the bias on a pixel group's first step, else 0
    genvar o, i, b;
    generate
        for (i = 0; i < PI; i = i + 1) begin : g_x
            wire [XW-1:0] xv = x_chunk[i*XW +: XW];
            assign x_in[i*(XW+1) +: XW+1] = (XS != 0) ? {xv[XW-1], xv} : {1'b0, xv};
        end
        if (MUL == 1) begin : g_packed
            localparam integer K = XW + WW;         // each product fits K signed bits
            localparam integer OPW = K + WW + 1;    // the packed weight operand
            localparam integer MW = OPW + XW + 1;   // its product with x
            for (o = 0; o < PO / 2; o = o + 1) begin : g_pair
                for (i = 0; i < PI; i = i + 1) begin : g_mac
                    wire signed [XW:0] xs = x_op[i*(XW+1) +: XW+1];
                    wire signed [WW-1:0] w_lo = w_op[((2*o)*PI+i)*WW +: WW];
                    wire signed [WW-1:0] w_hi = w_op[((2*o+1)*PI+i)*WW +: WW];
                    /* verilator lint_off WIDTHEXPAND */
                    wire signed [OPW-1:0] wp = (w_hi <<< K) + w_lo;
                    /* verilator lint_off UNUSEDSIGNAL */  // bits above the two fields are sign copies
                    wire signed [MW-1:0] m = wp * xs + (1 <<< (K - 1));
                    /* verilator lint_on UNUSEDSIGNAL */
                    /* verilator lint_on WIDTHEXPAND */
                    wire [K-1:0] lo = {~m[K-1], m[K-2:0]};
                    wire [K-1:0] hi = m[2*K-1:K];
                    assign prods[((2*o)*PI+i)*PW +: PW] = {{(PW-K){lo[K-1]}}, lo};
                    assign prods[((2*o+1)*PI+i)*PW +: PW] = {{(PW-K){hi[K-1]}}, hi};
                end
            end
        end else begin : g_one_per_product
            for (o = 0; o < PO; o = o + 1) begin : g_lane
                for (i = 0; i < PI; i = i + 1) begin : g_mac
                    wire signed [XW:0] xs = x_op[i*(XW+1) +: XW+1];
                    wire signed [WW-1:0] wv = w_op[(o*PI+i)*WW +: WW];
                    if (MUL == 2) begin : g_lut
                        // sum of x << b over the weight's bits, the sign bit's term subtracted
                        wire signed [PW-1:0] xe = {{(PW-XW-1){xs[XW]}}, xs};
                        wire [WW*PW-1:0] part;  // part b: the sum over bits 0..b
                        for (b = 0; b < WW; b = b + 1) begin : g_bit
                            wire signed [PW-1:0] sh = xe <<< b;
                            wire signed [PW-1:0] bit_term = wv[b] ? sh : {PW{1'b0}};
                            if (b == 0) begin : g_first
                                assign part[0 +: PW] = (WW == 1) ? -bit_term : bit_term;
                            end else if (b == WW - 1) begin : g_sign
                                assign part[b*PW +: PW] = part[(b-1)*PW +: PW] - bit_term;
                            end else begin : g_add
                                assign part[b*PW +: PW] = part[(b-1)*PW +: PW] + bit_term;
                            end
                        end
                        assign prods[(o*PI+i)*PW +: PW] = part[(WW-1)*PW +: PW];
                    end else begin : g_dsp
                        assign prods[(o*PI+i)*PW +: PW] = xs * wv;
                    end
                end
            end
        end
        for (o = 0; o < PO * PI; o = o + 1) begin : g_term
            wire signed [PW-1:0] prod = prods[o*PW +: PW];
            wire signed [EW-1:0] prod_ext = {{(EW-PW){prod[PW-1]}}, prod};
            /* verilator lint_off UNUSEDSIGNAL */  // bits above the accumulator width wrap away
            wire signed [EW-1:0] term = (PSH >= 0) ? (prod_ext <<< (PSH >= 0 ? PSH : 0)) : (prod_ext >>> (PSH < 0 ? -PSH : 0));
            /* verilator lint_on UNUSEDSIGNAL */
            assign terms[o*AW +: AW] = term[AW-1:0];
        end
    endgenerate

    // After the operand stage, the products and each lane's bias operand are registered, summed by a
    // registered adder tree, and the sum meets the accumulator TREE_D = 2 + clog2(PI + 1) cycles after
    // the issue stage; the step's flags travel beside it. Every register moves with `en`, so a full
    // output register stalls the whole pipeline at once.
    localparam integer NL = PI + 1;
    localparam integer TREE_D = 2 + $clog2(NL);
    reg [PO*NL*AW-1:0] leaves;
    always @(posedge clk) begin
        if (en) begin : load_leaves
            integer lo, li;
            x_op <= x_in;
            w_op <= w_data;
            b_op <= first1 ? b_data : {(PO*AW){1'b0}};
            for (lo = 0; lo < PO; lo = lo + 1) begin
                for (li = 0; li < PI; li = li + 1) leaves[(lo*NL+li)*AW +: AW] <= terms[(lo*PI+li)*AW +: AW];
                leaves[(lo*NL+PI)*AW +: AW] <= b_op[lo*AW +: AW];
            end
        end
    end
    wire [PO*AW-1:0] step_sum;
    generate
        for (o = 0; o < PO; o = o + 1) begin : g_tree
            skl_addtree #(.N(NL), .W(AW)) u_tree (
                .clk(clk), .en(en), .in(leaves[o*NL*AW +: NL*AW]), .sum(step_sum[o*AW +: AW])
            );
        end
    endgenerate
    reg [TREE_D-1:0] vd, firstd, lastd, lastpixd;  // bit TREE_D-1: the step whose sum is at step_sum
    always @(posedge clk) begin
        if (!rst_n) begin
            vd <= {TREE_D{1'b0}};
        end else if (en) begin
            vd <= {vd[TREE_D-2:0], v1};
        end
        if (en) begin
            firstd <= {firstd[TREE_D-2:0], first1};
            lastd <= {lastd[TREE_D-2:0], last1};
            lastpixd <= {lastpixd[TREE_D-2:0], lastpix1};
        end
    end
    assign vs = vd[TREE_D-1];
    wire firsts = firstd[TREE_D-1];
    /* verilator lint_off UNUSEDSIGNAL */  // the group end is only read when G > 1
    wire lasts = lastd[TREE_D-1];
    /* verilator lint_on UNUSEDSIGNAL */
    assign lastpixs = lastpixd[TREE_D-1];

    reg [PO*AW-1:0] acc_next;
    integer lo;
    always @* begin
        for (lo = 0; lo < PO; lo = lo + 1) begin
            acc_next[lo*AW +: AW] = (firsts ? {AW{1'b0}} : acc[lo*AW +: AW]) + step_sum[lo*AW +: AW];
        end
    end

    wire [COUT*AW-1:0] pixel;  // the finished pixel: every group's accumulators
    generate
        if (G > 2) begin : g_groups
            // finished groups shift in from the top: after G-1 of them, group 0 sits in the low bits
            reg [(G-1)*PO*AW-1:0] res_work;
            always @(posedge clk) begin
                if (en && vs && lasts && !lastpixs) res_work <= {acc_next, res_work[(G-1)*PO*AW-1:PO*AW]};
            end
            assign pixel = {acc_next, res_work};
        end else if (G == 2) begin : g_two
            reg [PO*AW-1:0] res_work;
            always @(posedge clk) begin
                if (en && vs && lasts && !lastpixs) res_work <= acc_next;
            end
            assign pixel = {acc_next, res_work};
        end else begin : g_single
            assign pixel = acc_next;
        end
    endgenerate

    always @(posedge clk) begin
        if (en && vs) acc <= acc_next;
    end

    skl_oreg #(.DW(COUT*AW)) u_out (
        .clk(clk), .rst_n(rst_n), .load(en && vs && lastpixs), .din(pixel), .room(room),
        .out_data(out_data), .out_valid(out_valid), .out_ready(out_ready)
    );
endmodule

// ---------------------------------------------------------------------------------------------
// skl_sign: hls4ml's binary_tanh, +1 where x >= 0 and -1 elsewhere, cast to OUT.
// ---------------------------------------------------------------------------------------------
module skl_sign #(
    parameter integer C = 1,
    parameter integer IN_W = 8,
    parameter integer IN_S = 1,
    parameter integer OUT_W = 2,
    parameter integer OUT_F = 0,
    parameter integer OUT_S = 1,
    parameter integer RND = 0,
    parameter integer OVF = 0
) (
    input  wire               clk,
    input  wire               rst_n,
    input  wire [C*IN_W-1:0]  in_data,
    input  wire               in_valid,
    output wire               in_ready,
    output wire [C*OUT_W-1:0] out_data,
    output wire               out_valid,
    input  wire               out_ready
);
    wire [C*OUT_W-1:0] act;
    genvar i;
    generate
        for (i = 0; i < C; i = i + 1) begin : g_ch
            wire negative = (IN_S != 0) && in_data[i*IN_W + IN_W - 1];
            skl_cast #(
                .IN_W(2), .IN_F(0), .IN_S(1), .OUT_W(OUT_W), .OUT_F(OUT_F), .OUT_S(OUT_S), .RND(RND), .OVF(OVF)
            ) u_cast (
                .din(negative ? 2'b11 : 2'b01),
                .dout(act[i*OUT_W +: OUT_W])
            );
        end
    endgenerate
    wire room;
    assign in_ready = room;
    skl_oreg #(.DW(C*OUT_W)) u_out (
        .clk(clk), .rst_n(rst_n), .load(in_valid && room), .din(act), .room(room),
        .out_data(out_data), .out_valid(out_valid), .out_ready(out_ready)
    );
endmodule

`default_nettype wire
/* verilator lint_on DECLFILENAME */
