#!/usr/bin/env python3
"""HTTP benchmarks of agentgate against nginx, measured side by side in one run.

Started by `make bench` (scripts/bench). Everything runs on 127.0.0.1; every
process started here is stopped by its PID at the end. Prints a Markdown table
and writes it to bench/results/latest.md.

  1. GET /healthz on agentgate vs nginx serving a static file of the same size
     (wrk, 2 threads, 64 connections).
  2. Proxying POST /v1/chat/completions to agentgate-mock: direct, through nginx
     (reverse proxy with upstream keep-alive), through agentgate (auth, usage
     accounting and profiling on). Added latency at 1 connection (p50/p99 over
     the direct call), throughput at 64 connections, CPU time per request;
     each in interleaved rounds (medians), so that a slow spell of the
     machine falls on every target alike; at 1 connection twice as many
     rounds of half the length, and agentgate's difference from nginx
     paired round by round (mean ± standard error). The 1-connection rounds
     once more with wrk, the mock and the proxies all pinned to CPU 0, where
     the scheduler's choice of CPU no longer varies from round to round.
  3. Streaming: time to first byte on a new connection, direct, through nginx
     and through agentgate (1,000 requests each, one to each in turn).
  4. Memory: agentgate's RSS idle and with 1,000 concurrent open streams.
  5. Exact cache hits: a second agentgate with the cache on answers the same
     POST from its response cache, against nginx serving a static file holding
     the cached body's bytes (interleaved rounds, 64 connections).
     `--only cache` runs this part alone (table in bench/results/cache_hits.md).
"""
import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHAT_BODY = json.dumps({"model": "gpt-4o-mini",
                        "messages": [{"role": "system", "content": "You are a helpful assistant."},
                                     {"role": "user", "content": "Summarise the plot of a short story about a "
                                      "lighthouse keeper who finds a message in a bottle."}]})
STREAM_BODY = json.dumps({"model": "gpt-4o-mini", "stream": True,
                          "messages": [{"role": "user", "content": "stream me a few words please"}]})

from procs import free_port, start, stop_all, wait_port  # noqa: E402


def cpu_seconds(pids):
    """On-CPU time of the processes' threads so far, in seconds: the
    scheduler's own nanosecond count (/proc/PID/task/TID/schedstat), not
    utime+stime, which are sampled at the 100 Hz tick (about ±7% in a
    4-second round). Threads that ended are not counted."""
    total = 0
    for pid in pids:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[0])
            except (FileNotFoundError, ProcessLookupError):
                pass
    return total / 1e9


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0


def children(pid):
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(x) for x in out]


UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


def parse_duration(text):
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    return float(m.group(1)) * UNITS[m.group(2)]


def wrk(url, connections, threads, seconds, script=None, cpu=None):
    """One wrk run; on CPU `cpu` only when given."""
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if script:
        cmd[1:1] = ["-s", script]
    if cpu is not None:
        cmd[0:0] = ["taskset", "-c", str(cpu)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    lat = {}
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}(?:\.000)?%\s+(\S+)", out, re.M)
        lat[pct] = parse_duration(m.group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {"rps": rps, "requests": total, "p50": lat["50"], "p99": lat["99"],
            "non2xx": int(non2xx.group(1)) if non2xx else 0, "socket_errors": errors.group(1) if errors else ""}


def measure(url, connections, threads, seconds, script, pids, cpu=None):
    before = cpu_seconds(pids) if pids else 0
    r = wrk(url, connections, threads, seconds, script, cpu)
    if pids:
        r["cpu_us_per_req"] = (cpu_seconds(pids) - before) / max(r["requests"], 1) * 1e6
    return r


def pin_threads(pids, cpus):
    """Sets the CPU affinity of every thread of the processes."""
    for pid in pids:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                os.sched_setaffinity(int(tid), cpus)
            except (ProcessLookupError, FileNotFoundError):
                pass


def interleaved(targets, rounds, connections, threads, seconds, cpu=None):
    """`rounds` rounds of `measure` over the targets in turn (name -> (url,
    script, pids)), every other round in reverse order, so that no target
    always follows the same one; per target the medians of the rounds,
    each round's p50 and p99, and the totals."""
    runs = {name: [] for name in targets}
    order = list(targets.items())
    for r in range(rounds):
        for name, (url, script, pids) in (order if r % 2 == 0 else order[::-1]):
            runs[name].append(measure(url, connections, threads, seconds, script, pids, cpu))
    out = {}
    for name, rs in runs.items():
        out[name] = {k: statistics.median(r[k] for r in rs) for k in ("rps", "p50", "p99", "cpu_us_per_req")}
        out[name].update(requests=sum(r["requests"] for r in rs), non2xx=sum(r["non2xx"] for r in rs),
                         socket_errors="".join(r["socket_errors"] for r in rs),
                         rps_rounds=[round(r["rps"]) for r in rs],
                         p50_rounds_us=[round(r["p50"] * 1e6) for r in rs],
                         p99_rounds_us=[round(r["p99"] * 1e6) for r in rs])
    return out


def write_post_script(tmp):
    """A wrk script POSTing CHAT_BODY; returns its path."""
    path = os.path.join(tmp, "post.lua")
    with open(path, "w") as f:
        f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                f"wrk.body = {json.dumps(CHAT_BODY)}\n")
    return path


def start_mock(build, port):
    return start([os.path.join(build, "agentgate-mock"), "--port", str(port), "--host", "127.0.0.1",
                  "--threads", "1"], stdout=subprocess.DEVNULL)


def gateway_config(mock_port, workers, cache, upstream_max_connections=None):
    """The bench's agentgate configuration: the proxy path (cache off), or
    exact cache hits (cache on). Rate limits are off either way, so that one
    client is never limited; auth (open mode), usage accounting, profiling,
    breakers and retries stay on."""
    pool = f"\n    max_connections: {upstream_max_connections}" if upstream_max_connections else ""
    return f"""server:
  threads: {workers}
  access_log: off
  max_connections: 20000
upstreams:
  - name: mock
    base_url: http://127.0.0.1:{mock_port}
    models: ["*"]{pool}
performance:
  enable_profiling: true
cache:
  enabled: {"true" if cache else "false"}
rate_limit:
  enabled: false
"""


def start_gateway(build, tmp, name, port, config_text):
    config = os.path.join(tmp, f"{name}.yaml")
    with open(config, "w") as f:
        f.write(config_text)
    return start([os.path.join(build, "agentgate"), "serve", "--config", config, "--port", str(port),
                  "--host", "127.0.0.1", "--data-dir", os.path.join(tmp, f"data-{name}")],
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def nginx_config(tmp, workers, mock_port, proxy_port, static_port=None, www=None):
    """nginx as the reference: a reverse proxy of the mock with upstream
    keep-alive on `proxy_port`, and, when given, `www` as static files on
    `static_port`."""
    static = f"""  server {{
    listen 127.0.0.1:{static_port} reuseport;
    location / {{ root {www}; }}
  }}
""" if static_port else ""
    return f"""user root;
worker_processes {workers};
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 20000; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/client_body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  default_type application/json;
  keepalive_requests 1000000;
  upstream mock {{ server 127.0.0.1:{mock_port}; keepalive 256; }}
{static}  server {{
    listen 127.0.0.1:{proxy_port} reuseport;
    location / {{
      proxy_pass http://mock;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }}
  }}
}}
"""


def start_nginx(tmp, config_text):
    config = os.path.join(tmp, "nginx.conf")
    with open(config, "w") as f:
        f.write(config_text)
    return start(["nginx", "-p", tmp, "-c", config], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def ttfb_samples(port, n):
    """Time from sending a streaming request to the first body byte, seconds."""
    req = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
           f"Content-Length: {len(STREAM_BODY)}\r\n\r\n{STREAM_BODY}").encode()
    samples = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        t0 = time.perf_counter()
        s.sendall(req)
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        head, _, rest = buf.partition(b"\r\n\r\n")
        while not rest:
            rest = s.recv(65536)
            if not rest:
                break
        samples.append(time.perf_counter() - t0)
        # Read to the end so the stream completes (leaving early would cancel
        # it and cost the gateway its pooled upstream connection).
        while b"[DONE]" not in rest:
            more = s.recv(65536)
            if not more:
                break
            rest += more
        s.close()
    return samples


def open_streams(port, n):
    req = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
           f"Content-Length: {len(STREAM_BODY)}\r\n\r\n{STREAM_BODY}").encode()
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(req)
        socks.append(s)
    started = 0
    for s in socks:
        s.settimeout(30)
        if s.recv(4096):
            started += 1
    return socks, started


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "release"))
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--streams", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=9, help="interleaved rounds of the proxy runs")
    ap.add_argument("--workers", type=int, default=1,
                    help="agentgate server.threads and nginx worker_processes (the same for both)")
    ap.add_argument("--only", choices=["all", "cache"], default="all",
                    help="cache: only the exact-cache-hit comparison with nginx")
    args = ap.parse_args()

    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))

    tmp = tempfile.mkdtemp(prefix="agentgate-bench-")
    os.chmod(tmp, 0o755)
    body_file = write_post_script(tmp)

    mock_port, gw_port, nginx_static_port, nginx_proxy_port = (free_port() for _ in range(4))
    mock = start_mock(args.build, mock_port)
    wait_port(mock_port)
    gw = start_gateway(args.build, tmp, "agentgate", gw_port,
                       gateway_config(mock_port, args.workers, cache=False,
                                      upstream_max_connections=args.streams + 200))
    cache_port = free_port()
    gw_cache = start_gateway(args.build, tmp, "agentgate-cache", cache_port,
                             gateway_config(mock_port, args.workers, cache=True))
    wait_port(gw_port)
    wait_port(cache_port)
    time.sleep(0.5)
    idle_rss = rss_mb(gw.pid)

    healthz = subprocess.run(["curl", "-s", f"http://127.0.0.1:{gw_port}/healthz"], capture_output=True).stdout
    www = os.path.join(tmp, "www")
    os.makedirs(www)
    with open(os.path.join(www, "healthz"), "wb") as f:
        f.write(healthz)
    nginx = start_nginx(tmp, nginx_config(tmp, args.workers, mock_port, nginx_proxy_port, nginx_static_port, www))
    wait_port(nginx_static_port)
    wait_port(nginx_proxy_port)
    time.sleep(0.3)
    nginx_pids = [nginx.pid] + children(nginx.pid)

    results = {}
    secs = args.seconds
    chat = "/v1/chat/completions"
    # 5. Exact cache hits vs nginx serving the cached body as a static file.
    print("exact cache hits vs nginx static file (interleaved rounds) ...", file=sys.stderr)
    curl = ["curl", "-s", "-D", "-", "-X", "POST", "-H", "Content-Type: application/json", "-d", CHAT_BODY,
            f"http://127.0.0.1:{cache_port}{chat}"]
    subprocess.run(curl, capture_output=True, check=True)  # a miss: stored
    warm = subprocess.run(curl, capture_output=True, check=True).stdout
    head, _, cached_body = warm.partition(b"\r\n\r\n")
    if b"x-cache: hit" not in head.lower():
        raise RuntimeError(f"the second request was not a cache hit: {head!r}")
    with open(os.path.join(www, "cached.json"), "wb") as f:
        f.write(cached_body)
    results.update(interleaved({
        "cache_hit_agentgate": (f"http://127.0.0.1:{cache_port}{chat}", body_file, [gw_cache.pid]),
        "cache_hit_nginx": (f"http://127.0.0.1:{nginx_static_port}/cached.json", None, nginx_pids),
    }, args.rounds, 64, 2, max(secs // 2, 2)))
    results["cache_hit_agentgate"]["body_bytes"] = len(cached_body)
    load = os.getloadavg()
    ch_a, ch_n = results["cache_hit_agentgate"], results["cache_hit_nginx"]
    cache_rows = [
        (f"exact cache hit ({len(cached_body)}-byte body), 64 conns: req/s (median of {args.rounds} rounds)",
         f"{ch_a['rps']:,.0f}", f"{ch_n['rps']:,.0f} (static file, same bytes)",
         f"{ch_a['rps'] / ch_n['rps']:.0%} of nginx (target ≥ 80%); rounds {ch_a['rps_rounds']} vs "
         f"{ch_n['rps_rounds']}"),
        ("exact cache hit, 64 conns: p50 / p99", f"{ch_a['p50'] * 1e6:.0f} µs / {ch_a['p99'] * 1e6:.0f} µs",
         f"{ch_n['p50'] * 1e6:.0f} µs / {ch_n['p99'] * 1e6:.0f} µs", ""),
        ("exact cache hit, 64 conns: CPU per request", f"{ch_a['cpu_us_per_req']:.1f} µs",
         f"{ch_n['cpu_us_per_req']:.1f} µs", f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}"),
    ]
    if args.only == "cache":
        stop_all()
        lines = ["| measure | agentgate | nginx | note |", "|---|---|---|---|"]
        lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in cache_rows]
        table = "\n".join(lines)
        os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
        with open(os.path.join(ROOT, "bench", "results", "cache_hits.md"), "w") as f:
            f.write(table + "\n\n```\n" + json.dumps(results, indent=1) + "\n```\n")
        print(table)
        return
    print("healthz ...", file=sys.stderr)
    results["healthz_agentgate"] = measure(f"http://127.0.0.1:{gw_port}/healthz", 64, 2, secs, None, [gw.pid])
    results["healthz_nginx"] = measure(f"http://127.0.0.1:{nginx_static_port}/healthz", 64, 2, secs, None,
                                       nginx_pids)
    # One connection: twice the rounds at half the length. Where the
    # scheduler puts the three processes holds for seconds at a time and
    # moves a round's p50 by 10-20 µs, so more, shorter rounds give more
    # independent draws of it in the same time.
    for conns, threads, rounds, seconds in ((1, 1, 2 * args.rounds, max(secs // 4, 1)),
                                            (64, 2, args.rounds, max(secs // 2, 2))):
        print(f"proxy, {conns} connection(s) (interleaved rounds) ...", file=sys.stderr)
        results.update(interleaved({
            f"direct_{conns}": (f"http://127.0.0.1:{mock_port}{chat}", body_file, [mock.pid]),
            f"nginx_{conns}": (f"http://127.0.0.1:{nginx_proxy_port}{chat}", body_file, nginx_pids),
            f"agentgate_{conns}": (f"http://127.0.0.1:{gw_port}{chat}", body_file, [gw.pid]),
        }, rounds, conns, threads, seconds))

    # 3b. One connection again with wrk, the mock and both proxies on CPU 0.
    # The chain is sequential, so one CPU is enough; what varies between
    # rounds above is where the scheduler wakes each process (the other
    # CPU, or preempting the waker), which moves every target's p50 by
    # 10-20 µs from round to round. On one CPU that lottery is gone and the
    # rounds agree within a few µs, so the proxies' own costs show.
    print("proxy, 1 connection, everything on CPU 0 (interleaved rounds) ...", file=sys.stderr)
    pinned, everywhere = [mock.pid, gw.pid] + nginx_pids, os.sched_getaffinity(0)
    pin_threads(pinned, {0})
    try:
        results.update(interleaved({
            "direct_1cpu": (f"http://127.0.0.1:{mock_port}{chat}", body_file, [mock.pid]),
            "nginx_1cpu": (f"http://127.0.0.1:{nginx_proxy_port}{chat}", body_file, nginx_pids),
            "agentgate_1cpu": (f"http://127.0.0.1:{gw_port}{chat}", body_file, [gw.pid]),
        }, args.rounds, 1, 1, max(secs // 2, 2), cpu=0))
    finally:
        pin_threads(pinned, everywhere)

    print("streaming time to first byte ...", file=sys.stderr)
    # One request to each in turn (the order alternating), so that a slow
    # spell of the machine falls on all three alike.
    ttfb_direct, ttfb_gw, ttfb_nginx = [], [], []
    turn = [(mock_port, ttfb_direct), (gw_port, ttfb_gw), (nginx_proxy_port, ttfb_nginx)]
    for i in range(1000):
        for port, samples in (turn if i % 2 == 0 else turn[::-1]):
            samples += ttfb_samples(port, 1)

    print(f"{args.streams} open streams ...", file=sys.stderr)
    subprocess.run(["curl", "-s", "-X", "POST", f"http://127.0.0.1:{mock_port}/_mock/faults",
                    "-d", '{"stream_chunk_delay_ms": 3000}'], capture_output=True, check=True)
    socks, started = open_streams(gw_port, args.streams)
    streams_rss = rss_mb(gw.pid)
    for s in socks:
        s.close()
    subprocess.run(["curl", "-s", "-X", "POST", f"http://127.0.0.1:{mock_port}/_mock/faults", "-d", "{}"],
                   capture_output=True, check=True)
    stop_all()

    def us(x):
        return f"{x * 1e6:.0f} µs"

    def paired(a, b, key):
        """agentgate - nginx per round (the two measured back to back):
        mean ± standard error, and the rounds where agentgate was not above."""
        diff = [x - y for x, y in zip(a[key], b[key])]
        se = statistics.stdev(diff) / len(diff) ** 0.5 if len(diff) > 1 else 0.0
        return f"{statistics.mean(diff):+.1f} ± {se:.1f} µs ({sum(d <= 0 for d in diff)} of {len(diff)})"

    d1, n1, a1 = results["direct_1"], results["nginx_1"], results["agentgate_1"]
    d0, n0, a0 = results["direct_1cpu"], results["nginx_1cpu"], results["agentgate_1cpu"]
    rows = [
        ("GET /healthz, 64 conns: req/s", f"{results['healthz_agentgate']['rps']:,.0f}",
         f"{results['healthz_nginx']['rps']:,.0f} (static file)",
         f"{results['healthz_agentgate']['rps'] / results['healthz_nginx']['rps']:.0%} of nginx (target ≥ 70%)"),
        ("GET /healthz, 64 conns: p50 / p99", f"{us(results['healthz_agentgate']['p50'])} / {us(results['healthz_agentgate']['p99'])}",
         f"{us(results['healthz_nginx']['p50'])} / {us(results['healthz_nginx']['p99'])}", ""),
        ("proxy, 1 conn: added p50 (median of rounds)", us(a1["p50"] - d1["p50"]), us(n1["p50"] - d1["p50"]),
         f"direct p50 {us(d1['p50'])}"),
        ("proxy, 1 conn: added p99", us(a1["p99"] - d1["p99"]), us(n1["p99"] - d1["p99"]),
         f"direct p99 {us(d1['p99'])}"),
        ("proxy, 1 conn: agentgate − nginx, paired by round",
         f"p50 {paired(a1, n1, 'p50_rounds_us')}; p99 {paired(a1, n1, 'p99_rounds_us')}", "",
         "mean ± standard error of the per-round differences (rounds where agentgate was not above nginx)"),
        ("proxy, 1 conn, all on CPU 0: added p50 / p99", f"{us(a0['p50'] - d0['p50'])} / {us(a0['p99'] - d0['p99'])}",
         f"{us(n0['p50'] - d0['p50'])} / {us(n0['p99'] - d0['p99'])}",
         f"direct p50 {us(d0['p50'])}, p99 {us(d0['p99'])}; wrk, the mock and the proxy pinned to one CPU"),
        ("proxy, 64 conns: req/s", f"{results['agentgate_64']['rps']:,.0f}", f"{results['nginx_64']['rps']:,.0f}",
         f"direct {results['direct_64']['rps']:,.0f}"),
        ("proxy, 64 conns: CPU per request", f"{results['agentgate_64']['cpu_us_per_req']:.1f} µs",
         f"{results['nginx_64']['cpu_us_per_req']:.1f} µs", "on-CPU time of the proxy process(es) / requests"),
        ("stream: time to first byte p50", us(statistics.median(ttfb_gw)), us(statistics.median(ttfb_nginx)),
         f"direct {us(statistics.median(ttfb_direct))}; added: agentgate "
         f"{us(statistics.median(ttfb_gw) - statistics.median(ttfb_direct))}, nginx "
         f"{us(statistics.median(ttfb_nginx) - statistics.median(ttfb_direct))} (target ≤ 100 µs)"),
        ("memory: RSS idle", f"{idle_rss:.1f} MB", "", "target ≤ 30 MB"),
        (f"memory: RSS with {started} open streams", f"{streams_rss:.1f} MB", "", "target ≤ 150 MB"),
    ] + cache_rows
    errors = {k: (v["non2xx"], v["socket_errors"]) for k, v in results.items() if v["non2xx"] or v["socket_errors"]}
    lines = [f"Workers: agentgate `server.threads: {args.workers}`, nginx `worker_processes {args.workers}`; "
             f"wrk, agentgate-mock (1 thread) and the proxies share the 2 cores.", "",
             "| measure | agentgate | nginx | note |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    table = "\n".join(lines)
    if errors:
        table += f"\n\nnon-2xx / socket errors: {errors}"
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench", "results", "latest.md"), "w") as f:
        f.write(table + "\n\n```\n" + json.dumps(results, indent=1) + "\n```\n")
    print(table)


if __name__ == "__main__":
    try:
        main()
    finally:
        stop_all()
