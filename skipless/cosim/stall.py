"""Naming the cause of a stall from the open RTL's per-stream beat counters.

Every internal stream of the open RTL has a counter ``beats_<stream>`` (see :mod:`skipless.rtl.emit`).
Sampled now and then during a run, they tell which layer moved last. A skip FIFO's fill is the
difference of the counters on its two sides: when it holds its whole depth while the network
stands still, the FIFO is named as the cause (it is too shallow for the lead of its branch, so the
fork in front of it stops both branches).
"""

from __future__ import annotations


class CounterWatch:
    def __init__(self, handle, streams: list[dict], fifos: list[dict]):
        self.handle = handle
        self.streams = [s for s in streams if _has(handle, s["counter"])]
        self.fifos = fifos
        self.seen = {s["stream"]: (0, 0) for s in self.streams}  # stream -> (beats, cycle it last changed)

    def sample(self, now: int) -> None:
        for s in self.streams:
            value = int(getattr(self.handle, s["counter"]).value)
            if value != self.seen[s["stream"]][0]:
                self.seen[s["stream"]] = (value, now)

    def beats(self) -> dict[str, int]:
        return {stream: v for stream, (v, _) in self.seen.items()}

    def full_fifos(self) -> list[str]:
        beats = self.beats()
        full = []
        for f in self.fifos:
            into, out = f.get("stream"), f.get("name")
            if into in beats and out in beats and beats[into] - beats[out] >= f["depth"]:
                full.append(f"skip FIFO {f['name']} is full ({beats[into] - beats[out]} beats held, depth {f['depth']}) "
                            f"while {f.get('add', 'its Add')} waits for its other input: the FIFO is too shallow")
        return full

    def last_active(self) -> str:
        if not self.streams:
            return "last active layer unknown (the design has no beat counters)"
        latest = max(cycle for _, cycle in self.seen.values())
        active = [s for s in self.streams if self.seen[s["stream"]][1] == latest]
        s = active[-1]  # the deepest of the streams that moved last
        return f"last active layer {s['producer']} (stream {s['stream']}, {self.seen[s['stream']][0]} beats)"

    def diagnose(self) -> str:
        full = self.full_fifos()
        return "; ".join(full) if full else self.last_active()


def _has(handle, name: str) -> bool:
    if handle is None:
        return False
    try:
        getattr(handle, name)
    except AttributeError:
        return False
    return True
