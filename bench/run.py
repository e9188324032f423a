#!/usr/bin/env python3
"""Side-by-side benchmark: Ember vs Prometheus vs VictoriaMetrics (issue 9).

    python3 bench/run.py --scale 100k      # ~14 min
    python3 bench/run.py --scale 1m        # ~25 min

One run, one machine, everything on 127.0.0.1. A synthetic fleet (bench/fleet.py,
one process, N targets on N loopback ports, values changing every scrape) is
started once; then each server in turn (never two at once) is started on a fresh
data directory with the same scrape config and interval, and measured:

  * ingestion: samples ingested in the measurement window, counted the same way
    on all three servers with PromQL (sum of `scrape_samples_scraped` over the
    window), per second and as a share of what the fleet offered;
  * CPU seconds per million samples: utime+stime of the server's pid from
    /proc/<pid>/stat over the window (not the server's self-metrics);
  * resident memory: VmRSS from /proc/<pid>/status sampled every second
    (mean/peak in the window, bytes per active series = mean RSS / active series);
  * disk bytes per sample: Prometheus — the head written to a block (admin API
    snapshot, bytes of the block / numSamples in its meta.json) and, for
    comparison, WAL + chunks_head; Ember — WAL + chunks_head only (Ember has no
    blocks yet); VictoriaMetrics — its data directory after /internal/force_flush;
  * restart with a full WAL: SIGTERM, then time from exec until /-/ready answers
    200 and until a first correct query (the pre-restart series count of one
    metric at a pre-restart timestamp);
  * query latency (median, p90) of a fixed query set evaluated at the end of
    the window.

Writes bench/results/<date>-<scale>.json, .md and PNG charts, prints the table.
Every wait is bounded; all children are killed on exit.
"""

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import fleet  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

SCALES = {
    # targets x (40*handlers+1) series; interval; warm-up and measurement windows (s)
    "100k": dict(targets=50, handlers=50, interval=15, warmup=45, measure=180, query_runs=9),
    "1m": dict(targets=500, handlers=50, interval=15, warmup=75, measure=180, query_runs=5),
    # a smoke test of the harness itself, not a benchmark
    "smoke": dict(targets=4, handlers=5, interval=5, warmup=10, measure=15, query_runs=3),
}
REPORT_SERIES_PER_TARGET = 5  # up, scrape_duration_seconds, scrape_samples_scraped, ..._post_metric_relabeling, scrape_series_added

QUERIES = [
    ("sum_rate", "instant", 'sum by (handler) (rate(fleet_http_requests_total[5m]))'),
    ("histogram_quantile", "instant",
     'histogram_quantile(0.9, sum by (le, handler) (rate(fleet_http_request_duration_seconds_bucket[5m])))'),
    ("topk", "instant", 'topk(10, fleet_cache_bytes)'),
    ("regex", "instant",
     'sum by (region) (rate(fleet_http_requests_total{code=~"5..",handler=~"/api/v[12]/(users|orders).*"}[5m]))'),
    ("join", "instant",
     'sum by (instance) (rate(fleet_http_requests_total{code="500"}[5m])) * on (instance) group_left (zone, version) fleet_build_info'),
    ("range_1h_15s", "range", 'sum by (region, code) (rate(fleet_http_requests_total[5m]))'),
    ("count_by_name", "instant", 'count by (__name__) ({__name__=~".+"})'),
]

CHILDREN = []  # Popen objects, each the leader of its own process group


def log(msg):
    sys.stderr.write(f"[{time.strftime('%H:%M:%S')}] {msg}\n")
    sys.stderr.flush()


# ---------------------------------------------------------------- processes

def spawn(cmd, logpath):
    f = open(logpath, "ab")
    p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         start_new_session=True)
    f.close()
    CHILDREN.append(p)
    return p


def stop(p, sig=signal.SIGTERM, timeout=180.0):
    """Signal the process group; SIGKILL after timeout. Returns seconds to exit."""
    if p.poll() is not None:
        return 0.0
    t0 = time.monotonic()
    try:
        os.killpg(p.pid, sig)
    except ProcessLookupError:
        pass
    try:
        p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        log(f"pid {p.pid} did not exit in {timeout}s, SIGKILL")
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait(timeout=30)
    if p in CHILDREN:
        CHILDREN.remove(p)
    return time.monotonic() - t0


def kill_all():
    for p in list(CHILDREN):
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            p.wait(timeout=10)
        except Exception:
            pass
    CHILDREN.clear()


def proc_cpu(pid):
    """utime+stime in seconds from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    fields = s[s.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def proc_smaps(pid):
    """RSS split from /proc/<pid>/smaps_rollup: anonymous (heap, stacks) vs file-backed
    (binary, mmapped chunks_head files) pages, in bytes."""
    out = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3 and parts[0].endswith(":") and parts[2] == "kB":
                    out[parts[0][:-1]] = int(parts[1]) * 1024
    except OSError:
        return None
    rss = out.get("Rss", 0)
    anon = out.get("Anonymous", 0)
    return dict(rss=rss, anon=anon, file=rss - anon - out.get("Shmem", 0) if rss else None)


def machine_busy():
    """(busy, total) jiffies over all CPUs from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v) - idle, sum(v)


class Sampler(threading.Thread):
    """Samples RSS and CPU of one pid every second until stopped (bounded by max_s)."""

    def __init__(self, pid, t_origin, max_s):
        super().__init__(daemon=True)
        self.pid, self.t_origin, self.max_s = pid, t_origin, max_s
        self.samples = []  # (t, rss_bytes, cpu_s)
        self._halt = threading.Event()

    def run(self):
        deadline = time.monotonic() + self.max_s
        while not self._halt.is_set() and time.monotonic() < deadline:
            try:
                self.samples.append((time.time() - self.t_origin, proc_rss(self.pid), proc_cpu(self.pid)))
            except (FileNotFoundError, ProcessLookupError, ValueError):
                break
            self._halt.wait(1.0)

    def stop(self):
        self._halt.set()
        self.join(timeout=5)


def du(path):
    total = 0
    for dirpath, _, files in os.walk(path):
        for fn in files:
            try:
                total += os.lstat(os.path.join(dirpath, fn)).st_size
            except FileNotFoundError:
                pass
    return total


def port_free(port):
    # SO_REUSEADDR as the fleet's and the servers' listeners set it: ports
    # that only have connections in TIME_WAIT (from the previous run) are free.
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def find_ports(start, count, limit=20000):
    """First run of `count` consecutive free loopback ports at or above start."""
    p = start
    while p + count < start + limit:
        bad = next((q for q in range(p, p + count) if not port_free(q)), None)
        if bad is None:
            return p
        p = bad + 1
    raise SystemExit(f"no {count} free consecutive ports from {start}")


# ---------------------------------------------------------------- HTTP

def http_get(url, timeout=60.0):
    req = urllib.request.Request(url, headers={"Accept-Encoding": "identity"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except (urllib.error.URLError, ConnectionError, socket.timeout, TimeoutError, OSError):
        return None, b""


def http_post(url, timeout=600.0):
    req = urllib.request.Request(url, data=b"", method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except (urllib.error.URLError, ConnectionError, socket.timeout, TimeoutError, OSError):
        return None, b""


def query(base, q, t=None, timeout=120.0):
    params = {"query": q}
    if t is not None:
        params["time"] = f"{t:.3f}"
    st, body = http_get(f"{base}/api/v1/query?" + urllib.parse.urlencode(params), timeout)
    if st != 200:
        return None
    try:
        d = json.loads(body)
    except ValueError:
        return None
    return d.get("data", {}).get("result") if d.get("status") == "success" else None


def query_scalar(base, q, t=None):
    r = query(base, q, t)
    if not r:
        return None
    try:
        return float(r[0]["value"][1])
    except (KeyError, IndexError, ValueError, TypeError):
        return None


def self_metrics(base, names):
    st, body = http_get(f"{base}/metrics", timeout=30)
    out = {}
    if st != 200:
        return out
    for line in body.decode(errors="replace").splitlines():
        if not line or line[0] == "#":
            continue
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if name in names:
            try:
                out[name] = out.get(name, 0.0) + float(line.rsplit(" ", 1)[1])
            except ValueError:
                pass
    return out


def wait_until(pred, timeout, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return False


# ---------------------------------------------------------------- servers

EMBER_BIN = None  # --ember-bin


def ember_bin():
    return EMBER_BIN or os.path.join(ROOT, "target", "release", "ember")


def server_defs(cfg, port):
    return {
        "ember": dict(
            label="Ember",
            cmd=lambda data: [ember_bin(), "server", f"--config.file={cfg}", f"--storage.tsdb.path={data}",
                              f"--web.listen-address=127.0.0.1:{port}", "--web.enable-admin-api"],
            samples_metric="prometheus_tsdb_head_samples_appended_total",
        ),
        "prometheus": dict(
            label="Prometheus",
            cmd=lambda data: ["prometheus", f"--config.file={cfg}", f"--storage.tsdb.path={data}",
                              f"--web.listen-address=127.0.0.1:{port}", "--web.enable-admin-api"],
            samples_metric="prometheus_tsdb_head_samples_appended_total",
        ),
        "victoriametrics": dict(
            label="VictoriaMetrics",
            # The rollup-result cache is disabled: the latency test repeats each query, and
            # Prometheus/Ember have no such cache. maxUniqueTimeseries is raised so the
            # count-by-name query may touch every series at the 1M scale.
            cmd=lambda data: ["victoria-metrics", f"-promscrape.config={cfg}", f"-storageDataPath={data}",
                              f"-httpListenAddr=127.0.0.1:{port}", "-search.disableCache",
                              "-search.maxUniqueTimeseries=20000000", "-retentionPeriod=10y",
                              # data becomes queryable at once, as in Prometheus (default hides the last 30s)
                              "-search.latencyOffset=0s",
                              "-loggerLevel=WARN"],
            samples_metric="vm_rows_added_to_storage_total",
        ),
    }


def versions():
    out = {}
    for name, cmd in (("prometheus", ["prometheus", "--version"]),):
        try:
            out[name] = subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.splitlines()[0]
        except Exception as e:  # noqa: BLE001
            out[name] = f"? ({e})"
    try:
        out["victoriametrics"] = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "victoria-metrics"],
                                                capture_output=True, text=True, timeout=20).stdout
    except Exception as e:  # noqa: BLE001
        out["victoriametrics"] = f"? ({e})"
    try:
        rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=20).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=20).stdout.strip()
        out["ember"] = f"git {rev}{' (+uncommitted changes in tree)' if dirty else ''}"
        if EMBER_BIN:
            out["ember"] += f" (binary {EMBER_BIN})"
    except Exception as e:  # noqa: BLE001
        out["ember"] = f"? ({e})"
    return out


def write_config(path, targets, base_port, interval):
    regions = ("eu-west-1", "us-east-1", "ap-south-1")
    lines = ["global:", f"  scrape_interval: {interval}s", f"  scrape_timeout: {min(interval - 1, 10)}s",
             "scrape_configs:", "  - job_name: fleet", "    static_configs:"]
    group = 10
    for g0 in range(0, targets, group):
        ts = ", ".join(f"'127.0.0.1:{base_port + i}'" for i in range(g0, min(targets, g0 + group)))
        k = g0 // group
        lines += [f"      - targets: [{ts}]",
                  "        labels:",
                  f"          env: {'prod' if k % 4 else 'staging'}",
                  f"          region: {regions[k % 3]}",
                  f"          cluster: k8s-{k % 7}",
                  f"          team: team-{k % 5}"]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return None
    k = (len(xs) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def run_queries(base, t_eval, runs, budget_s=90.0):
    out = {}
    for name, kind, q in QUERIES:
        if kind == "range":
            params = {"query": q, "start": f"{t_eval - 3600:.3f}", "end": f"{t_eval:.3f}", "step": "15"}
            url = f"{base}/api/v1/query_range?" + urllib.parse.urlencode(params)
        else:
            url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": q, "time": f"{t_eval:.3f}"})
        times, ok, nres, npoints, err = [], True, None, None, None
        t_start = time.monotonic()
        for i in range(runs + 1):  # first run is a warm-up, not timed
            t0 = time.perf_counter()
            st, body = http_get(url, timeout=300)
            el = time.perf_counter() - t0
            if st != 200:
                ok, err = False, f"HTTP {st}: {body[:200]!r}"
                break
            if i == 0:
                d = json.loads(body)
                res = d.get("data", {}).get("result", [])
                nres = len(res)
                npoints = sum(len(r.get("values", [])) for r in res) if kind == "range" else nres
            else:
                times.append(el)
            if i >= 3 and time.monotonic() - t_start > budget_s:
                break
        out[name] = dict(query=q, kind=kind, ok=ok and bool(times), error=err, result_series=nres,
                         points=npoints, runs=len(times),
                         median_s=statistics.median(times) if times else None,
                         p90_s=pct(times, 0.9) if times else None)
        log(f"    {name}: {out[name]['median_s'] and round(out[name]['median_s'] * 1000, 1)} ms median, "
            f"{nres} series")
    return out


def bench_server(key, sdef, sc, work, base_port_srv, expected_samples_per_scrape_round, active_series,
                 fleet_proc):
    port = base_port_srv
    base = f"http://127.0.0.1:{port}"
    data = os.path.join(work, f"{key}-data")
    shutil.rmtree(data, ignore_errors=True)
    os.makedirs(data)
    logpath = os.path.join(work, f"{key}.log")
    res = {"server": key, "label": sdef["label"]}
    t_origin = time.time()
    log(f"== {sdef['label']}: starting")
    p = spawn(sdef["cmd"](data), logpath)
    sampler = Sampler(p.pid, t_origin, max_s=3600)
    sampler.start()
    try:
        if not wait_until(lambda: http_get(f"{base}/-/ready", 2)[0] == 200, 180, 0.1):
            raise RuntimeError(f"{key} not ready in 180s (see {logpath})")
        res["startup_ready_s"] = time.time() - t_origin
        # warm-up
        time.sleep(sc["warmup"])
        sm0 = self_metrics(base, {sdef["samples_metric"]})
        t_ws = time.time()
        cpu_ws = proc_cpu(p.pid)
        fcpu_ws = proc_cpu(fleet_proc.pid)
        mb_ws = machine_busy()
        time.sleep(sc["measure"])
        t_we = time.time()
        cpu_we = proc_cpu(p.pid)
        smaps_we = proc_smaps(p.pid)
        fcpu_we = proc_cpu(fleet_proc.pid)
        mb_we = machine_busy()
        sm1 = self_metrics(base, {sdef["samples_metric"]})
        W = t_we - t_ws
        # samples ingested in the window, counted the same way on every server
        time.sleep(2)
        wq = int(round(W))
        samples = query_scalar(base, f'sum(sum_over_time(scrape_samples_scraped{{job="fleet"}}[{wq}s]))', t_we)
        scrapes = query_scalar(base, f'sum(count_over_time(up{{job="fleet"}}[{wq}s]))', t_we)
        up = query_scalar(base, 'avg(avg_over_time(up{job="fleet"}[%ds]))' % wq, t_we)
        sdur = query_scalar(base, 'avg(avg_over_time(scrape_duration_seconds{job="fleet"}[%ds]))' % wq, t_we)
        cpu = cpu_we - cpu_ws
        win = [s for s in sampler.samples if t_ws - t_origin <= s[0] <= t_we - t_origin]
        rss = [s[1] for s in win]
        offered = expected_samples_per_scrape_round * (W / sc["interval"])
        busy = (mb_we[0] - mb_ws[0]) / CLK_TCK
        res.update(
            window_s=W,
            samples_in_window=samples,
            scrapes_in_window=scrapes,
            self_metric_samples_delta=(sm1.get(sdef["samples_metric"], 0) - sm0.get(sdef["samples_metric"], 0))
            if sm0 and sm1 else None,
            ingest_samples_per_s=samples / W if samples else None,
            offered_samples_per_s=offered / W,
            ingest_share_of_offered=(samples / offered) if samples else None,
            up_avg=up,
            scrape_duration_avg_s=sdur,
            cpu_s_window=cpu,
            cpu_cores_avg=cpu / W,
            cpu_s_per_million_samples=cpu / (samples / 1e6) if samples else None,
            rss_mean_bytes=statistics.mean(rss) if rss else None,
            rss_peak_bytes=max(rss) if rss else None,
            rss_end_bytes=rss[-1] if rss else None,
            rss_bytes_per_active_series=statistics.mean(rss) / active_series if rss else None,
            smaps_end=smaps_we,
            rss_anon_bytes_per_active_series=smaps_we["anon"] / active_series if smaps_we else None,
            fleet_cpu_cores_avg=(fcpu_we - fcpu_ws) / W,
            # everything else on the machine (other engineers' builds, this harness, the fleet)
            machine_busy_cores_avg=busy / W,
            noise_cores_avg=busy / W - cpu / W - (fcpu_we - fcpu_ws) / W,
        )
        log(f"  window {W:.0f}s: {res['ingest_samples_per_s'] or 0:.0f} samples/s "
            f"({(res['ingest_share_of_offered'] or 0) * 100:.1f}% of offered), {res['cpu_cores_avg']:.2f} cores, "
            f"RSS {(res['rss_mean_bytes'] or 0) / 2**20:.0f} MiB, noise {res['noise_cores_avg']:.2f} cores")

        # queries over the ingested data, evaluated at the end of the window
        log("  queries")
        res["queries"] = run_queries(base, t_we, sc["query_runs"]) if sc.get("queries", True) else {}

        # disk
        log("  disk")
        disk = {}
        sm = self_metrics(base, {sdef["samples_metric"]})
        total_samples = sm.get(sdef["samples_metric"])
        disk["samples_total_self_metric"] = total_samples
        if key in ("ember", "prometheus"):
            wal = du(os.path.join(data, "wal"))
            ch = du(os.path.join(data, "chunks_head"))
            disk.update(wal_bytes=wal, chunks_head_bytes=ch,
                        wal_chunks_head_bytes_per_sample=(wal + ch) / total_samples if total_samples else None)
        if key == "prometheus":
            st, body = http_post(f"{base}/api/v1/admin/tsdb/snapshot?skip_head=false")
            if st == 200:
                name = json.loads(body)["data"]["name"]
                snap = os.path.join(data, "snapshots", name)
                blocks = [os.path.join(snap, b) for b in os.listdir(snap)] if os.path.isdir(snap) else []
                bbytes = sum(du(b) for b in blocks)
                nsamp = nser = 0
                for b in blocks:
                    with open(os.path.join(b, "meta.json")) as f:
                        m = json.load(f)
                    nsamp += m["stats"]["numSamples"]
                    nser += m["stats"]["numSeries"]
                disk.update(block_bytes=bbytes, block_samples=nsamp, block_series=nser,
                            block_bytes_per_sample=bbytes / nsamp if nsamp else None,
                            bytes_per_sample=bbytes / nsamp if nsamp else None,
                            method="head written to a block (admin snapshot); bytes of block / numSamples")
                shutil.rmtree(os.path.join(data, "snapshots"), ignore_errors=True)
            else:
                disk["error"] = f"snapshot HTTP {st}"
        elif key == "ember":
            disk.update(bytes_per_sample=disk.get("wal_chunks_head_bytes_per_sample"),
                        method="WAL + chunks_head bytes / samples appended (no blocks in Ember yet)")
        else:
            http_get(f"{base}/internal/force_flush", 60)
            time.sleep(3)
            vb = du(data)
            disk.update(data_bytes=vb, bytes_per_sample=vb / total_samples if total_samples else None,
                        method="whole -storageDataPath after /internal/force_flush / vm_rows_added_to_storage_total")
        res["disk"] = disk

        # restart with a full WAL
        log("  restart")
        t_chk = time.time() - 2 * sc["interval"]
        expect = query_scalar(base, "count(fleet_http_requests_total)", t_chk)
        sampler.stop()
        res["rss_timeline"] = [(round(t, 1), r) for t, r, _ in sampler.samples]
        res["timeline_marks"] = dict(window_start=t_ws - t_origin, window_end=t_we - t_origin)
        res["shutdown_s"] = stop(p, signal.SIGTERM, timeout=300)
        wal_before = du(os.path.join(data, "wal")) if key != "victoriametrics" else du(data)
        t0 = time.time()
        p = spawn(sdef["cmd"](data), logpath)
        ready = wait_until(lambda: http_get(f"{base}/-/ready", 2)[0] == 200, 600, 0.02)
        t_ready = time.time() - t0 if ready else None
        good = expect is not None and wait_until(
            lambda: query_scalar(base, "count(fleet_http_requests_total)", t_chk) == expect, 300, 0.02)
        t_query = time.time() - t0 if good else None
        rss_after = proc_rss(p.pid) if p.poll() is None else None
        res["restart"] = dict(wal_or_data_bytes=wal_before, ready_s=t_ready, first_correct_query_s=t_query,
                              expected_count=expect, rss_after_restart_bytes=rss_after)
        log(f"  restart: ready {t_ready}, first correct query {t_query} (count {expect})")
    finally:
        sampler.stop()
        stop(p, signal.SIGTERM, timeout=120)
        shutil.rmtree(data, ignore_errors=True)
    return res


def bench_replay(defs, sc, work, port, runs, keep=None):
    """WAL replay of the same WAL by Prometheus and Ember.

    Prometheus scrapes the fleet for the scale's warm-up + window, then is
    SIGKILLed (no clean shutdown: the head lives only in wal/ and
    chunks_head/). Each server then starts `runs` times on a fresh copy of
    that directory; we time exec -> /-/ready and check that a query at a
    timestamp inside the WAL sees every fleet series."""
    base = f"http://127.0.0.1:{port}"
    src = os.path.join(work, "replay-src")
    shutil.rmtree(src, ignore_errors=True)
    os.makedirs(src)
    logpath = os.path.join(work, "replay.log")
    log("== WAL replay: Prometheus writes the WAL")
    p = spawn(defs["prometheus"]["cmd"](src), logpath)
    try:
        if not wait_until(lambda: http_get(f"{base}/-/ready", 2)[0] == 200, 180, 0.1):
            raise RuntimeError(f"prometheus not ready (see {logpath})")
        time.sleep(sc["warmup"] + sc["measure"])
        t_chk = time.time() - 2 * sc["interval"]
        expect = query_scalar(base, "count(fleet_http_requests_total)", t_chk)
        samples = self_metrics(base, {"prometheus_tsdb_head_samples_appended_total"}).get(
            "prometheus_tsdb_head_samples_appended_total")
        series = self_metrics(base, {"prometheus_tsdb_head_series"}).get("prometheus_tsdb_head_series")
    finally:
        stop(p, signal.SIGKILL, timeout=60)
    out = dict(wal_bytes=du(os.path.join(src, "wal")), chunks_head_bytes=du(os.path.join(src, "chunks_head")),
               samples=samples, series=series, expected_count=expect, servers={})
    log(f"  WAL {out['wal_bytes'] / 2**20:.0f} MiB, {series} series, {samples} samples")
    for key in ("prometheus", "ember"):
        times, rss, ok = [], [], True
        for i in range(runs):
            d = os.path.join(work, f"replay-{key}")
            shutil.rmtree(d, ignore_errors=True)
            shutil.copytree(src, d)
            # Drop the page cache's advantage of the first reader: read every file once.
            for root, _, files in os.walk(d):
                for fn in files:
                    with open(os.path.join(root, fn), "rb") as f:
                        while f.read(1 << 20):
                            pass
            t0 = time.time()
            p = spawn(defs[key]["cmd"](d), logpath)
            try:
                ready = wait_until(lambda: http_get(f"{base}/-/ready", 2)[0] == 200, 900, 0.02)
                t_ready = time.time() - t0 if ready else None
                good = expect is not None and wait_until(
                    lambda: query_scalar(base, "count(fleet_http_requests_total)", t_chk) == expect, 120, 0.05)
                rss.append(proc_rss(p.pid) if p.poll() is None else None)
            finally:
                stop(p, signal.SIGTERM, timeout=300)
                shutil.rmtree(d, ignore_errors=True)
            ok = ok and good
            times.append(t_ready)
            log(f"  {key} run {i + 1}: ready in {t_ready}, data correct: {good}")
        ts = [t for t in times if t is not None]
        out["servers"][key] = dict(ready_s=times, ready_median_s=statistics.median(ts) if ts else None,
                                   correct=ok, rss_after_ready_bytes=rss)
    if keep:
        shutil.rmtree(keep, ignore_errors=True)
        shutil.copytree(src, keep)
    shutil.rmtree(src, ignore_errors=True)
    pm, em = out["servers"]["prometheus"]["ready_median_s"], out["servers"]["ember"]["ready_median_s"]
    out["speedup"] = pm / em if pm and em else None
    log(f"  replay: Prometheus {pm} s, Ember {em} s, Ember {out['speedup'] and round(out['speedup'], 2)}x faster")
    return out


# ---------------------------------------------------------------- report

ROWS = [
    # key path, label, unit, scale, better ("lower"/"higher")
    ("active_series", "Active series", "", 1, None),
    ("ingest_samples_per_s", "Ingested samples/s (window)", "samples/s", 1, "higher"),
    ("ingest_share_of_offered", "Ingested / offered by fleet", "%", 100, "higher"),
    ("cpu_cores_avg", "CPU (cores, avg over window)", "cores", 1, "lower"),
    ("cpu_s_per_million_samples", "CPU s per 1M samples", "s", 1, "lower"),
    ("rss_mean_bytes", "RSS mean in window", "MiB", 1 / 2**20, "lower"),
    ("rss_peak_bytes", "RSS peak in window", "MiB", 1 / 2**20, "lower"),
    ("rss_end_bytes", "RSS at end of window", "MiB", 1 / 2**20, "lower"),
    ("rss_bytes_per_active_series", "RSS bytes / active series (mean RSS)", "B", 1, "lower"),
    ("rss_anon_bytes_per_active_series", "Anonymous RSS bytes / active series (window end)", "B", 1, "lower"),
    ("rss_peak_queries_bytes", "RSS peak while the query set ran", "MiB", 1 / 2**20, "lower"),
    ("disk.bytes_per_sample", "Disk B/sample (Prom: block; Ember: WAL+chunks_head; VM: data dir)", "B", 1, "lower"),
    ("disk.wal_chunks_head_bytes_per_sample", "WAL+chunks_head B/sample", "B", 1, "lower"),
    ("shutdown_s", "Shutdown (SIGTERM→exit)", "s", 1, "lower"),
    ("restart.ready_s", "Restart: exec → /-/ready", "s", 1, "lower"),
    ("restart.first_correct_query_s", "Restart: exec → first correct query", "s", 1, "lower"),
    ("restart.rss_after_restart_bytes", "RSS right after restart", "MiB", 1 / 2**20, "lower"),
]


def get(d, path):
    for k in path.split("."):
        if not isinstance(d, dict) or d.get(k) is None:
            return None
        d = d[k]
    return d


def table_rows(result):
    srv = result["servers"]
    rows = []
    for path, label, unit, mul, _ in ROWS:
        vals = {k: (get(srv[k], path) if path != "active_series" else result["active_series"]) for k in srv}
        rows.append((label, unit, {k: (v * mul if isinstance(v, (int, float)) else None) for k, v in vals.items()}))
    for name, _, _ in QUERIES:
        for stat in ("median_s", "p90_s"):
            vals = {k: get(srv[k], f"queries.{name}.{stat}") for k in srv}
            rows.append((f"Query {name} {stat[:-2]}", "ms", {k: (v * 1000 if v is not None else None)
                                                             for k, v in vals.items()}))
    return rows


def fmt(v):
    if v is None:
        return "—"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.3g}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def render_table(result, markdown=False):
    srv = result["servers"]
    keys = [k for k in ("ember", "prometheus", "victoriametrics") if k in srv]
    head = ["Metric", "Unit"] + [srv[k]["label"] for k in keys]
    if "ember" in srv and "prometheus" in srv:
        head.append("Ember/Prom")
    if "ember" in srv and "victoriametrics" in srv:
        head.append("Ember/VM")
    body = []
    for label, unit, vals in table_rows(result):
        row = [label, unit] + [fmt(vals.get(k)) for k in keys]
        if "Ember/Prom" in head:
            r = ratio(vals.get("ember"), vals.get("prometheus"))
            row.append(f"{r:.2f}×" if r is not None else "—")
        if "Ember/VM" in head:
            r = ratio(vals.get("ember"), vals.get("victoriametrics"))
            row.append(f"{r:.2f}×" if r is not None else "—")
        body.append(row)
    if markdown:
        out = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * 2 + ["---:"] * (len(head) - 2)) + "|"]
        out += ["| " + " | ".join(r) + " |" for r in body]
        return "\n".join(out)
    w = [max(len(str(r[i])) for r in [head] + body) for i in range(len(head))]
    line = lambda r: "  ".join(str(c).ljust(w[i]) if i < 2 else str(c).rjust(w[i]) for i, c in enumerate(r))  # noqa: E731
    return "\n".join([line(head), "  ".join("-" * x for x in w)] + [line(r) for r in body])


def charts(result, prefix):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("matplotlib missing (pip install matplotlib): no charts")
        return []
    srv = result["servers"]
    keys = [k for k in ("ember", "prometheus", "victoriametrics") if k in srv]
    colors = {"ember": "#d9480f", "prometheus": "#1c7ed6", "victoriametrics": "#5f3dc4"}
    files = []

    # 1. RSS over time
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for k in keys:
        tl = srv[k].get("rss_timeline") or []
        if tl:
            ax.plot([t for t, _ in tl], [r / 2**20 for _, r in tl], label=srv[k]["label"], color=colors[k])
        m = srv[k].get("timeline_marks")
        if m:
            ax.axvspan(m["window_start"], m["window_end"], color=colors[k], alpha=0.05)
    ax.set_xlabel("seconds since start")
    ax.set_ylabel("RSS (MiB)")
    ax.set_title(f"Resident memory, {result['active_series']:,} active series (shaded: measurement window)")
    ax.legend()
    ax.grid(alpha=0.3)
    f = f"{prefix}-rss.png"
    fig.tight_layout()
    fig.savefig(f, dpi=110)
    plt.close(fig)
    files.append(f)

    # 2. query latency
    fig, ax = plt.subplots(figsize=(10, 4.5))
    names = [n for n, _, _ in QUERIES]
    wdt = 0.8 / max(1, len(keys))
    for i, k in enumerate(keys):
        med = [(get(srv[k], f"queries.{n}.median_s") or 0) * 1000 for n in names]
        p90 = [(get(srv[k], f"queries.{n}.p90_s") or 0) * 1000 for n in names]
        xs = [j + i * wdt for j in range(len(names))]
        ax.bar(xs, med, wdt, label=f"{srv[k]['label']} median", color=colors[k])
        ax.scatter(xs, p90, marker="_", s=200, color="black", zorder=3, label="p90" if i == 0 else None)
    ax.set_xticks([j + wdt * (len(keys) - 1) / 2 for j in range(len(names))])
    ax.set_xticklabels(names, rotation=20, ha="right")
    ax.set_yscale("log")
    ax.set_ylabel("latency (ms, log)")
    ax.set_title("Query latency (bars: median, ticks: p90)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    f = f"{prefix}-queries.png"
    fig.tight_layout()
    fig.savefig(f, dpi=110)
    plt.close(fig)
    files.append(f)

    # 3. ratios
    if "ember" in srv:
        rows = [r for r in table_rows(result) if r[0] != "Active series"]
        labels, rp, rv = [], [], []
        for label, _, vals in rows:
            a = ratio(vals.get("ember"), vals.get("prometheus"))
            b = ratio(vals.get("ember"), vals.get("victoriametrics"))
            if a is None and b is None:
                continue
            labels.append(label if len(label) < 40 else label[:38] + "…")
            rp.append(a or float("nan"))
            rv.append(b or float("nan"))
        fig, ax = plt.subplots(figsize=(9, 0.32 * len(labels) + 1.5))
        ys = list(range(len(labels)))
        ax.barh([y - 0.2 for y in ys], rp, 0.4, label="Ember / Prometheus", color=colors["prometheus"])
        ax.barh([y + 0.2 for y in ys], rv, 0.4, label="Ember / VictoriaMetrics", color=colors["victoriametrics"])
        ax.axvline(1.0, color="black", lw=1)
        ax.set_xscale("log")
        ax.set_yticks(ys)
        ax.set_yticklabels(labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("ratio (log; <1 means Ember uses less / is faster, except the two ingestion rows)")
        ax.set_title("Ember relative to Prometheus and VictoriaMetrics")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3, axis="x")
        f = f"{prefix}-ratios.png"
        fig.tight_layout()
        fig.savefig(f, dpi=110)
        plt.close(fig)
        files.append(f)
    return files


def markdown(result, table_md, chart_files):
    c = result["config"]
    lines = [f"# Ember vs Prometheus vs VictoriaMetrics — {result['scale']} ({result['date']})", "",
             f"Command: `{result['command']}`", "",
             "## Setup", "",
             f"- Fleet: {c['targets']} targets × {c['series_per_target']} series "
             f"(+{REPORT_SERIES_PER_TARGET} scrape report series per target) = **{result['active_series']:,} active series**, "
             "served by one Python process (`bench/fleet.py`) on loopback; counters, gauges, a classic histogram "
             "(11 buckets) and an info metric, values changing every scrape.",
             f"- Scrape interval {c['interval']}s for every server; warm-up {c['warmup']}s, measurement window "
             f"{c['measure']}s; each server alone on the machine (started on an empty data dir, stopped before the next).",
             f"- Versions: Ember {result['versions'].get('ember')}; {result['versions'].get('prometheus')}; "
             f"VictoriaMetrics {result['versions'].get('victoriametrics')} (`-search.disableCache`).",
             "- Fleet cost: " + ", ".join(f"{v['label']} run {v.get('fleet_cpu_cores_avg', 0):.2f} cores"
                                          for v in result["servers"].values()) +
             " (mean CPU of the fleet process during each window; it shares the machine with the server).",
             f"- Machine: {os.cpu_count()} CPUs, shared with other engineers' builds. Mean CPU used by everything "
             "other than the server under test and the fleet during each window (\"noise\"): " +
             ", ".join(f"{v['label']} {max(0.0, v.get('noise_cores_avg') or 0):.2f} cores" for v in result["servers"].values()) + ".",
             "", "## Results", "", table_md, "",
             "Ratios are Ember divided by the other server: below 1× Ember uses less (or is faster), "
             "except for the two ingestion rows, where higher is better.", ""]
    r = result.get("replay")
    if r:
        ps, es = r["servers"]["prometheus"], r["servers"]["ember"]
        fmt_s = lambda xs: ", ".join(f"{x:.2f}" if x is not None else "—" for x in xs)  # noqa: E731
        lines += ["## WAL replay (same WAL)", "",
                  f"Prometheus 2.42 scraped the fleet for {c['warmup'] + c['measure']:.0f} s and was SIGKILLed: "
                  f"{(r['wal_bytes'] or 0) / 2**20:.0f} MiB of WAL + {(r['chunks_head_bytes'] or 0) / 2**20:.0f} MiB of "
                  f"chunks_head, {r['series']:,.0f} series, {r['samples']:,.0f} samples. Each server then started on "
                  "a fresh copy of that directory (files read once beforehand, so both find them in the page "
                  "cache); time from exec to `/-/ready` = 200, and a check that `count(fleet_http_requests_total)` "
                  "at a timestamp inside the WAL is complete.", "",
                  "| | Prometheus | Ember | Prometheus / Ember |", "|---|---:|---:|---:|",
                  f"| exec → ready, median (s) | {ps['ready_median_s']:.2f} | {es['ready_median_s']:.2f} | "
                  f"{r['speedup']:.2f}× |" if r.get("speedup") else "| exec → ready | — | — | — |",
                  f"| runs (s) | {fmt_s(ps['ready_s'])} | {fmt_s(es['ready_s'])} | |",
                  f"| data complete after ready | {ps['correct']} | {es['correct']} | |",
                  f"| RSS after ready (MiB) | {fmt_s([x / 2**20 for x in ps['rss_after_ready_bytes'] if x])} | "
                  f"{fmt_s([x / 2**20 for x in es['rss_after_ready_bytes'] if x])} | |", ""]
    lines += ["## Query set", "", "| name | query | result series (E / P / VM) |", "|---|---|---|"]
    for name, kind, q in QUERIES:
        counts = " / ".join(str(get(v, f"queries.{name}.result_series")) for v in result["servers"].values())
        suffix = " (range: 1h, step 15s)" if kind == "range" else ""
        lines.append(f"| {name} | `{q.replace('|', chr(92) + '|')}`{suffix} | {counts} |")
    lines += ["", "## Method", "",
              "- Ingested samples: `sum(sum_over_time(scrape_samples_scraped{job=\"fleet\"}[W]))` at the end of "
              "the window, on each server (the same PromQL everywhere); each server's own counter "
              "(`prometheus_tsdb_head_samples_appended_total`, `vm_rows_added_to_storage_total`) is in the JSON "
              "as a cross-check.",
              "- CPU: utime+stime of the server pid from `/proc/<pid>/stat` over the window; RSS: `VmRSS` from "
              "`/proc/<pid>/status` every second. Bytes per active series = mean RSS in the window / active series.",
              "- Disk: Prometheus — head written to a block by the admin snapshot API (block bytes / `numSamples` "
              "of its meta.json), plus WAL+chunks_head for comparison; **Ember — WAL + chunks_head bytes per "
              "appended sample, because Ember has no blocks/compaction yet (they arrive with the TSDB II issue); "
              "it is not comparable to a block**; VictoriaMetrics — the whole data directory (data + indexdb) "
              "after `/internal/force_flush`, per row added to storage (background merges may shrink it later).",
              "- Restart: SIGTERM (graceful), then time from exec until `/-/ready` answers 200 and until "
              "`count(fleet_http_requests_total)` at a pre-restart timestamp equals its pre-restart value.",
              "- Queries: evaluated at the end of the window (range query: the hour before it, step 15s); one "
              "untimed warm-up run, then up to the configured runs (fewer if a query exceeds its time budget).",
              "", "## Caveats", ""]
    lines += [f"- {x}" for x in result.get("caveats", [])]
    lines += ["", "## Charts", ""]
    lines += [f"![{os.path.basename(f)}]({os.path.basename(f)})" for f in chart_files]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", choices=sorted(SCALES), help="100k or 1m (smoke: a quick harness check)")
    ap.add_argument("--servers", default="ember,prometheus,victoriametrics")
    ap.add_argument("--warmup", type=float, help="override the scale's warm-up seconds")
    ap.add_argument("--measure", type=float, help="override the scale's measurement seconds")
    ap.add_argument("--interval", type=int, help="override the scale's scrape interval")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--workdir", default=None, help="data dirs (default: a temp dir, removed at the end)")
    ap.add_argument("--ember-bin", help="the ember binary to run (default: target/release/ember)")
    ap.add_argument("--no-queries", action="store_true", help="skip the query set (memory/restart-only runs)")
    ap.add_argument("--replay", action="store_true",
                    help="also time WAL replay: Prometheus writes a WAL (SIGKILL), both restart on copies of it")
    ap.add_argument("--replay-runs", type=int, default=3, help="restarts per server in the replay test")
    ap.add_argument("--replay-keep", metavar="DIR", help="keep a copy of Prometheus's data dir there (profiling)")
    ap.add_argument("--report", metavar="JSON", help="only re-render table, Markdown and charts from a result JSON")
    args = ap.parse_args()
    if args.report:
        with open(args.report) as f:
            result = json.load(f)
        write_outputs(result, args.report[:-len(".json")] if args.report.endswith(".json") else args.report)
        return

    if not args.scale:
        ap.error("--scale is required")
    global EMBER_BIN
    EMBER_BIN = args.ember_bin
    sc = dict(SCALES[args.scale])
    sc["queries"] = not args.no_queries
    for k in ("warmup", "measure", "interval"):
        if getattr(args, k) is not None:
            sc[k] = getattr(args, k)
    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    if "ember" in servers and not os.access(ember_bin(), os.X_OK):
        raise SystemExit(f"{ember_bin()} missing: cargo build --release -p ember")
    for exe in (("prometheus", "prometheus"), ("victoriametrics", "victoria-metrics")):
        if exe[0] in servers and not shutil.which(exe[1]):
            raise SystemExit(f"{exe[1]} missing (apt-get install {exe[1]})")

    spt = fleet.series_per_target(sc["handlers"])
    active = sc["targets"] * (spt + REPORT_SERIES_PER_TARGET)
    per_round = sc["targets"] * spt  # samples the fleet offers per scrape round (scrape_samples_scraped)
    date = dt.datetime.now().strftime("%Y-%m-%d")
    os.makedirs(args.out, exist_ok=True)
    work = args.workdir or tempfile.mkdtemp(prefix=f"ember-bench-{args.scale}-")
    os.makedirs(work, exist_ok=True)

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    result = dict(scale=args.scale, date=date, started=dt.datetime.now().isoformat(timespec="seconds"),
                  command="python3 bench/run.py " + " ".join(sys.argv[1:]),
                  config=dict(sc, series_per_target=spt), active_series=active, versions=versions(),
                  loadavg_before=os.getloadavg(), servers={}, caveats=[])
    total_budget = 3 * (sc["warmup"] + sc["measure"]) + 3 * 900
    try:
        fport = find_ports(41000, sc["targets"])
        sport = find_ports(29090, 1)
        cfg = os.path.join(work, "scrape.yml")
        write_config(cfg, sc["targets"], fport, sc["interval"])
        fl = spawn([sys.executable, os.path.join(HERE, "fleet.py"), "--targets", str(sc["targets"]),
                    "--handlers", str(sc["handlers"]), "--base-port", str(fport),
                    "--max-seconds", str(total_budget)], os.path.join(work, "fleet.log"))
        if not wait_until(lambda: all(not port_free(fport + i) for i in (0, sc["targets"] - 1)), 60, 0.2):
            raise RuntimeError("fleet did not start")
        log(f"fleet: {sc['targets']} targets x {spt} series on 127.0.0.1:{fport}+; servers on :{sport}; work {work}")
        defs = server_defs(cfg, sport)
        for key in servers:
            result["servers"][key] = bench_server(key, defs[key], sc, work, sport, per_round, active, fl)
        if args.replay:
            result["replay"] = bench_replay(defs, sc, work, sport, args.replay_runs, args.replay_keep)
        stop(fl)
    finally:
        kill_all()
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)

    result["finished"] = dt.datetime.now().isoformat(timespec="seconds")
    result["loadavg_after"] = os.getloadavg()
    write_outputs(result, os.path.join(args.out, f"{date}-{args.scale}"))


def standard_caveats(result):
    srv = result["servers"]
    noise = {v["label"]: max(0.0, v.get("noise_cores_avg") or 0) for v in srv.values()}
    worst = max(noise.values()) if noise else 0
    c = result["config"]
    spw = (c["warmup"] + c["measure"]) / c["interval"]
    return [
        "2-CPU machine shared with other engineers' builds and test runs. Mean cores busy with work other "
        "than the server and the fleet during each measurement window: "
        + ", ".join(f"{k} {v:.2f}" for k, v in noise.items())
        + (" — the noisy runs' CPU and latency numbers are pessimistic for that server." if worst > 0.3 else "."),
        "Samples per second is the load the fleet offers at this scrape interval (all servers kept up if "
        "the share is ~100%); it is not a maximum-throughput test. CPU s per 1M samples is the efficiency figure.",
        "Disk bytes/sample is not like-for-like: Ember has no blocks yet (TSDB II issue), so its figure is "
        "WAL+chunks_head — compare it with Prometheus's WAL+chunks_head row, not with Prometheus's block.",
        f"Short data: about {spw:.0f} samples per series when the disk is measured, so per-series costs "
        "(index, labels, WAL series records) dominate bytes per sample; with hours of data all three would be "
        "much lower.",
        "VictoriaMetrics has no WAL; its restart is opening its storage. Its `rate` extrapolation differs "
        "from Prometheus's (values differ; result cardinalities are listed). It was run with "
        "`-search.disableCache` and `-search.latencyOffset=0s`.",
        "The window is minutes, not hours: no head compaction, no block reads, no retention; memory figures "
        "are for a young head. Query latency is wall time of a loopback HTTP request, JSON included.",
    ]


def write_outputs(result, base):
    result["caveats"] = standard_caveats(result)
    for v in result["servers"].values():  # derived: peak RSS while the query set ran
        tl, m = v.get("rss_timeline") or [], v.get("timeline_marks") or {}
        after = [r for t, r in tl if t > m.get("window_end", float("inf"))]
        v["rss_peak_queries_bytes"] = max(after) if after else None
    files = charts(result, base)
    table_txt = render_table(result)
    table_md = render_table(result, markdown=True)
    with open(base + ".json", "w") as f:
        json.dump(result, f, indent=1)
    with open(base + ".md", "w") as f:
        f.write(markdown(result, table_md, files))
    print(table_txt)
    if result.get("replay", {}).get("speedup"):
        r = result["replay"]
        print(f"\nWAL replay: Prometheus {r['servers']['prometheus']['ready_median_s']:.2f} s, "
              f"Ember {r['servers']['ember']['ready_median_s']:.2f} s: Ember {r['speedup']:.2f}x faster")
    print(f"\nwrote {base}.json, {base}.md, " + ", ".join(os.path.basename(x) for x in files))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        kill_all()
        sys.exit(130)
