"""The cocotb side of the library self-test (:mod:`skipless.cosim.selftest`): wait for the bench to
finish, write whether it passed."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import cocotb
from cocotb.triggers import First, RisingEdge, Timer

from skipless.cosim.selftest import BEATS


@cocotb.test()
async def selftest(dut):
    start = time.perf_counter()
    await First(RisingEdge(dut.done), Timer(60 * BEATS * 10, unit="ns"))
    passed = bool(int(dut.done.value)) and not bool(int(dut.failed.value))
    Path(os.environ["SKIPLESS_SELFTEST_RESULT"]).write_text(json.dumps({"done": passed, "wall_s": time.perf_counter() - start}))
