#!/usr/bin/env python3
"""Side-by-side benchmark: Ember vs Prometheus vs VictoriaMetrics (issue 9).

    python3 bench/run.py --scale 100k      # ~17 min
    python3 bench/run.py --scale 1m        # ~24 min (+ ~6 min with --replay)
    bench/run.sh                           # all of it from a fresh machine

One run, one machine, everything on 127.0.0.1. Each server in turn (never two at
once) is started on a fresh data directory with the same scrape config and
interval, together with a fresh synthetic fleet (bench/fleet.py: one process, N
targets on N loopback ports, values a deterministic function of each target's
own scrape count), and measured:

  * ingestion: samples ingested in the measurement window, counted the same way
    on all three servers with PromQL (sum of `scrape_samples_scraped` over the
    window), per second and as a share of what the fleet offered;
  * CPU seconds per million samples: utime+stime of the server's pid from
    /proc/<pid>/stat over the window (not the server's self-metrics);
  * resident memory: VmRSS from /proc/<pid>/status sampled every second
    (mean/peak in the window, bytes per active series = mean RSS / active series);
  * disk bytes per sample: Prometheus and Ember — the head written to a block
    (admin API snapshot, bytes of the block / numSamples in its meta.json) and,
    for comparison, WAL + chunks_head; VictoriaMetrics — its data directory
    after /internal/force_flush;
  * restart with a full WAL: SIGTERM, then time from exec until /-/ready answers
    200 and until a first correct query (the pre-restart series count of one
    metric at a pre-restart timestamp);
  * query latency (median, p90) of a fixed query set evaluated at the end of
    the window, and a cross-check of every query's result: Ember's against
    Prometheus's and VictoriaMetrics's (same series, values within
    XCHECK_REL_TOL), so that a fast wrong answer is caught;
  * the issue's goals, each met or not with the measured ratio.

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
    # targets x (40*handlers+1) series; interval; warm-up and measurement windows (s);
    # rate_range: the range of the query set's rate(); warm-up + window >= rate_range +
    # an interval, so that every rate at the window's end covers a full range of samples
    # (then all three servers compute increment / interval; see cross_check).
    "100k": dict(targets=50, handlers=50, interval=15, warmup=135, measure=180,
                 query_runs=9, rate_range="5m"),
    "1m": dict(targets=500, handlers=50, interval=15, warmup=135, measure=180,
               query_runs=5, rate_range="5m"),
    # a smoke test of the harness itself, not a benchmark
    "smoke": dict(targets=4, handlers=5, interval=5, warmup=55, measure=15, query_runs=3, rate_range="1m"),
}
REPORT_SERIES_PER_TARGET = 5  # up, scrape_duration_seconds, scrape_samples_scraped, ..._post_metric_relabeling, scrape_series_added

QUERIES = [  # {r}: the scale's rate_range
    ("sum_rate", "instant", 'sum by (handler) (rate(fleet_http_requests_total[{r}]))'),
    ("histogram_quantile", "instant",
     'histogram_quantile(0.9, sum by (le, handler) (rate(fleet_http_request_duration_seconds_bucket[{r}])))'),
    ("topk", "instant", 'topk(10, fleet_cache_bytes)'),
    ("regex", "instant",
     'sum by (region) (rate(fleet_http_requests_total{code=~"5..",handler=~"/api/v[12]/(users|orders).*"}[{r}]))'),
    ("join", "instant",
     'sum by (instance) (rate(fleet_http_requests_total{code="500"}[{r}])) * on (instance) group_left (zone, version) fleet_build_info'),
    ("range_1h_15s", "range", 'sum by (region, code) (rate(fleet_http_requests_total[{r}]))'),
    ("count_by_name", "instant", 'count by (__name__) ({__name__=~".+"})'),
]


def query_set(rate_range="5m"):
    """The query set as run: [(name, kind, query)] with the rate range filled in."""
    return [(name, kind, q.replace("{r}", rate_range)) for name, kind, q in QUERIES]


def result_queries(result):
    """The query set of a result (older results did not record it: then the 5m set)."""
    return [tuple(x) for x in result.get("query_set") or query_set()]


CHILDREN = []  # Popen objects, each the leader of its own process group
EXIT_ALERT = 3  # exit status: outputs written, but a cross-check or a disk snapshot failed


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


def series_key(metric):
    """A result series' label set as one sorted, Prometheus-style string."""
    return "{" + ",".join(f'{k}="{v}"' for k, v in sorted(metric.items())) + "}"


def normalise(kind, res):
    """Result series -> {label set: [value, points]}: an instant vector's value (points 1),
    a range query's last value and its number of points."""
    out = {}
    for r in res:
        if kind == "range":
            vals = r.get("values") or []
            out[series_key(r.get("metric", {}))] = [float(vals[-1][1]) if vals else None, len(vals)]
        else:
            out[series_key(r.get("metric", {}))] = [float(r["value"][1]), 1]
    return out


def query_url(base, kind, q, t_eval):
    if kind == "range":
        params = {"query": q, "start": f"{t_eval - 3600:.3f}", "end": f"{t_eval:.3f}", "step": "15"}
        return f"{base}/api/v1/query_range?" + urllib.parse.urlencode(params)
    return f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": q, "time": f"{t_eval:.3f}"})


PROFILE_DIR = None  # --profile: perf profiles of Ember go there (set in main)
PROFILE_TOP = 12  # symbols per profile quoted in the report
PERF_RECORD = ["perf", "record", "-F", "999", "-e", "cpu-clock", "-g"]  # software clock: no HW counters here


def perf_profile(pid, outdir, name, title, work, settle=1.0):
    """`perf record` (software clock, call graphs) attached to `pid` while `work()` runs;
    writes the head of `perf report --no-children --sort symbol` (self time per symbol)
    to `<outdir>/<name>.txt` and returns {file, title, wall_s, top: [[percent, symbol]]}
    or {error}. The perf data file is removed."""
    if not shutil.which("perf"):
        return dict(error="perf not installed")
    os.makedirs(outdir, exist_ok=True)
    data = os.path.join(outdir, f"{name}.data")
    rec = subprocess.Popen(PERF_RECORD + ["-p", str(pid), "-o", data],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(settle)  # perf attaches to every thread first
    t0 = time.perf_counter()
    try:
        work()
    finally:
        el = time.perf_counter() - t0
        rec.send_signal(signal.SIGINT)
    try:
        rec.wait(timeout=120)
    except subprocess.TimeoutExpired as e:
        return dict(error=f"perf: {e}")
    return perf_summary(data, outdir, name, title, el, "-p <ember>")


def perf_summary(data, outdir, name, title, el, target):
    """perf's self-time report of `data` -> `<outdir>/<name>.txt` and the top symbols;
    removes `data`. `target`: how perf record was pointed at Ember (for the header)."""
    try:
        rep = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "symbol",
                              "--stdio", "-g", "none", "--percent-limit", "0.7"],
                             capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired as e:
        return dict(error=f"perf: {e}")
    finally:
        if os.path.exists(data):
            os.remove(data)
    keep = [line.rstrip() for line in rep.stdout.splitlines()
            if line.strip() and (not line.startswith("#") or line.startswith("# Samples"))]
    top = []
    for line in keep:
        parts = line.split()
        if parts and parts[0].endswith("%") and len(parts) >= 3:
            top.append([float(parts[0][:-1]), " ".join(parts[2:]).rstrip(" -").strip()])
    txt = os.path.join(outdir, f"{name}.txt")
    with open(txt, "w") as f:
        f.write(f"# {title}\n# {el:.2f} s recorded; {' '.join(PERF_RECORD)} {target}; "
                f"self time per symbol (perf report --no-children --sort symbol)\n")
        f.write("\n".join(keep) + "\n")
    log(f"    profiled {name}: {txt}")
    return dict(file=os.path.basename(txt), title=title, wall_s=el, top=top[:PROFILE_TOP])


def profile_replay(cmd, src, work, base, logpath):
    """One more Ember start on a copy of the replay WAL, under `perf record` from exec to
    `/-/ready` (untimed): where the replay's time goes."""
    if not shutil.which("perf"):
        return dict(error="perf not installed")
    d = os.path.join(work, "replay-ember-perf")
    shutil.rmtree(d, ignore_errors=True)
    shutil.copytree(src, d)
    os.makedirs(PROFILE_DIR, exist_ok=True)
    data = os.path.join(PROFILE_DIR, "replay.data")
    t0 = time.time()
    p = spawn(PERF_RECORD + ["-o", data, "--"] + cmd(d), logpath)
    try:
        ready = wait_until(lambda: http_get(f"{base}/-/ready", 2)[0] == 200, 900, 0.02)
        el = time.time() - t0
        # Stop Ember, not perf: perf then writes its data and exits.
        with open(f"/proc/{p.pid}/task/{p.pid}/children") as f:
            kids = [int(x) for x in f.read().split()]
        for k in kids:
            os.kill(k, signal.SIGTERM)
        p.wait(timeout=300)
    except (OSError, ValueError, subprocess.TimeoutExpired) as e:
        stop(p, signal.SIGKILL, timeout=60)
        return dict(error=f"replay profile: {type(e).__name__}: {e}")
    finally:
        shutil.rmtree(d, ignore_errors=True)
    if not ready:
        return dict(error="replay profile: not ready")
    return perf_summary(data, PROFILE_DIR, "replay",
                        f"WAL replay of the same WAL: exec → /-/ready ({el:.2f} s under perf, then shutdown)", el,
                        "-- ember server …")


def profile_ember(pid, base, queries, t_eval, outdir, tag, runs=5, ingest_s=30.0):
    """After the timed queries: a profile of ingestion alone (`ingest_s` of scraping, no
    queries), then one per query while it runs `runs` more times (untimed, so perf's
    overhead never reaches the reported latencies)."""
    out = dict(ingest=perf_profile(pid, outdir, f"{tag}-ingest",
                                   f"ingestion only: {ingest_s:.0f} s of scraping the fleet",
                                   lambda: time.sleep(ingest_s)))
    for name, kind, q in queries:
        url = query_url(base, kind, q, t_eval)
        kind_txt = "range query, 1h at 15s step" if kind == "range" else "instant query"
        out[f"query_{name}"] = perf_profile(
            pid, outdir, f"{tag}-query-{name}", f"{name}: `{q}` ({kind_txt}), {runs} runs (scrapes go on)",
            lambda: [http_get(url, timeout=300) for _ in range(runs)])
    return out


def run_queries(base, queries, t_eval, runs, budget_s=90.0):
    out = {}
    for name, kind, q in queries:
        url = query_url(base, kind, q, t_eval)
        times, ok, nres, npoints, err, norm = [], True, None, None, None, None
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
                norm = normalise(kind, res)
            else:
                times.append(el)
            if i >= 3 and time.monotonic() - t_start > budget_s:
                break
        out[name] = dict(query=q, kind=kind, ok=ok and bool(times), error=err, result_series=nres,
                         points=npoints, runs=len(times), result=norm,
                         median_s=statistics.median(times) if times else None,
                         p90_s=pct(times, 0.9) if times else None)
        log(f"    {name}: {out[name]['median_s'] and round(out[name]['median_s'] * 1000, 1)} ms median, "
            f"{nres} series")
    return out


KEEP_SNAPSHOTS = None  # --keep-snapshots DIR: a copy of each server's snapshot goes to DIR/<server>


def snapshot_block(base, data, key=None):
    """Writes the head into a block with the admin snapshot API (as Prometheus and Ember
    both have it); returns bytes of the snapshot's blocks / numSamples of their meta.json,
    or an error that says what failed. The snapshot is removed afterwards (copied first
    to KEEP_SNAPSHOTS/<key> when that is set, to compare the blocks with promtool)."""
    st, body = http_post(f"{base}/api/v1/admin/tsdb/snapshot?skip_head=false")
    if st != 200:
        return dict(error=f"snapshot: HTTP {st}: {body[:300]!r}")
    try:
        snap = os.path.join(data, "snapshots", json.loads(body)["data"]["name"])
        blocks = [os.path.join(snap, b) for b in sorted(os.listdir(snap))]
        metas = []
        for b in blocks:
            with open(os.path.join(b, "meta.json")) as f:
                metas.append(json.load(f))
        nsamp = sum(m["stats"]["numSamples"] for m in metas)
        bbytes = sum(du(b) for b in blocks)
        if KEEP_SNAPSHOTS and key:
            dst = os.path.join(KEEP_SNAPSHOTS, key)
            shutil.rmtree(dst, ignore_errors=True)
            shutil.copytree(snap, dst)
        return dict(block_count=len(blocks), block_bytes=bbytes, block_samples=nsamp,
                    block_series=sum(m["stats"]["numSeries"] for m in metas),
                    block_bytes_per_sample=bbytes / nsamp if nsamp else None,
                    bytes_per_sample=bbytes / nsamp if nsamp else None,
                    method="head written to a block (admin snapshot); bytes of block / numSamples",
                    error=None if nsamp else "snapshot has no samples")
    except (OSError, ValueError, KeyError, TypeError) as e:
        return dict(error=f"snapshot: unreadable ({type(e).__name__}: {e})")
    finally:
        shutil.rmtree(os.path.join(data, "snapshots"), ignore_errors=True)


def measure_disk(key, base, data, samples_metric):
    total_samples = self_metrics(base, {samples_metric}).get(samples_metric)
    disk = dict(samples_total_self_metric=total_samples)
    if key == "victoriametrics":
        http_get(f"{base}/internal/force_flush", 60)
        time.sleep(3)
        vb = du(data)
        disk.update(data_bytes=vb, bytes_per_sample=vb / total_samples if total_samples else None,
                    method="whole -storageDataPath after /internal/force_flush / vm_rows_added_to_storage_total")
        return disk
    wal, ch = du(os.path.join(data, "wal")), du(os.path.join(data, "chunks_head"))
    disk.update(wal_bytes=wal, chunks_head_bytes=ch,
                wal_chunks_head_bytes_per_sample=(wal + ch) / total_samples if total_samples else None)
    disk.update(snapshot_block(base, data, key))
    if disk.get("error"):
        log(f"  DISK: {key} {disk['error']}")
    return disk


def start_fleet(sc, port, work, offset_ms=None):
    """A fresh fleet process (its targets' scrape counts start at 0); exits by itself after
    one server's run at most. With `offset_ms`, samples carry explicit timestamps shifted by it."""
    budget = sc["warmup"] + sc["measure"] + 1800
    extra = [] if offset_ms is None else ["--time-offset-ms", str(offset_ms)]
    p = spawn([sys.executable, os.path.join(HERE, "fleet.py"), "--targets", str(sc["targets"]),
               "--handlers", str(sc["handlers"]), "--base-port", str(port),
               "--max-seconds", str(budget)] + extra, os.path.join(work, "fleet.log"))
    if not wait_until(lambda: all(not port_free(port + i) for i in (0, sc["targets"] - 1)), 60, 0.2):
        raise RuntimeError("fleet did not start")
    return p


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
        res["queries"] = run_queries(base, query_set(sc["rate_range"]), t_we, sc["query_runs"]) \
            if sc.get("queries", True) else {}
        t_qe = time.time()
        if PROFILE_DIR and key == "ember":
            log("  profiles (perf)")
            qs = query_set(sc["rate_range"]) if sc.get("queries", True) else []
            res["profiles"] = profile_ember(p.pid, base, qs, t_we, PROFILE_DIR, sc.get("name", "run"))
            res["profiles_dir"] = os.path.basename(PROFILE_DIR)

        log("  disk")
        res["disk"] = measure_disk(key, base, data, sdef["samples_metric"])

        # restart with a full WAL
        log("  restart")
        t_chk = time.time() - 2 * sc["interval"]
        expect = query_scalar(base, "count(fleet_http_requests_total)", t_chk)
        sampler.stop()
        res["rss_timeline"] = [(round(t, 1), r) for t, r, _ in sampler.samples]
        res["timeline_marks"] = dict(window_start=t_ws - t_origin, window_end=t_we - t_origin,
                                     queries_end=t_qe - t_origin)
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


# The head chunk range of the Prometheus that writes a "chunks" replay WAL (its hidden
# --storage.tsdb.min-block-duration; 2 h by default): every head chunk is cut at a multiple of
# it. Samples may not be more than half of it apart (older ones are out of bounds), and the
# scrape loop's own series (`up`, ...) carry the wall-clock time, so the fleet's timestamps can
# be shifted by at most a few minutes: a short range puts a boundary within reach.
REPLAY_CHUNK_RANGE_S = 600


def replay_time_offset_ms(span_s, now=None):
    """An offset for the fleet's sample timestamps that puts a chunk boundary (a multiple of
    REPLAY_CHUNK_RANGE_S) in the middle of a scrape of `span_s` seconds starting now (at most
    half a range away from the wall clock)."""
    now = time.time() if now is None else now
    mid = now + span_s / 2
    boundary = round(mid / REPLAY_CHUNK_RANGE_S) * REPLAY_CHUNK_RANGE_S
    return int((boundary - mid) * 1000)


def bench_replay(defs, sc, work, port, runs, keep, new_fleet, wal_kind="chunks"):
    """WAL replay of the same WAL by Prometheus and Ember.

    Prometheus scrapes the fleet for the scale's warm-up + window, then is
    SIGKILLed (no clean shutdown: the head lives only in wal/ and
    chunks_head/). Each server then starts `runs` times on a fresh copy of
    that directory; we time exec -> /-/ready and check that a query at a
    timestamp inside the WAL sees every fleet series.

    `wal_kind` "chunks" (a restart's usual state): the writing Prometheus runs with a head chunk
    range of REPLAY_CHUNK_RANGE_S and the fleet's samples carry timestamps shifted so that they
    cross a multiple of it halfway: every series' chunk is cut there and the first half of the
    samples is in chunks_head/ as well as in the WAL (a replay skips those WAL samples). Both
    servers then restart with their usual flags. "plain": default flags, wall-clock
    timestamps; chunks_head/ stays empty unless the run happens to cross an even UTC hour."""
    base = f"http://127.0.0.1:{port}"
    span = sc["warmup"] + sc["measure"]
    offset_ms = replay_time_offset_ms(span) if wal_kind == "chunks" else 0
    src = os.path.join(work, "replay-src")
    shutil.rmtree(src, ignore_errors=True)
    os.makedirs(src)
    logpath = os.path.join(work, "replay.log")
    log(f"== WAL replay: Prometheus writes the WAL ({wal_kind})")
    fl = new_fleet(offset_ms if wal_kind == "chunks" else None)
    writer = defs["prometheus"]["cmd"](src)
    if wal_kind == "chunks":
        writer.append(f"--storage.tsdb.min-block-duration={REPLAY_CHUNK_RANGE_S}s")
    p = spawn(writer, logpath)
    try:
        if not wait_until(lambda: http_get(f"{base}/-/ready", 2)[0] == 200, 180, 0.1):
            raise RuntimeError(f"prometheus not ready (see {logpath})")
        time.sleep(span)
        t_chk = time.time() + offset_ms / 1000 - 2 * sc["interval"]
        expect = query_scalar(base, "count(fleet_http_requests_total)", t_chk)
        samples = self_metrics(base, {"prometheus_tsdb_head_samples_appended_total"}).get(
            "prometheus_tsdb_head_samples_appended_total")
        series = self_metrics(base, {"prometheus_tsdb_head_series"}).get("prometheus_tsdb_head_series")
    finally:
        stop(p, signal.SIGKILL, timeout=60)
        stop(fl)
    out = dict(wal_kind=wal_kind, time_offset_ms=offset_ms,
               wal_bytes=du(os.path.join(src, "wal")), chunks_head_bytes=du(os.path.join(src, "chunks_head")),
               samples=samples, series=series, expected_count=expect, servers={})
    log(f"  WAL {out['wal_bytes'] / 2**20:.0f} MiB, {series} series, {samples} samples")
    # Runs alternate between the servers (P, E, P, E, ...): on a shared machine the noise
    # drifts over minutes, and blocks of runs per server would give it to one side.
    runs_of = {key: dict(times=[], rss=[], cpu=[], ok=True) for key in ("prometheus", "ember")}
    for i in range(runs):
        for key in ("prometheus", "ember"):
            r = runs_of[key]
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
            cpu = None
            try:
                ready = wait_until(lambda: http_get(f"{base}/-/ready", 2)[0] == 200, 900, 0.02)
                t_ready = time.time() - t0 if ready else None
                if ready and p.poll() is None:
                    cpu = proc_cpu(p.pid)
                good = expect is not None and wait_until(
                    lambda: query_scalar(base, "count(fleet_http_requests_total)", t_chk) == expect, 120, 0.05)
                r["rss"].append(proc_rss(p.pid) if p.poll() is None else None)
            finally:
                stop(p, signal.SIGTERM, timeout=300)
                shutil.rmtree(d, ignore_errors=True)
            r["ok"] = r["ok"] and good
            r["times"].append(t_ready)
            r["cpu"].append(cpu)
            log(f"  {key} run {i + 1}: ready in {t_ready}, CPU {cpu} s, data correct: {good}")
    for key, r in runs_of.items():
        ts = [t for t in r["times"] if t is not None]
        cs = [c for c in r["cpu"] if c is not None]
        out["servers"][key] = dict(ready_s=r["times"], ready_median_s=statistics.median(ts) if ts else None,
                                   cpu_s=r["cpu"], cpu_median_s=statistics.median(cs) if cs else None,
                                   correct=r["ok"], rss_after_ready_bytes=r["rss"])
    if PROFILE_DIR:
        out["profile"] = profile_replay(defs["ember"]["cmd"], src, work, base, logpath)
        out["profiles_dir"] = os.path.basename(PROFILE_DIR)
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
    ("disk.bytes_per_sample", "Disk B/sample (block from snapshot; VM: data dir)", "B", 1, "lower"),
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
    for name, _, _ in result_queries(result):
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
    return format_table(head, body, markdown, right=range(2, len(head)))


def format_table(head, body, markdown=False, right=()):
    """A Markdown table, or aligned text; columns whose index is in `right` align right."""
    if markdown:
        esc = lambda c: str(c).replace("|", "\\|")  # noqa: E731
        out = ["| " + " | ".join(head) + " |", "|" + "|".join("---:" if i in right else "---" for i in range(len(head))) + "|"]
        return "\n".join(out + ["| " + " | ".join(esc(c) for c in r) + " |" for r in body])
    w = [max(len(str(r[i])) for r in [head] + body) for i in range(len(head))]
    line = lambda r: "  ".join(str(c).rjust(w[i]) if i in right else str(c).ljust(w[i]) for i, c in enumerate(r))  # noqa: E731
    return "\n".join([line(head).rstrip(), "  ".join("-" * x for x in w)] + [line(r).rstrip() for r in body])


# ---------------------------------------------------------------- cross-check

# Relative tolerance for a value of Ember's against the same series of a peer. The fleet
# makes every legitimate difference tiny: counters grow by a constant per scrape and every
# rate covers a full range (SCALES), so rate is increment / interval on all servers up to
# timestamp jitter (~1e-4); gauges differ by at most one scrape's change, < 2^15 on a base
# >= 2^26 (< 0.05%, fleet.py); histogram_quantile interpolates within the same bucket.
# 2% leaves room for all of that and still catches a wrong extrapolation (a rate over an
# incomplete range is off by >= 5%), a missed or doubled series in a sum, or a wrong bucket.
XCHECK_REL_TOL = 0.02
# (VictoriaMetrics stores floats as decimals: it returned the ~5e10 gauges off by ~1e-9.)
# Range query: the number of points per series may differ by one at the start (the servers
# started scraping at different offsets), and VictoriaMetrics returned one more point per
# series than Prometheus and Ember in the smoke runs (found by running).
XCHECK_POINTS_TOL = 2
XCHECK_PEERS = ("prometheus", "victoriametrics")
# Series only a peer writes, by design, so not a wrong answer of Ember's; left out of the
# comparison and listed. VictoriaMetrics adds `scrape_timeout_seconds` to the report series of
# every scrape (Prometheus 2.42 only with --enable-feature=extra-scrape-metrics), so
# `count by (__name__)` has one more group there. Found by running; labels are otherwise the same.
PEER_ONLY_SERIES = {"victoriametrics": ('__name__="scrape_timeout_seconds"',)}
XCHECK_SHOW = 5  # mismatches kept per query and peer


def rel_diff(a, b):
    if a == b or (a != a and b != b):  # equal, or both NaN
        return 0.0
    if a is None or b is None or a != a or b != b:
        return float("inf")
    return abs(a - b) / max(abs(a), abs(b))


def compare_results(ember, peer, kind, peer_label, peer_only=()):
    """Ember's normalised result against a peer's: same label sets, values within
    XCHECK_REL_TOL, range series with about as many points. Series only the peer has and
    that match one of `peer_only` are left out (listed as ignored)."""
    ignored = sorted(k for k in set(peer) - set(ember) if any(m in k for m in peer_only))
    peer = {k: v for k, v in peer.items() if k not in ignored}
    mismatches = [f"only in Ember: {k}" for k in sorted(set(ember) - set(peer))]
    mismatches += [f"only in {peer_label}: {k}" for k in sorted(set(peer) - set(ember))]
    max_rel = 0.0
    for k in sorted(set(ember) & set(peer)):
        (ve, ne), (vp, np_) = ember[k], peer[k]
        d = rel_diff(ve, vp)
        max_rel = max(max_rel, d)
        if d > XCHECK_REL_TOL:
            mismatches.append(f"{k}: Ember {ve:.6g}, {peer_label} {vp:.6g} ({d:.2%})")
        if kind == "range" and abs(ne - np_) > XCHECK_POINTS_TOL:
            mismatches.append(f"{k}: Ember {ne} points, {peer_label} {np_}")
    return dict(status="ok" if not mismatches else "FAILED", series_ember=len(ember),
                series_peer=len(peer), max_rel_diff=max_rel, mismatch_count=len(mismatches),
                mismatches=mismatches[:XCHECK_SHOW], ignored=ignored)


def missing_result(srv, name, peer):
    """Why Ember's or the peer's result of a query is missing: "FAILED" if Ember's query
    failed, "n/a" if the peer's did (no comparison possible), "not recorded" if the run kept
    no results (--no-queries, or a JSON from before the cross-check)."""
    errors = [(who, get(srv[k], f"queries.{name}.error")) for who, k in (("Ember", "ember"), (srv[peer]["label"], peer))]
    failed = [f"{who}: query failed: {err}" for who, err in errors if err]
    if not failed:
        return dict(status="not recorded", mismatches=["no result recorded"])
    return dict(status="FAILED" if errors[0][1] else "n/a", mismatches=failed)


def cross_check(result):
    """{query: {peer: check}} for every query of the set and every peer that ran it."""
    srv = result["servers"]
    out = {}
    for name, kind, _ in result_queries(result):
        for peer in XCHECK_PEERS:
            if peer not in srv or "ember" not in srv:
                continue
            e, p = get(srv["ember"], f"queries.{name}.result"), get(srv[peer], f"queries.{name}.result")
            if e is None or p is None:
                check = missing_result(srv, name, peer)
            else:
                check = compare_results(e, p, kind, srv[peer]["label"], PEER_ONLY_SERIES.get(peer, ()))
            out.setdefault(name, {})[peer] = check
    return out


def cross_check_failures(result):
    """(query, peer label) of every check that failed or could not compare a failed query."""
    return [(q, result["servers"][peer]["label"]) for q, peers in result.get("cross_check", {}).items()
            for peer, c in peers.items() if c["status"] in ("FAILED", "n/a")]


def render_cross_check(result, markdown=False):
    srv = result["servers"]
    head = ["Query", "Peer", "Result", "Series (Ember / peer)", "Max rel. diff", "First mismatches"]
    body = []
    for q, peers in result.get("cross_check", {}).items():
        for peer, c in peers.items():
            series = f"{c['series_ember']} / {c['series_peer']}" if "series_ember" in c else "—"
            diff = f"{c['max_rel_diff']:.2e}" if c.get("max_rel_diff") is not None else "—"
            more = c.get("mismatch_count", 0) - len(c["mismatches"])
            shown = "; ".join(c["mismatches"] + [f"ignored, {srv[peer]['label']} only: {k}" for k in c.get("ignored", [])])
            shown += f"; … {more} more" if more > 0 else ""
            status = "ok" if c["status"] == "ok" else f"**{c['status']}**" if markdown else c["status"]
            body.append([q, srv[peer]["label"], status, series, diff, shown if markdown else shown[:160]])
    return format_table(head, body, markdown, right=(3, 4))


# ---------------------------------------------------------------- goals

GOALS = [
    # the goals: label, metric path in a server's result, peer, highest Ember/peer ratio
    ("Resident bytes per active series (mean RSS)", "rss_bytes_per_active_series", "prometheus", 0.3),
    ("Resident bytes per active series (mean RSS)", "rss_bytes_per_active_series", "victoriametrics", 0.75),
    ("CPU per ingested sample", "cpu_s_per_million_samples", "prometheus", 0.5),
    ("Restart time (exec → /-/ready, full WAL)", "restart.ready_s", "prometheus", 0.25),
    ("Disk bytes per sample (head written to a block)", "disk.block_bytes_per_sample", "prometheus", 1.0),
]
QUERY_GOALS = [("prometheus", 0.5), ("victoriametrics", 1.0)]  # median latency, every query
REPLAY_GOAL = 4.0  # WAL replay at least this many times faster than Prometheus


def goal_row(goal, ratio_, limit, detail=""):
    """One goal: met when the measured Ember/peer ratio is at most `limit`; None: not measured."""
    return dict(goal=goal, ratio=ratio_, met=None if ratio_ is None else ratio_ <= limit, detail=detail)


def query_goal(result, peer, limit):
    srv = result["servers"]
    ratios = {n: ratio(get(srv["ember"], f"queries.{n}.median_s"), get(srv[peer], f"queries.{n}.median_s"))
              for n, _, _ in result_queries(result)}
    goal = f"Median latency of every query ≤ {limit:g}× {srv[peer]['label']}"
    if not ratios or any(r is None for r in ratios.values()):
        return goal_row(goal, None, limit, "not every query measured on both")
    worst = max(ratios, key=ratios.get)
    over = [n for n, r in ratios.items() if r > limit]
    detail = f"worst: {worst}" + (f"; over the limit: {', '.join(over)}" if over else "")
    return goal_row(goal, ratios[worst], limit, detail)


def goals(result):
    """The issue's goals, each with the measured Ember/peer ratio and met (True/False) or
    not measured (None)."""
    srv = result["servers"]
    if "ember" not in srv:
        return []
    rows = []
    for label, path, peer, limit in GOALS:
        if peer in srv:
            rows.append(goal_row(f"{label} ≤ {limit:g}× {srv[peer]['label']}",
                                 ratio(get(srv["ember"], path), get(srv[peer], path)), limit))
    rows += [query_goal(result, peer, limit) for peer, limit in QUERY_GOALS if peer in srv]
    speedup = get(result, "replay.speedup")
    rows.append(goal_row(f"WAL replay (same WAL) ≥ {REPLAY_GOAL:g}× faster than Prometheus",
                         1 / speedup if speedup else None, 1 / REPLAY_GOAL,
                         f"Ember {speedup:.2f}× faster" if speedup else "not run (--replay)"))
    return rows


def render_goals(rows, markdown=False):
    verdict = lambda m: "—" if m is None else ("met" if m else "**NOT met**" if markdown else "NOT met")  # noqa: E731
    body = [[r["goal"], f"{r['ratio']:.3f}×" if r["ratio"] is not None else "—", verdict(r["met"]), r["detail"]]
            for r in rows]
    return format_table(["Goal", "Measured (Ember / peer)", "Verdict", "Note"], body, markdown, right=(1,))


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
    names = [n for n, _, _ in result_queries(result)]
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


def rate_range_s(rng):
    return int(rng[:-1]) * {"s": 1, "m": 60, "h": 3600}[rng[-1]]


def alerts(result):
    """Loud problems: failed cross-checks and failed disk snapshots."""
    out = []
    failed = cross_check_failures(result)
    if failed:
        out.append("CROSS-CHECK FAILED: Ember's result differs from (or could not be compared with) "
                   + ", ".join(f"{peer} on {q}" for q, peer in failed) + " — see the cross-check table.")
    for v in result["servers"].values():
        if get(v, "disk.error"):
            out.append(f"DISK SNAPSHOT FAILED for {v['label']}: {v['disk']['error']}")
    return out


def md_setup(result):
    c = result["config"]
    srv = result["servers"].values()
    return ["## Setup", "",
            f"- Fleet: {c['targets']} targets × {c['series_per_target']} series "
            f"(+{REPORT_SERIES_PER_TARGET} scrape report series per target) = **{result['active_series']:,} active "
            "series**, served by one Python process (`bench/fleet.py`) on loopback; counters, gauges, a classic "
            "histogram (11 buckets) and an info metric, values changing every scrape; a fresh fleet process per "
            "server, so every server sees the same values (a function of each target's scrape count).",
            f"- Scrape interval {c['interval']}s for every server; warm-up {c['warmup']}s, measurement window "
            f"{c['measure']}s; each server alone on the machine (started on an empty data dir, stopped before the next).",
            f"- Versions: Ember {result['versions'].get('ember')}; {result['versions'].get('prometheus')}; "
            f"VictoriaMetrics {result['versions'].get('victoriametrics')} (`-search.disableCache`).",
            "- Fleet cost: " + ", ".join(f"{v['label']} run {v.get('fleet_cpu_cores_avg', 0):.2f} cores" for v in srv)
            + " (mean CPU of the fleet process during each window; it shares the machine with the server).",
            f"- Machine: {os.cpu_count()} CPUs, shared with other engineers' builds. Mean CPU used by everything "
            "other than the server under test and the fleet during each window (\"noise\"): "
            + ", ".join(f"{v['label']} {max(0.0, v.get('noise_cores_avg') or 0):.2f} cores" for v in srv) + ".", ""]


def md_goals(result):
    if not result.get("goals"):
        return []
    recorded = any(c["status"] != "not recorded" for peers in result.get("cross_check", {}).values()
                   for c in peers.values())
    xc = "failed (see below)" if cross_check_failures(result) else "passed" if recorded else "not run"
    return ["## Goals (issue 9)", "", render_goals(result["goals"], markdown=True), "",
            "Measured = Ember divided by the peer (for WAL replay: Ember's time / Prometheus's). "
            f"\"—\": not measured in this run. Cross-check of the query results: {xc}.", ""]


def md_cross_check(result):
    if not result.get("cross_check"):
        return []
    return ["## Cross-check of query results", "",
            f"Ember's result of every query against each peer's: the same series (label sets), values within "
            f"{XCHECK_REL_TOL:.0%} (relative), range query series with the last value within {XCHECK_REL_TOL:.0%} "
            f"and the number of points within ±{XCHECK_POINTS_TOL}. The result is the first (warm-up) run "
            "of each query at the window's end; see `XCHECK_REL_TOL` in `bench/run.py` for why this tolerance.",
            "", render_cross_check(result, markdown=True), ""]


def md_replay(result):
    r = result.get("replay")
    if not r:
        return []
    c = result["config"]
    ps, es = r["servers"]["prometheus"], r["servers"]["ember"]
    fmt_s = lambda xs: ", ".join(f"{x:.2f}" if x is not None else "—" for x in xs)  # noqa: E731
    return ["## WAL replay (same WAL)", "",
            f"Prometheus 2.42 scraped the fleet for {c['warmup'] + c['measure']:.0f} s and was SIGKILLed"
            + (f" (with a head chunk range of {REPLAY_CHUNK_RANGE_S // 60} min, and the fleet's samples "
               f"timestamped {r['time_offset_ms'] / 1000:+.0f} s off the wall clock so that they cross a "
               "multiple of it halfway: every series' first chunk was cut there and written to chunks_head, "
               "as after any full chunk in a longer run; both servers restarted with their usual flags)"
               if r.get("wal_kind") == "chunks" else "") + ": "
            f"{(r['wal_bytes'] or 0) / 2**20:.0f} MiB of WAL + {(r['chunks_head_bytes'] or 0) / 2**20:.0f} MiB of "
            f"chunks_head, {r['series'] or 0:,.0f} series, {r['samples'] or 0:,.0f} samples. Each server then started "
            "on a fresh copy of that directory (files read once beforehand, so both find them in the page "
            "cache), the two servers' runs alternating; time from exec to `/-/ready` = 200, the process's CPU "
            "seconds (utime+stime) at that moment, and a check that `count(fleet_http_requests_total)` "
            "at a timestamp inside the WAL is complete.", "",
            "| | Prometheus | Ember | Prometheus / Ember |", "|---|---:|---:|---:|",
            f"| exec → ready, median (s) | {ps['ready_median_s']:.2f} | {es['ready_median_s']:.2f} | "
            f"{r['speedup']:.2f}× |" if r.get("speedup") else "| exec → ready | — | — | — |",
            f"| runs (s) | {fmt_s(ps['ready_s'])} | {fmt_s(es['ready_s'])} | |",
            (f"| CPU to ready, median (s) | {ps['cpu_median_s']:.2f} | {es['cpu_median_s']:.2f} | "
             f"{ps['cpu_median_s'] / es['cpu_median_s']:.2f}× |"
             if ps.get("cpu_median_s") and es.get("cpu_median_s") else "| CPU to ready | — | — | — |"),
            f"| CPU runs (s) | {fmt_s(ps.get('cpu_s', []))} | {fmt_s(es.get('cpu_s', []))} | |",
            f"| data complete after ready | {ps['correct']} | {es['correct']} | |",
            f"| RSS after ready (MiB) | {fmt_s([x / 2**20 for x in ps['rss_after_ready_bytes'] if x])} | "
            f"{fmt_s([x / 2**20 for x in es['rss_after_ready_bytes'] if x])} | |", ""]


def md_query_set(result):
    srv = result["servers"]
    names = " / ".join(v["label"] for v in srv.values())
    lines = ["## Query set", "", f"| name | query | result series ({names}) |", "|---|---|---|"]
    for name, kind, q in result_queries(result):
        counts = " / ".join(str(get(v, f"queries.{name}.result_series")) for v in srv.values())
        suffix = " (range: 1h, step 15s)" if kind == "range" else ""
        lines.append(f"| {name} | `{q.replace('|', chr(92) + '|')}`{suffix} | {counts} |")
    return lines + [""]


METHOD = [
    "- Ingested samples: `sum(sum_over_time(scrape_samples_scraped{job=\"fleet\"}[W]))` at the end of "
    "the window, on each server (the same PromQL everywhere); each server's own counter "
    "(`prometheus_tsdb_head_samples_appended_total`, `vm_rows_added_to_storage_total`) is in the JSON "
    "as a cross-check.",
    "- CPU: utime+stime of the server pid from `/proc/<pid>/stat` over the window; RSS: `VmRSS` from "
    "`/proc/<pid>/status` every second. Bytes per active series = mean RSS in the window / active series.",
    "- Disk: Prometheus and Ember the same way — the head written to a block by the admin snapshot API "
    "(`POST /api/v1/admin/tsdb/snapshot`, `--web.enable-admin-api`): bytes of the snapshot's block(s) / "
    "`stats.numSamples` of their meta.json; plus WAL+chunks_head bytes per appended sample for comparison. "
    "VictoriaMetrics — the whole data directory (data + indexdb) after `/internal/force_flush`, per row added "
    "to storage (background merges may shrink it later).",
    "- Restart: SIGTERM (graceful), then time from exec until `/-/ready` answers 200 and until "
    "`count(fleet_http_requests_total)` at a pre-restart timestamp equals its pre-restart value.",
    "- Queries: evaluated at the end of the window (range query: the hour before it, step 15s); one "
    "untimed warm-up run, then up to the configured runs (fewer if a query exceeds its time budget). "
    "The warm-up run's result is the one cross-checked.",
]


def md_profiles(result):
    """Where Ember's time goes: the top of each perf profile of the run (--profile)."""
    e = result.get("servers", {}).get("ember", {})
    profs = dict(e.get("profiles") or {})
    rp = (result.get("replay") or {}).get("profile")
    if rp:
        profs["replay"] = rp
    if not profs:
        return []
    d = e.get("profiles_dir") or (result.get("replay") or {}).get("profiles_dir", "")
    lines = ["## Where Ember's time goes (perf)", "",
             "CPU profiles of the Ember process taken after the timed runs (`--profile`): ingestion alone, "
             "then each query repeated, and with `--replay` one more start on the replay WAL. Self time per "
             f"symbol, the top {PROFILE_TOP} of each; the whole reports are in `{d}/`. The goals missed above "
             "point here: CPU per sample to the ingestion profile, each slow query to its own, restart and "
             "replay to the replay profile. Memory per series is broken down in the repository's README "
             "(allocation profile of the head).", ""]
    for key, pr in profs.items():
        if pr.get("error"):
            lines += [f"- {key}: not profiled ({pr['error']})"]
            continue
        lines += [f"### {pr['title']}", "", f"[{pr['file']}]({d}/{pr['file']}), {pr['wall_s']:.1f} s recorded", "",
                  "| self % | symbol |", "|---:|---|"]
        lines += [f"| {pct:.1f} | `{sym.replace('|', '/')}` |" for pct, sym in pr["top"]]
        lines += [""]
    return lines


def markdown(result, table_md, chart_files):
    lines = [f"# Ember vs Prometheus vs VictoriaMetrics — {result['scale']} ({result['date']})", "",
             f"Command: `{result['command']}`", ""]
    lines += [f"> **{a}**\n" for a in alerts(result)]
    lines += md_setup(result) + md_goals(result)
    lines += ["## Results", "", table_md, "",
              "Ratios are Ember divided by the other server: below 1× Ember uses less (or is faster), "
              "except for the two ingestion rows, where higher is better.", ""]
    lines += md_cross_check(result) + md_replay(result) + md_query_set(result) + md_profiles(result)
    lines += ["## Method", ""] + METHOD + ["", "## Caveats", ""]
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
    ap.add_argument("--replay-wal", choices=("chunks", "plain"), default="chunks",
                    help="chunks: the scraped samples cross a 2 h head chunk boundary halfway, so chunks_head/ "
                         "holds half of them (a restart's usual state); plain: wall-clock timestamps")
    ap.add_argument("--profile", action="store_true",
                    help="after Ember's timed queries: perf profiles of its ingestion and of each query "
                         "(in <out>/<date>-<scale>-profiles/, summarised in the report)")
    ap.add_argument("--keep-snapshots", metavar="DIR",
                    help="keep each server's disk snapshot in DIR/<server> (to compare blocks)")
    ap.add_argument("--report", metavar="JSON", help="only re-render table, Markdown and charts from a result JSON")
    args = ap.parse_args()
    global KEEP_SNAPSHOTS
    KEEP_SNAPSHOTS = args.keep_snapshots and os.path.abspath(args.keep_snapshots)
    if args.report:
        with open(args.report) as f:
            result = json.load(f)
        return write_outputs(result, args.report[:-len(".json")] if args.report.endswith(".json") else args.report)

    if not args.scale:
        ap.error("--scale is required")
    global EMBER_BIN
    EMBER_BIN = args.ember_bin
    sc = dict(SCALES[args.scale])
    sc["queries"] = not args.no_queries
    sc["name"] = args.scale
    for k in ("warmup", "measure", "interval"):
        if getattr(args, k) is not None:
            sc[k] = getattr(args, k)
    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    for warning in coverage_caveat(sc):
        log(f"warning: {warning}")
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
    if args.profile:
        global PROFILE_DIR
        PROFILE_DIR = os.path.join(os.path.abspath(args.out), f"{date}-{args.scale}-profiles")
    work = args.workdir or tempfile.mkdtemp(prefix=f"ember-bench-{args.scale}-")
    os.makedirs(work, exist_ok=True)

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    result = dict(scale=args.scale, date=date, started=dt.datetime.now().isoformat(timespec="seconds"),
                  command="python3 bench/run.py " + " ".join(sys.argv[1:]),
                  config=dict(sc, series_per_target=spt), active_series=active, versions=versions(),
                  query_set=query_set(sc["rate_range"]),
                  loadavg_before=os.getloadavg(), servers={}, caveats=[])
    try:
        fport = find_ports(41000, sc["targets"])
        sport = find_ports(29090, 1)
        cfg = os.path.join(work, "scrape.yml")
        write_config(cfg, sc["targets"], fport, sc["interval"])
        log(f"fleet: {sc['targets']} targets x {spt} series on 127.0.0.1:{fport}+; servers on :{sport}; work {work}")
        new_fleet = lambda offset_ms=None: start_fleet(sc, fport, work, offset_ms)  # noqa: E731
        defs = server_defs(cfg, sport)
        for key in servers:
            fl = new_fleet()  # a fresh fleet per server: every server sees g = 0, 1, 2, ... per target
            try:
                result["servers"][key] = bench_server(key, defs[key], sc, work, sport, per_round, active, fl)
            finally:
                stop(fl)
        if args.replay:
            result["replay"] = bench_replay(defs, sc, work, sport, args.replay_runs, args.replay_keep, new_fleet,
                                            args.replay_wal)
    finally:
        kill_all()
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)

    result["finished"] = dt.datetime.now().isoformat(timespec="seconds")
    result["loadavg_after"] = os.getloadavg()
    return write_outputs(result, os.path.join(args.out, f"{date}-{args.scale}"))


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
        f"Short data: about {spw:.0f} samples per series when the disk is measured, so per-series costs "
        "(index, labels, WAL series records) dominate bytes per sample; with hours of data all three would be "
        "much lower.",
        "VictoriaMetrics has no WAL; its restart is opening its storage. Its `rate` does not extrapolate like "
        "Prometheus's, but over the complete ranges queried here both give increment / interval (see the "
        "cross-check). It writes one more report series per target (`scrape_timeout_seconds`), so "
        "`count by (__name__)` has one more group there (left out of the cross-check). It was run with "
        "`-search.disableCache` and `-search.latencyOffset=0s`.",
        "The window is minutes, not hours: no head compaction, no block reads, no retention; memory figures "
        "are for a young head; the disk figure is one block cut from that young head by the snapshot. Query "
        "latency is wall time of a loopback HTTP request, JSON included.",
    ] + coverage_caveat(c)


def coverage_caveat(c):
    """Warm-up + window overridden below the rate range: rates extrapolate over partly empty
    ranges, which servers do differently, so the cross-check may fail for that reason."""
    covered = c["warmup"] + c["measure"]
    need = rate_range_s(c.get("rate_range", "5m")) + c["interval"]
    if covered >= need:
        return []
    return [f"Warm-up + window ({covered:.0f} s) is shorter than the rate range + one interval ({need:.0f} s): "
            "rates at the window's end extrapolate over a partly empty range, which the servers do differently "
            "(Prometheus and Ember extrapolate, VictoriaMetrics does not) — rate values in the cross-check may "
            "differ for that reason alone."]


def write_outputs(result, base):
    """Derives cross-check, goals and caveats from the measurements (so --report re-renders
    them with the current rules), then writes JSON, Markdown and charts and prints it all."""
    result["caveats"] = standard_caveats(result)
    result["cross_check"] = cross_check(result)
    result["goals"] = goals(result)
    for v in result["servers"].values():  # derived: peak RSS while the query set ran
        tl, m = v.get("rss_timeline") or [], v.get("timeline_marks") or {}
        # (older results have no queries_end: then up to the restart, the disk snapshot included)
        q_end = m.get("queries_end", float("inf"))
        after = [r for t, r in tl if m.get("window_end", float("inf")) < t <= q_end + 1]
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
    if result["cross_check"]:
        print("\nCross-check of query results (Ember vs peer):\n" + render_cross_check(result))
    if result["goals"]:
        print("\nGoals:\n" + render_goals(result["goals"]))
    print(f"\nwrote {base}.json, {base}.md, " + ", ".join(os.path.basename(x) for x in files))
    loud = alerts(result)
    for a in loud:
        print(f"\n!!! {a}")
    return EXIT_ALERT if loud else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        kill_all()
        sys.exit(130)
