#!/usr/bin/env python3
"""Synthetic scrape fleet for the side-by-side benchmark (bench/run.py).

One process serves N targets on N consecutive loopback ports (127.0.0.1 only).
Every target exposes the same shape of metrics (counters, gauges, one classic
histogram, an info metric) with realistic label sets; values change on every
scrape (each target keeps its own scrape counter `g`, so every scraper sees the
same deterministic sequence). The exposition is text format 0.0.4.

Values are chosen so that the servers' query results can be cross-checked:
  * every counter (including each histogram bucket, _sum and _count) grows by
    a constant per scrape, so `rate` over a range covered by samples is exactly
    increment / interval on every server;
  * every gauge series of the fleet has its own base value, spaced GAUGE_SPACING
    apart, plus a per-scrape change smaller than GAUGE_SPACING: values change on
    every scrape but never reorder the series, so `topk`/`bottomk` pick the same
    series whichever scrape a server saw last.

Series per target = 40 * handlers + 1:
  fleet_http_requests_total{handler,method,code}              counter   8 / handler
  fleet_http_request_duration_seconds_bucket{handler,method,le} + _sum + _count
                                                     classic histogram 26 / handler
  fleet_inflight_requests{handler}                             gauge     1 / handler
  fleet_cache_bytes{handler,cache}                             gauge     5 / handler
  fleet_build_info{version,zone,service}                       info      1 / target

With --time-offset-ms every sample carries an explicit timestamp, the scrape's
wall-clock time shifted by the offset (the WAL replay test uses it to make the
scraped data cross a two-hour head chunk boundary at a chosen moment).

The process exits by itself after --max-seconds (every load loop is bounded).
"""

import argparse
import asyncio
import signal
import sys
import time

METHODS = ("GET", "POST")
CODES = ("200", "404", "500", "503")
BUCKETS = ("0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "+Inf")
CACHES = ("users", "sessions", "objects", "pages", "tokens")
RESOURCES = ("users", "orders", "items", "carts", "payments", "invoices", "sessions",
             "products", "reviews", "search", "accounts", "shipments", "coupons", "events")

# Gauges: base = GAUGE_FLOOR + ((k * GAUGE_STRIDE) % GAUGE_PRIME) * GAUGE_SPACING for the
# fleet-wide gauge index k (distinct for k < GAUGE_PRIME, i.e. up to 3,333 targets of 50
# handlers), plus gauge_step(g, i) < GAUGE_SPACING. The stride scatters the ranks over
# targets and handlers (topk is not simply the last target's series).
GAUGE_FLOOR = 1 << 26
GAUGE_SPACING = 1 << 16
GAUGE_PRIME = 1_000_003
GAUGE_STRIDE = 7919
GAUGES_PER_HANDLER = 1 + len(CACHES)  # fleet_inflight_requests + fleet_cache_bytes per cache


def gauge_base(k):
    return GAUGE_FLOOR + ((k * GAUGE_STRIDE) % GAUGE_PRIME) * GAUGE_SPACING


def gauge_step(g, i):
    """Per-scrape change of gauge i of a target: differs between consecutive g (4099 % 1024
    != 0) and stays below GAUGE_SPACING, so the series' order never changes."""
    return ((g * 4099 + i * 131) % 1024) * 32


assert 1023 * 32 < GAUGE_SPACING


def series_per_target(handlers):
    return 40 * handlers + 1


def handler_names(n):
    out = []
    i = 0
    while len(out) < n:
        r = RESOURCES[i % len(RESOURCES)]
        v = 1 + (i // len(RESOURCES)) % 3
        k = i // (len(RESOURCES) * 3)
        suffix = "" if k == 0 else f"/sub{k}"
        out.append(f"/api/v{v}/{r}{suffix}")
        out.append(f"/api/v{v}/{r}/{{id}}{suffix}")
        i += 1
    return out[:n]


class Target:
    """Pre-rendered series prefixes; only values are formatted per scrape."""

    def __init__(self, idx, handlers):
        self.idx = idx
        self.g = 0
        self.counter_prefix = []   # (prefix bytes, base, rate)
        self.gauge_prefix = []     # (prefix, base)
        self.hist = []             # per (handler, method): list of bucket prefixes, sum prefix, count prefix, scale
        hs = handler_names(handlers)
        for h in hs:
            for m in METHODS:
                for ci, c in enumerate(CODES):
                    p = f'fleet_http_requests_total{{handler="{h}",method="{m}",code="{c}"}} '
                    w = (1000, 40, 7, 2)[ci]
                    self.counter_prefix.append((p, (idx * 7919 + len(self.counter_prefix) * 104729) % 100000, w + len(self.counter_prefix) % 13))
        for hi, h in enumerate(hs):
            for m in METHODS:
                bs = [f'fleet_http_request_duration_seconds_bucket{{handler="{h}",method="{m}",le="{le}"}} ' for le in BUCKETS]
                s = f'fleet_http_request_duration_seconds_sum{{handler="{h}",method="{m}"}} '
                c = f'fleet_http_request_duration_seconds_count{{handler="{h}",method="{m}"}} '
                self.hist.append((bs, s, c, 50 + (hi * 31 + idx) % 200))
        first_gauge = idx * GAUGES_PER_HANDLER * handlers  # fleet-wide index of this target's first gauge
        for h in hs:
            names = [f'fleet_inflight_requests{{handler="{h}"}} ']
            names += [f'fleet_cache_bytes{{handler="{h}",cache="{cache}"}} ' for cache in CACHES]
            for p in names:
                self.gauge_prefix.append((p, gauge_base(first_gauge + len(self.gauge_prefix))))
        assert first_gauge + len(self.gauge_prefix) <= GAUGE_PRIME, "too many gauges for distinct bases"
        self.header = (
            "# HELP fleet_http_requests_total Requests served.\n# TYPE fleet_http_requests_total counter\n"
        )
        zone = "abc"[idx % 3]
        self.info = (
            "# HELP fleet_build_info Build information.\n# TYPE fleet_build_info gauge\n"
            f'fleet_build_info{{version="1.{idx % 7}.{idx % 3}",zone="eu-west-1{zone}",service="svc-{idx % 20}"}} 1\n'
        )

    def render(self, ts_ms=None):
        """One scrape's exposition; with `ts_ms`, every sample carries that timestamp."""
        g = self.g
        self.g += 1
        nl = "\n" if ts_ms is None else f" {ts_ms}\n"
        out = [self.header]
        out.extend([f"{p}{b + g * r}{nl}" for p, b, r in self.counter_prefix])
        out.append("# HELP fleet_http_request_duration_seconds Request latency.\n"
                   "# TYPE fleet_http_request_duration_seconds histogram\n")
        # cumulative bucket shares (per mille), non-decreasing in le
        shares = (50, 120, 260, 430, 610, 790, 900, 960, 990, 998, 1000)
        for bs, s, c, scale in self.hist:
            total = scale * g + scale
            for bp, sh in zip(bs, shares):
                out.append(f"{bp}{(g + 1) * (scale * sh // 1000)}{nl}")  # constant increment per scrape
            out.append(f"{s}{total * 0.137:.3f}{nl}")
            out.append(f"{c}{total}{nl}")
        out.append("# HELP fleet_inflight_requests In-flight requests.\n# TYPE fleet_inflight_requests gauge\n")
        out.extend([f"{p}{b + gauge_step(g, i)}{nl}" for i, (p, b) in enumerate(self.gauge_prefix)])
        out.append(self.info if ts_ms is None else self.info[:-1] + nl)
        return "".join(out).encode()


def gauge_values(body):
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in body.decode().splitlines()
            if line.startswith(("fleet_cache_bytes", "fleet_inflight_requests"))}


def check_gauge_order(targets):
    """Targets at different scrape counts (as on two servers) rank every gauge series the same."""
    def ranking():
        vals = {}
        for t in targets:
            vals.update(((t.idx, k), v) for k, v in gauge_values(t.render()).items())
        return sorted(vals, key=vals.get)
    first = ranking()
    for i, t in enumerate(targets):
        t.g += 1 + i % 3
    assert ranking() == first, "gauge order changed between scrapes"
    print(f"gauge order: {len(first)} series, same ranking at different scrape counts")


async def serve_target(target, reader, writer, stats, offset_ms):
    try:
        while True:
            # read request head (bounded)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=120)
            if len(head) > 65536:
                break
            first = head.split(b"\r\n", 1)[0]
            close = b"connection: close" in head.lower()
            if not first.startswith(b"GET "):
                writer.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            else:
                t0 = time.process_time()
                ts = None if offset_ms is None else int(time.time() * 1000) + offset_ms
                body = target.render(ts)
                stats["cpu"] += time.process_time() - t0
                stats["scrapes"] += 1
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                             b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")
                writer.write(body)
            await writer.drain()
            if close:
                break
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError,
            ConnectionError, OSError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def main_async(args):
    targets = [Target(i, args.handlers) for i in range(args.targets)]
    stats = {"cpu": 0.0, "scrapes": 0}
    servers = []
    for i, t in enumerate(targets):
        port = args.base_port + i
        srv = await asyncio.start_server(
            lambda r, w, t=t: serve_target(t, r, w, stats, args.time_offset_ms), "127.0.0.1", port,
            backlog=64)
        servers.append(srv)
    sys.stdout.write(f"ready {args.targets} targets x {series_per_target(args.handlers)} series "
                     f"on 127.0.0.1:{args.base_port}-{args.base_port + args.targets - 1}\n")
    sys.stdout.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, stop.set)
    try:
        await asyncio.wait_for(stop.wait(), timeout=args.max_seconds)
    except asyncio.TimeoutError:
        pass
    for srv in servers:
        srv.close()
    sys.stderr.write(f"fleet: {stats['scrapes']} scrapes served, render cpu {stats['cpu']:.1f}s\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--targets", type=int, default=50)
    ap.add_argument("--handlers", type=int, default=50, help="series per target = 40*handlers+1")
    ap.add_argument("--base-port", type=int, default=41000)
    ap.add_argument("--max-seconds", type=float, default=3600, help="exit after this long")
    ap.add_argument("--time-offset-ms", type=int, default=None,
                    help="give every sample an explicit timestamp: scrape time + this offset")
    ap.add_argument("--selftest", action="store_true", help="time rendering one round and exit")
    args = ap.parse_args()
    if args.selftest:
        targets = [Target(i, args.handlers) for i in range(args.targets)]
        t0 = time.process_time()
        n = sum(len(t.render()) for t in targets)
        dt = time.process_time() - t0
        lines = args.targets * series_per_target(args.handlers)
        print(f"one round: {lines} series, {n / 1e6:.1f} MB, {dt:.3f} s cpu ({dt / lines * 1e6:.2f} us/series)")
        check_gauge_order(targets)
        return
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
