#!/usr/bin/env python3
"""Soak run: mixed traffic at a steady rate against the real gateway and two
real agentgate-mock upstreams, sampling the gateway's RSS and open file
descriptors every 10 s. Started by `make soak` (scripts/soak); bounded by
--minutes (default 10). Everything runs on 127.0.0.1; every process started
here is stopped by its PID at the end.

Traffic (one schedule, --rate requests/s in all, spread over --workers
threads, each with its own keep-alive connection):
  - cache hits: a small pool of chat prompts asked again and again;
  - cache misses: a new prompt every time (the caches are capped at
    cache.max_size = 300, so they are full within the warm-up);
  - streams: chat with stream: true, half from a pool (replayed), half new;
  - embeddings: batches mixing known and new inputs;
  - 429s: the user "limited" is put on the free tier and sends far more than
    it allows;
  - upstream faults: model "flaky-model" goes to a second mock started with
    30% errors (500/502/503), 5% connection resets and 2% hangs; the
    gateway's retries, breaker and dead-letter queue act on them.

An error is "injected" when it is a 429 for "limited" or any non-2xx for
flaky-model (the status and the OpenAI error shape are still checked); any
other failure (another status, a transport error, a malformed or truncated
answer) is unexpected.

Pass: RSS after warm-up never more than 5% above its value at the end of
warm-up; file descriptors constant: every fd that is not a connection to an
upstream (files, pipes, eventfds, the listener, the client connections) the
same after warm-up (within 1, for a file SQLite may open for a moment), and
the upstream connections (pooled, so their number follows the peak of
concurrent requests) never more than 2 per client worker; no unexpected
error.
Prints a Markdown report and writes it to --out
(default bench/results/soak.md).
"""
import argparse
import http.client
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
from procs import free_port, start, stop_all, wait_port  # noqa: E402


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def fd_kinds(pid, upstream_ports):
    """(all, upstream connections, everything else) open in `pid`."""
    sockets = {}
    for name in ("tcp", "tcp6"):
        try:
            with open(f"/proc/{pid}/net/{name}") as f:
                next(f)
                for line in f:
                    parts = line.split()
                    remote_port = int(parts[2].rsplit(":", 1)[1], 16)
                    sockets[parts[9]] = remote_port
        except FileNotFoundError:
            pass
    total = upstream = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        total += 1
        if link.startswith("socket:[") and sockets.get(link[8:-1]) in upstream_ports:
            upstream += 1
    return total, upstream, total - upstream


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def post(port, path, body, headers=None, admin=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    h = {"Content-Type": "application/json"}
    if admin:
        h["Authorization"] = "Bearer " + admin
    h.update(headers or {})
    c.request("POST", path, body=json.dumps(body), headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.by_kind = {}        # kind -> {status: count}
        self.unexpected = []     # (kind, what) first 20
        self.unexpected_count = 0
        self.injected = 0
        self.sent = 0

    def record(self, kind, status, ok, injected, what=""):
        with self.lock:
            self.sent += 1
            d = self.by_kind.setdefault(kind, {})
            d[status] = d.get(status, 0) + 1
            if injected:
                self.injected += 1
            if not ok:
                self.unexpected_count += 1
                if len(self.unexpected) < 20:
                    self.unexpected.append((kind, status, what[:200]))


def error_shape(data):
    try:
        e = json.loads(data)["error"]
        return isinstance(e.get("message"), str) and isinstance(e.get("type"), str)
    except Exception:
        return False


class Worker(threading.Thread):
    """Sends its share of the schedule on one keep-alive connection."""

    def __init__(self, idx, port, interval, stop_at, stats, seed):
        super().__init__(daemon=True)
        self.idx, self.port, self.interval, self.stop_at, self.stats = idx, port, interval, stop_at, stats
        self.rng = random.Random(seed)
        self.conn = None
        self.counter = 0

    def connect(self):
        if self.conn:
            self.conn.close()
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def request(self, path, body, headers):
        h = {"Content-Type": "application/json"}
        h.update(headers)
        for attempt in range(2):
            try:
                if self.conn is None:
                    self.connect()
                self.conn.request("POST", path, body=json.dumps(body), headers=h)
                r = self.conn.getresponse()
                return r.status, r.read(), dict((k.lower(), v) for k, v in r.getheaders())
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as e:
                # A keep-alive connection the server closed between requests: retry once on a new one.
                self.connect()
                if attempt == 1:
                    raise e
        raise RuntimeError("unreachable")

    def one(self):
        self.counter += 1
        uniq = f"w{self.idx}-{self.counter}-{self.rng.random():.6f}"
        x = self.rng.random()
        user = f"user{self.rng.randrange(50)}"
        chat = lambda content, **kw: dict({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}]}, **kw)
        if x < 0.35:
            kind, path, body, hdr = "chat hit", "/v1/chat/completions", chat(f"pooled question number {self.rng.randrange(20)}"), {"X-User-Id": user}
        elif x < 0.50:
            kind, path, body, hdr = "chat miss", "/v1/chat/completions", chat(f"a brand new question {uniq}"), {"X-User-Id": user}
        elif x < 0.65:
            content = f"pooled stream {self.rng.randrange(10)}" if self.rng.random() < 0.5 else f"new stream {uniq}"
            kind, path, body, hdr = "stream", "/v1/chat/completions", chat(content, stream=True), {"X-User-Id": user}
        elif x < 0.75:
            inputs = [f"known input {self.rng.randrange(30)}", f"new input {uniq}"]
            kind, path, body, hdr = "embeddings", "/v1/embeddings", {"model": "text-embedding-3-small", "input": inputs}, {"X-User-Id": user}
        elif x < 0.85:
            kind, path, body, hdr = "rate-limited user", "/v1/chat/completions", chat(f"limited {uniq}"), {"X-User-Id": "limited"}
        else:
            kind, path, body, hdr = "faulty upstream", "/v1/chat/completions", {"model": "flaky-model", "messages": [{"role": "user", "content": f"flaky {uniq}"}]}, {"X-User-Id": user}
        try:
            status, data, headers = self.request(path, body, hdr)
        except Exception as e:  # transport error
            self.stats.record(kind, "transport", False, False, repr(e))
            self.conn = None
            return
        ok, injected, what = True, False, ""
        if status == 200:
            if body.get("stream"):
                text = data.decode("utf-8", "replace")
                if not text.rstrip().endswith("data: [DONE]"):
                    ok, what = False, "stream without [DONE]: " + text[-120:]
            else:
                try:
                    j = json.loads(data)
                    if "choices" not in j and "data" not in j:
                        ok, what = False, "200 without choices/data"
                except Exception:
                    ok, what = False, "200 with a body that is not JSON"
        elif kind == "rate-limited user" and status == 429:
            injected = True
            ok = error_shape(data) and "retry-after" in headers
            what = "" if ok else "429 without error shape or Retry-After"
        elif kind == "faulty upstream" and status in (500, 502, 503, 504):
            injected = True
            ok = error_shape(data)
            what = "" if ok else f"{status} without the error shape"
        else:
            ok, what = False, data.decode("utf-8", "replace")
        self.stats.record(kind, status, ok, injected, what)

    def run(self):
        next_at = time.monotonic() + self.rng.random() * self.interval
        while True:
            now = time.monotonic()
            if now >= self.stop_at:
                break
            if next_at > now:
                time.sleep(next_at - now)
            self.one()
            next_at += self.interval
            if time.monotonic() - next_at > 5 * self.interval:  # fell behind: do not burst to catch up
                next_at = time.monotonic()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--warmup-s", type=float, default=120)
    ap.add_argument("--rate", type=float, default=40, help="requests per second in all")
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--sample-s", type=float, default=10)
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "release"))
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "soak.md"))
    a = ap.parse_args()

    agentgate = os.path.join(a.build, "agentgate")
    mock = os.path.join(a.build, "agentgate-mock")
    tmp = tempfile.mkdtemp(prefix="agentgate_soak_")
    admin = "soak-admin-key"
    try:
        good_port, flaky_port, gw_port = free_port(), free_port(), free_port()
        start([mock, "--port", str(good_port), "--host", "127.0.0.1", "--threads", "1"],
              stdout=subprocess.DEVNULL)
        faults = json.dumps({"error_rate": 0.3, "status": 502, "reset_rate": 0.05, "hang_rate": 0.02})
        start([mock, "--port", str(flaky_port), "--host", "127.0.0.1", "--threads", "1",
               "--models", "flaky-model", "--faults", faults], stdout=subprocess.DEVNULL)
        wait_port(good_port)
        wait_port(flaky_port)
        config = f"""server:
  admin_key: {admin}
  access_log: off
  log_level: warn
  threads: 1
upstreams:
  - name: good
    base_url: http://127.0.0.1:{good_port}/v1
    models: [gpt-4o-mini, text-embedding-3-small]
  - name: flaky
    base_url: http://127.0.0.1:{flaky_port}/v1
    models: [flaky-model]
    first_byte_timeout_ms: 1000
cache:
  max_size: 300
rate_limit:
  default_tier: enterprise
circuit_breaker:
  failure_threshold: 20
  timeout_s: 5
error_recovery:
  max_attempts: 2
  base_delay_s: 0.05
  max_delay_s: 0.2
  dlq_max_entries: 200
"""
        with open(os.path.join(tmp, "agentgate.yaml"), "w") as f:
            f.write(config)
        log = open(os.path.join(tmp, "gateway.log"), "w")
        gw = start([agentgate, "serve", "--config", os.path.join(tmp, "agentgate.yaml"), "--port", str(gw_port),
                    "--host", "127.0.0.1", "--data-dir", os.path.join(tmp, "data")],
                   stdout=log, stderr=subprocess.STDOUT)
        wait_port(gw_port)
        st, body = post(gw_port, "/api/v1/ratelimit/tier", {"user_id": "limited", "tier": "free"}, admin=admin)
        if st != 200:
            raise RuntimeError(f"cannot set the limited user's tier: {st} {body!r}")

        stats = Stats()
        duration = a.minutes * 60
        t0 = time.monotonic()
        stop_at = t0 + duration
        interval = a.workers / a.rate
        workers = [Worker(i, gw_port, interval, stop_at, stats, seed=1000 + i) for i in range(a.workers)]
        for w in workers:
            w.start()
        samples = []  # (t, rss_kb, fds, sent, cpu_s)
        cpu0 = cpu_seconds(gw.pid)
        next_sample = t0
        while True:
            now = time.monotonic()
            if now >= next_sample:
                total, upstream, other = fd_kinds(gw.pid, {good_port, flaky_port})
                samples.append((now - t0, rss_kb(gw.pid), total, stats.sent, cpu_seconds(gw.pid) - cpu0,
                                upstream, other))
                s = samples[-1]
                print(f"t={s[0]:6.0f}s rss={s[1] / 1024:7.1f} MiB fds={s[2]:4d} (upstream {upstream}, "
                      f"other {other}) requests={s[3]:7d} unexpected={stats.unexpected_count}", flush=True)
                next_sample += a.sample_s
            if now >= stop_at:
                break
            time.sleep(min(0.5, max(0.0, next_sample - time.monotonic())))
        for w in workers:
            w.join(timeout=60)
            if w.conn:
                w.conn.close()
        alive = gw.poll() is None
        load = os.getloadavg()

        post_warm = [s for s in samples if s[0] >= a.warmup_s]
        base = post_warm[0]
        max_rss = max(s[1] for s in post_warm)
        growth = (max_rss - base[1]) / base[1] * 100
        final_growth = (post_warm[-1][1] - base[1]) / base[1] * 100
        fds = [s[2] for s in post_warm]
        others = [s[6] for s in post_warm]
        upstreams = [s[5] for s in post_warm]
        other_spread = max(abs(f - base[6]) for f in others)
        elapsed = samples[-1][0]
        rate = samples[-1][3] / elapsed if elapsed else 0
        cpu_per_req_us = samples[-1][4] / max(1, samples[-1][3]) * 1e6
        passed = (alive and growth < 5 and other_spread <= 1 and max(upstreams) <= 2 * a.workers
                  and stats.unexpected_count == 0)

        lines = []
        lines.append(f"## Soak: {a.minutes:g} min of mixed traffic ({'PASS' if passed else 'FAIL'})\n")
        lines.append(f"Command: `{' '.join(['bench/soak.py'] + sys.argv[1:])}` (`make soak` runs it on the release "
                     f"build); binaries from `{os.path.relpath(a.build, ROOT)}`, one gateway worker thread; load average "
                     f"at the end {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (2 cores, shared).\n")
        lines.append("| figure | value |\n|---|---|")
        lines.append(f"| requests sent | {stats.sent} ({rate:.1f}/s steady) |")
        lines.append(f"| gateway CPU per request | {cpu_per_req_us:.0f} µs |")
        lines.append(f"| RSS at the end of warm-up ({a.warmup_s:g} s) | {base[1] / 1024:.1f} MiB |")
        lines.append(f"| RSS max after warm-up / at the end | {max_rss / 1024:.1f} / {post_warm[-1][1] / 1024:.1f} MiB |")
        lines.append(f"| RSS growth after warm-up (max, end) | {growth:+.2f} %, {final_growth:+.2f} % (limit 5 %) |")
        lines.append(f"| open fds after warm-up, all (min..max) | {min(fds)}..{max(fds)} |")
        lines.append(f"| fds other than upstream connections (min..max; at warm-up end) | {min(others)}..{max(others)}; "
                     f"{base[6]} (allowed: within 1) |")
        lines.append(f"| upstream connections, pooled (min..max) | {min(upstreams)}..{max(upstreams)} "
                     f"(allowed: at most {2 * a.workers}) |")
        lines.append(f"| injected errors (429 for `limited`, 5xx for `flaky-model`) | {stats.injected} |")
        lines.append(f"| unexpected errors | {stats.unexpected_count} |")
        lines.append(f"| gateway still running | {'yes' if alive else 'NO'} |")
        lines.append("\n| traffic | answers (status: count) |\n|---|---|")
        for kind in sorted(stats.by_kind):
            d = stats.by_kind[kind]
            lines.append(f"| {kind} | " + ", ".join(f"{k}: {v}" for k, v in sorted(d.items(), key=lambda kv: str(kv[0]))) + " |")
        lines.append("\n| t (s) | RSS (MiB) | open fds | of which upstream connections | requests so far |\n|---|---|---|---|---|")
        for s in samples:
            lines.append(f"| {s[0]:.0f} | {s[1] / 1024:.1f} | {s[2]} | {s[5]} | {s[3]} |")
        if stats.unexpected:
            lines.append("\nFirst unexpected errors:\n")
            for k, st, what in stats.unexpected:
                lines.append(f"- {k}: {st}: {what}")
        report = "\n".join(lines) + "\n"
        print(report)
        os.makedirs(os.path.dirname(a.out), exist_ok=True)
        with open(a.out, "w") as f:
            f.write(report)
        return 0 if passed else 1
    finally:
        stop_all()


if __name__ == "__main__":
    sys.exit(main())
