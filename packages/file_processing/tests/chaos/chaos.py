#!/usr/bin/env python3
"""SIGKILL chaos test of the SNS listener: whatever happens, nothing accepted is lost.

`file-processing serve` (2 workers by default) runs on the results DB (PostgreSQL when
FP_TEST_PG_URL or --db-url names one, else a temp SQLite file). Several client threads post
signed SNS notifications for a set of distinct object versions -- with duplicates (new
MessageId, same object version) and redeliveries (the same message again) -- and, like SNS,
retry every 5xx or connection error. Meanwhile a controller kills the listener with SIGKILL
at random points and restarts it on the same port. Then the queue drains and the DB is
checked:

- every notification eventually got its 200, and every object version answered 200 has its
  job row (nothing accepted was lost);
- exactly one job per object version (duplicates and redeliveries add none);
- nothing left queued or running once the last listener has drained the queue (no job
  stuck), no job dead or failed;
- exactly one run per object version, and each job's run_id is that run.

Deterministic given --seed (printed): the objects, the messages, their order, the client
each one goes to, the kill points (as counts of answered posts) and restart delays. The
interleaving of threads and processes is of course not.

  chaos.py                       full size: 1000 notifications, 200 object versions, 10 kills
  chaos.py --short               CTest size: 200 / 40 / 3 kills (under a minute)
  chaos.py --seed 1234           rerun a seed

Uses the test certificate machinery of tests/integration/test_listener.py (our own key,
mapped through FP_SNS_TEST_CERT_MAP in FP_SNS_TEST_MODE) and the local object store
(LOCAL_S3_ROOT). Exit 0 pass, 1 fail, 77 skip (no openssl CLI)."""
import argparse
import base64
import concurrent.futures
import http.client
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from fp_itest import BIN, pg_rows, psql, PG_TABLES, s3_event  # noqa: E402

BIN = os.path.abspath(BIN)  # the listener runs in a temp directory

OPENSSL = shutil.which("openssl")
TOPIC = "arn:aws:sns:us-east-1:123456789012:uploads"
CERT_NAME = "SimpleNotificationService-fpchaos0123456789.pem"
CERT_URL = "https://sns.us-east-1.amazonaws.com/" + CERT_NAME
BUCKET = "chaos-bucket"


def string_to_sign(m):
    out = ""
    for k in ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"):
        if m.get(k) is not None:
            out += f"{k}\n{m[k]}\n"
    return out.encode()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Db:
    """Read access to the results DB (psql for PostgreSQL, sqlite3 for SQLite)."""

    def __init__(self, url):
        self.url = url
        self.pg = url.startswith(("postgresql:", "postgres:"))

    def reset(self):
        if self.pg:
            psql(self.url, f"DROP TABLE IF EXISTS {PG_TABLES} CASCADE")

    def rows(self, sql):
        if self.pg:
            return pg_rows(self.url, sql)
        path = self.url[len("sqlite:///"):]
        if not os.path.exists(path):
            return []
        con = sqlite3.connect(path, timeout=30)
        try:
            return con.execute(sql).fetchall()
        except sqlite3.OperationalError as e:
            if "no such table" in str(e):
                return []
            raise
        finally:
            con.close()


class Listener:
    """One `serve` at a time on a fixed port; killed and restarted by the controller."""

    def __init__(self, tmp, env, workers, port):
        self.tmp, self.env, self.workers, self.port = tmp, env, workers, port
        self.proc = None
        self.starts = 0
        self.lock = threading.Lock()

    def start(self):
        self.starts += 1
        log = open(os.path.join(self.tmp, f"serve-{self.starts}.log"), "w")
        self.proc = subprocess.Popen(
            [BIN, "serve", "--port", str(self.port), "--bind", "127.0.0.1", "--workers",
             str(self.workers)], env=self.env, stdout=log, stderr=subprocess.STDOUT,
            cwd=self.tmp)
        log.close()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def ensure_up(self):
        """Restarts the listener if it exited by itself (e.g. the port was not free yet)."""
        if not self.alive():
            self.start()

    def stop(self, timeout=30):
        if not self.alive():
            return self.proc.returncode if self.proc else None
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            return "timeout"

    def logs(self):
        out = []
        for i in range(1, self.starts + 1):
            with open(os.path.join(self.tmp, f"serve-{i}.log"), errors="replace") as f:
                out.append(f"--- serve-{i}.log\n" + f.read())
        return "\n".join(out)


def plan(rng, n_msgs, n_objects):
    """The object versions and the message list: each object version once, the rest
    duplicates (fresh MessageId) or redeliveries (an earlier message again), shuffled."""
    objects = [(f"in/obj-{i // 2:04d}.csv", f"v{i % 2 + 1}") for i in range(n_objects)]
    msgs = [("new", i) for i in range(n_objects)]
    while len(msgs) < n_msgs:
        msgs.append(("dup" if rng.random() < 0.5 else "redeliver", rng.randrange(n_objects)))
    rng.shuffle(msgs)
    out, first_msg, distinct = [], {}, []
    for i, (kind, obj) in enumerate(msgs):
        if kind == "redeliver" and obj in first_msg:
            out.append((obj, first_msg[obj]))  # the very same message, byte for byte
            continue
        key, ver = objects[obj]
        m = {"Type": "Notification", "MessageId": f"c0ffee00-0000-4000-8000-{i:012d}",
             "TopicArn": TOPIC, "Subject": "Amazon S3 Notification",
             "Message": s3_event(key, bucket=BUCKET, versionId=ver),
             "Timestamp": "2024-05-01T12:00:00.000Z", "SignatureVersion": "2",
             "SigningCertURL": CERT_URL}
        first_msg.setdefault(obj, m)
        distinct.append(m)
        out.append((obj, m))
    return objects, out, distinct


def sign_all(msgs, key):
    """RSA-SHA256 (SignatureVersion 2) with python3-cryptography when present: one openssl
    process per message costs seconds per hundred on a loaded machine."""
    try:
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding
    except ImportError:
        pass
    else:
        with open(key, "rb") as f:
            k = serialization.load_pem_private_key(f.read(), password=None)
        for m in msgs:
            sig = k.sign(string_to_sign(m), padding.PKCS1v15(), hashes.SHA256())
            m["Signature"] = base64.b64encode(sig).decode()
        return

    def one(m):
        sig = subprocess.run([OPENSSL, "dgst", "-sha256", "-sign", key],
                             input=string_to_sign(m), capture_output=True, check=True,
                             timeout=60).stdout
        m["Signature"] = base64.b64encode(sig).decode()

    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as ex:
        list(ex.map(one, msgs))


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.answered = 0      # notifications that got their 200
        self.attempts = 0      # POSTs sent
        self.s5xx = 0
        self.conn_errors = 0
        self.other = []        # unexpected statuses (4xx): a failure
        self.ok_objects = set()
        self.created = 0


def post(port, body):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        c.request("POST", "/", body=body, headers={"Content-Type": "text/plain; charset=UTF-8",
                                                   "x-amz-sns-message-type": "Notification"})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def client(port, work, stats, deadline):
    """Posts each message until it gets a 200, like SNS's delivery retries."""
    for obj, m in work:
        body = json.dumps(m)
        while True:
            if time.monotonic() > deadline:
                return
            with stats.lock:
                stats.attempts += 1
            try:
                st, resp = post(port, body)
            except (OSError, http.client.HTTPException):
                with stats.lock:
                    stats.conn_errors += 1
                time.sleep(0.02)
                continue
            if st == 200:
                r = json.loads(resp)
                with stats.lock:
                    stats.answered += 1
                    stats.created += r.get("created", 0)
                    if r.get("jobs") == 1:
                        stats.ok_objects.add(obj)
                    else:
                        stats.other.append((obj, st, resp[:200]))
                break
            if st >= 500:
                with stats.lock:
                    stats.s5xx += 1
                time.sleep(0.02)
                continue
            with stats.lock:
                stats.other.append((obj, st, resp[:200]))
            break


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--notifications", type=int, default=1000)
    ap.add_argument("--objects", type=int, default=200)
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--short", action="store_true",
                    help="CTest size: 200 notifications, 40 object versions, 3 kills")
    ap.add_argument("--db-url", default=os.environ.get("FP_TEST_PG_URL"),
                    help="results DB (default $FP_TEST_PG_URL, else a temp SQLite file)")
    ap.add_argument("--timeout", type=float, default=600, help="overall limit in seconds")
    ap.add_argument("--keep", action="store_true", help="keep the temp directory")
    a = ap.parse_args()
    if a.short:
        a.notifications, a.objects, a.kills = 200, 40, 3
    if not OPENSSL:
        print("chaos: SKIP: no openssl CLI")
        return 77
    if not os.access(BIN, os.X_OK):
        print(f"chaos: {BIN} is not built (FP_BIN)")
        return 1
    if a.objects < 1 or a.notifications < a.objects:
        ap.error("need notifications >= objects >= 1")
    seed = a.seed if a.seed is not None else random.SystemRandom().randrange(1, 2**31)
    print(f"chaos: seed {seed} (rerun: --seed {seed}); {a.notifications} notifications, "
          f"{a.objects} object versions, {a.kills} kills, {a.clients} clients, "
          f"{a.workers} workers", flush=True)
    rng = random.Random(seed)

    tmp = tempfile.mkdtemp(prefix="fp-chaos-")
    listener = None
    t_setup = time.monotonic()
    try:
        db_url = a.db_url or "sqlite:///" + os.path.join(tmp, "results.db")
        db = Db(db_url)
        db.reset()
        print(f"chaos: backend {'PostgreSQL' if db.pg else 'SQLite'}", flush=True)
        root = os.path.join(tmp, "bucket")
        objects, msgs, distinct = plan(rng, a.notifications, a.objects)
        for key, ver in objects:
            path = os.path.join(root, BUCKET, key)
            if not os.path.exists(path):
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w") as f:
                    f.write("id,name,amount\n" + "".join(
                        f"{j},n{j},{rng.randrange(1000)}.5\n" for j in range(rng.randrange(1, 50))))
        subprocess.run([OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj",
                        "/CN=sns.amazonaws.com", "-days", "30", "-keyout", "sns.key",
                        "-out", "sns.pem"], cwd=tmp, check=True, capture_output=True, timeout=60)
        sign_all(distinct, os.path.join(tmp, "sns.key"))
        contracts = os.path.join(tmp, "contracts")
        os.makedirs(contracts)

        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("FP_", "AWS_")) and k not in ("LOCAL_S3_ROOT", "DATABASE_URL")}
        env.update(LOCAL_S3_ROOT=root, DATABASE_URL=db_url, FP_SNS_TEST_MODE="1",
                   FP_SNS_TEST_DISABLE_FETCH="1", FP_SNS_AUTO_CONFIRM="0",
                   FP_SNS_TEST_CERT_MAP=f"{CERT_NAME}={os.path.join(tmp, 'sns.pem')}",
                   FP_SNS_TOPIC_ARNS=TOPIC, FP_CONTRACTS_DIR=contracts,
                   # Short leases so a killed worker's job is re-claimed within seconds.
                   FP_JOB_LEASE_S="2", FP_JOB_POLL_MS="50", FP_JOB_BACKOFF_BASE_MS="50",
                   FP_JOB_BACKOFF_CAP_MS="500", FP_SHUTDOWN_GRACE_S="10",
                   FP_SHUTDOWN_DRAIN_MS="0", FP_LOG_LEVEL="info")
        listener = Listener(tmp, env, a.workers, free_port())

        # Kill points: after the k-th answered notification; restart after a short pause.
        kill_at = sorted(rng.sample(range(1, a.notifications), min(a.kills, a.notifications - 1)))
        pauses = [rng.uniform(0.0, 0.5) for _ in kill_at]
        work = [[] for _ in range(a.clients)]
        for obj, m in msgs:
            work[rng.randrange(a.clients)].append((obj, m))

        stats = Stats()
        t0 = time.monotonic()
        print(f"chaos: set-up (objects, key, signatures) {t0 - t_setup:.1f} s", flush=True)
        deadline = t0 + a.timeout
        listener.start()
        threads = [threading.Thread(target=client, args=(listener.port, w, stats, deadline))
                   for w in work]
        for t in threads:
            t.start()
        kills = 0
        while any(t.is_alive() for t in threads) and time.monotonic() < deadline:
            if kills < len(kill_at) and stats.answered >= kill_at[kills]:
                listener.kill()
                time.sleep(pauses[kills])
                kills += 1
                listener.start()
            else:
                listener.ensure_up()
            time.sleep(0.002)
        for t in threads:
            t.join()
        posted_s = time.monotonic() - t0

        # Drain: the (last) listener's workers finish the queue; leases of killed workers
        # expire after FP_JOB_LEASE_S and their jobs run again.
        listener.ensure_up()
        open_jobs = None
        while time.monotonic() < deadline:
            open_jobs = db.rows("SELECT count(*) FROM fp_jobs WHERE state IN ('queued', 'running')")
            if open_jobs and open_jobs[0][0] == 0:
                break
            listener.ensure_up()
            time.sleep(0.2)
        rc = listener.stop()
        duration = time.monotonic() - t0

        jobs = db.rows("SELECT bucket, key, version_id, state, attempts, run_id, last_error"
                       " FROM fp_jobs ORDER BY id")
        runs = db.rows("SELECT id, bucket, key, object_version FROM fp_runs ORDER BY id")
        failures = check(objects, stats, jobs, runs, open_jobs, rc, a.notifications)
        states = {}
        for j in jobs:
            states[j[3]] = states.get(j[3], 0) + 1
        retried = sum(1 for j in jobs if j[4] > 1)
        print(f"chaos: posted {a.notifications} notifications ({stats.attempts} POSTs), "
              f"200s {stats.answered}, 5xx {stats.s5xx}, connection errors "
              f"{stats.conn_errors}, kills {kills}, listener starts {listener.starts}")
        print(f"chaos: jobs {len(jobs)} {dict(sorted(states.items()))} (created by a 200: "
              f"{stats.created}; run more than once after a kill: {retried}), runs {len(runs)}, "
              f"object versions {len(objects)}")
        print(f"chaos: posting took {posted_s:.1f} s, total {duration:.1f} s; "
              f"last listener exit {rc}")
        if failures:
            for f in failures[:40]:
                print("chaos: FAIL:", f)
            if len(failures) > 40:
                print(f"chaos: ... {len(failures) - 40} more")
            log_tail = listener.logs()[-6000:]
            print("chaos: listener logs (tail):\n" + log_tail)
            print(f"chaos: FAILED (seed {seed})")
            return 1
        print(f"chaos: PASS (seed {seed})")
        return 0
    finally:
        if listener and listener.alive():
            listener.kill()
        if a.keep:
            print(f"chaos: kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def check(objects, stats, jobs, runs, open_jobs, rc, n_msgs):
    fails = []
    if stats.answered != n_msgs:
        fails.append(f"{n_msgs - stats.answered} notification(s) never got a 200")
    for obj, st, body in stats.other:
        fails.append(f"{objects[obj]}: unexpected answer {st} {body!r}")
    if not open_jobs or open_jobs[0][0] != 0:
        fails.append(f"queue did not drain: {open_jobs} job(s) still queued/running (stuck)")
    if rc != 0:
        fails.append(f"the last listener did not stop cleanly on SIGTERM (exit {rc})")
    by_obj = {}
    for b, k, v, state, attempts, run_id, err in jobs:
        by_obj.setdefault((k, v), []).append((b, state, attempts, run_id, err))
    runs_by_obj = {}
    for rid, b, k, v in runs:
        runs_by_obj.setdefault((k, v), []).append(rid)
    for i, ov in enumerate(objects):
        js = by_obj.get(ov, [])
        if i in stats.ok_objects and not js:
            fails.append(f"{ov}: answered 200 but has no job row (lost)")
            continue
        if len(js) != 1:
            fails.append(f"{ov}: {len(js)} job rows, expected 1")
            continue
        b, state, attempts, run_id, err = js[0]
        if state != "succeeded":
            fails.append(f"{ov}: job {state} after {attempts} attempt(s): {err}")
        rs = runs_by_obj.get(ov, [])
        if len(rs) != 1:
            fails.append(f"{ov}: {len(rs)} runs, expected exactly 1")
        elif run_id != rs[0]:
            fails.append(f"{ov}: job run_id {run_id} is not its run {rs[0]}")
    extra = set(runs_by_obj) - set(objects)
    if extra:
        fails.append(f"runs for unknown object versions: {sorted(extra)[:5]}")
    return fails


if __name__ == "__main__":
    sys.exit(main())
