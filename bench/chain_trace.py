#!/usr/bin/env python3
"""Where one connection's time goes: per-hop times of the request chain
wrk -> proxy -> agentgate-mock -> proxy -> wrk, for agentgate and for nginx,
from the kernel's own trace (tracefs: syscall enter/exit and scheduler
switches of the processes involved, kept in the kernel's ring buffer, so no
tracing process runs on a CPU meanwhile; `perf record -a` does, and its
writer on one CPU pushed the chain onto the other). Needs root.

  python3 bench/chain_trace.py [--build build/release] [--samples 3]

Starts agentgate-mock, agentgate and nginx as `bench/http_bench.py` does
(one worker each) on loopback ports, then, for each target in turn
(`--samples` times), runs wrk with one connection for 3 s and traces 0.5 s
in the middle of it. For each hop it prints the median time, the share of
requests where the hop crossed to the other CPU, and the medians of
same-CPU and cross-CPU hops.
A hop is from the sender's send syscall entry to the receiver's read syscall
exit; "work" is a process's own time between its read and its send.
Every process started here is stopped by its PID at the end.
"""
import argparse
import collections
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from http_bench import (children, gateway_config, nginx_config, start_gateway, start_mock,  # noqa: E402
                        start_nginx, write_post_script)
from procs import free_port, stop_all, wait_port  # noqa: E402

TRACEFS = "/sys/kernel/tracing"
SENDS, READS = (1, 20, 44), (0, 45)  # write, writev, sendto; read, recvfrom
LINE = re.compile(r"\s*(.+)-(\d+)\s+\[(\d+)\]\s+\S+\s+([\d.]+): (\w+): (.*)")


def tracefs(name, value):
    with open(os.path.join(TRACEFS, name), "w") as f:
        f.write(value)


def threads(pid):
    return os.listdir(f"/proc/{pid}/task")


def trace(url, script, pids, seconds=0.5):
    """The trace text of `seconds` in the middle of a 3-second wrk run."""
    tracefs("tracing_on", "0")
    tracefs("trace", "")
    tracefs("buffer_size_kb", "65536")
    w = subprocess.Popen(["wrk", "-t1", "-c1", "-d3s", "-s", script, url], stdout=subprocess.DEVNULL)
    try:
        time.sleep(0.8)
        tids = [t for p in pids + [w.pid] for t in threads(p)]
        tracefs("set_event_pid", " ".join(tids))
        tracefs("set_event", "raw_syscalls:sys_enter raw_syscalls:sys_exit sched:sched_switch")
        tracefs("tracing_on", "1")
        time.sleep(seconds)
        tracefs("tracing_on", "0")
    finally:
        tracefs("set_event", "")
        tracefs("set_event_pid", "")
        w.wait()
    with open(os.path.join(TRACEFS, "trace")) as f:
        return f.read()


def hops(text, proxy):
    """Per-hop durations (µs) and whether each crossed CPUs, request by
    request; `proxy` is the proxy's command name, or None for direct."""
    if proxy:
        steps = [("wrk", "in", SENDS), (proxy, "out", READS), (proxy, "in", SENDS),
                 ("agentgate-mock", "out", READS), ("agentgate-mock", "in", SENDS),
                 (proxy, "out", READS), (proxy, "in", SENDS), ("wrk", "out", READS)]
        names = ["wrk -> proxy", "proxy work (request)", "proxy -> mock", "mock work", "mock -> proxy",
                 "proxy work (answer)", "proxy -> wrk"]
    else:
        steps = [("wrk", "in", SENDS), ("agentgate-mock", "out", READS), ("agentgate-mock", "in", SENDS),
                 ("wrk", "out", READS)]
        names = ["wrk -> mock", "mock work", "mock -> wrk"]
    per_hop = collections.defaultdict(list)
    totals = []
    i, cur = 0, []
    for line in text.splitlines():
        m = LINE.match(line)
        if not m or m.group(5) not in ("sys_enter", "sys_exit"):
            continue
        comm, cpu, t = m.group(1), int(m.group(3)), float(m.group(4)) * 1e6
        kind = "in" if m.group(5) == "sys_enter" else "out"
        nr = int(m.group(6).split()[1])
        want_comm, want_kind, want_nrs = steps[i]
        if comm == want_comm and kind == want_kind and nr in want_nrs:
            cur.append((t, cpu))
            i += 1
            if i == len(steps):
                for j, name in enumerate(names):
                    per_hop[name].append((cur[j + 1][0] - cur[j][0], cur[j + 1][1] != cur[j][1]))
                totals.append(cur[-1][0] - cur[0][0])
                i, cur = 0, []
        elif comm == "wrk" and kind == "in" and nr in SENDS:  # a new request: start again
            i, cur = 1, [(t, cpu)]
    return names, per_hop, totals


def report(label, names, per_hop, totals):
    if not totals:
        print(f"{label}: no complete request in the trace")
        return
    print(f"{label}: {len(totals)} requests, chain p50 {statistics.median(totals):.0f} µs")
    for name in names:
        rows = per_hop[name]
        same = [d for d, crossed in rows if not crossed]
        cross = [d for d, crossed in rows if crossed]
        share = 100 * len(cross) / len(rows)
        print(f"  {name:22s} p50 {statistics.median(d for d, _ in rows):5.0f} µs   crossed CPUs in {share:3.0f}%"
              f"   same CPU {statistics.median(same) if same else float('nan'):5.0f}"
              f"   other CPU {statistics.median(cross) if cross else float('nan'):5.0f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "release"))
    ap.add_argument("--samples", type=int, default=3)
    args = ap.parse_args()
    if not os.access(os.path.join(TRACEFS, "trace"), os.W_OK):
        sys.exit(f"chain_trace: needs root and tracefs at {TRACEFS}")
    tmp = tempfile.mkdtemp(prefix="agentgate-trace-")
    os.chmod(tmp, 0o755)
    script = write_post_script(tmp)
    mock_port, gw_port, nginx_port = free_port(), free_port(), free_port()
    mock = start_mock(args.build, mock_port)
    gw = start_gateway(args.build, tmp, "agentgate", gw_port, gateway_config(mock_port, 1, cache=False))
    nginx = start_nginx(tmp, nginx_config(tmp, 1, mock_port, nginx_port))
    for port in (mock_port, gw_port, nginx_port):
        wait_port(port)
    time.sleep(0.3)
    nginx_pids = [nginx.pid] + children(nginx.pid)
    chat = "/v1/chat/completions"
    targets = [("direct", f"http://127.0.0.1:{mock_port}{chat}", [mock.pid], None),
               ("agentgate", f"http://127.0.0.1:{gw_port}{chat}", [gw.pid, mock.pid], "agentgate"),
               ("nginx", f"http://127.0.0.1:{nginx_port}{chat}", nginx_pids + [mock.pid], "nginx")]
    with open(os.path.join(TRACEFS, "buffer_size_kb")) as f:
        buffer_kb = f.read().split()[0]  # "7 (expanded: 1408)" before first use
    try:
        for sample in range(args.samples):
            for label, url, pids, proxy in (targets if sample % 2 == 0 else targets[::-1]):
                report(f"{label} (sample {sample + 1})", *hops(trace(url, script, pids), proxy))
    finally:
        tracefs("trace", "")
        tracefs("buffer_size_kb", buffer_kb)  # the kernel's memory back


if __name__ == "__main__":
    try:
        main()
    finally:
        stop_all()
