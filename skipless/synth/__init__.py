"""Synthesis flows. Today: the vendor HLS flow (Vitis/Vivado through hls4ml), where the tools exist."""

from skipless.synth.vendor import VENDOR_TOOLS, find_vendor_tool, vendor_synth

__all__ = ["VENDOR_TOOLS", "find_vendor_tool", "vendor_synth"]
