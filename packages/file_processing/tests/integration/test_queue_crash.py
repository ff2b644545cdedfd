"""Process-level reliability of the durable queue and the worker pool (issue 5): a worker
process killed with SIGKILL in the middle of a job loses nothing (after restart the job
completes, once), SIGTERM lets a running job finish inside the grace period, and a job
still running when the grace period ends is released back to the queue.

Drives build/tools/tool_worker (tests/support/tool_worker.c): `enqueue` records a job,
`run` is a worker pool until SIGTERM; --slow-ms delays every object read so a job can be
caught in flight. The results DB is checked directly with sqlite3."""
import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fp_itest import FpTestCase  # noqa: E402

TOOLS = os.environ.get("FP_TOOLS_DIR", "build/tools")
TOOL = os.path.join(TOOLS, "tool_worker")
BUCKET = "raw-bucket"
CSV = "id,name,amount\n1,alpha,1.5\n2,beta,2.5\n3,gamma,4\n"


class QueueCrashTest(FpTestCase):
    def setUp(self):
        super().setUp()
        if not os.access(TOOL, os.X_OK):
            self.fail(f"{TOOL} is not built (FP_TOOLS_DIR={TOOLS})")
        self.url = self.db_url  # SQLite file, or FP_TEST_PG_URL (fp_itest.py)
        self.procs = []

    def tearDown(self):
        for p, log in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
            log.close()
        super().tearDown()

    # ---- helpers -------------------------------------------------------------------------

    def enqueue(self, key, version="v1"):
        out = subprocess.run([TOOL, "enqueue", self.url, BUCKET, key, version],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        job_id, what = out.stdout.split()
        return int(job_id), what

    def start(self, *opts, name="worker"):
        path = os.path.join(self.tmp, f"{name}-{len(self.procs)}.log")
        log = open(path, "w+")
        p = subprocess.Popen([TOOL, "run", self.url, self.root, "--poll-ms", "100", *opts],
                             stdout=log, stderr=subprocess.STDOUT)
        self.procs.append((p, log))
        p.log_path = path
        return p

    def log_of(self, p):
        with open(p.log_path) as f:
            return f.read()

    def wait_log(self, p, needle, timeout=30):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if needle in self.log_of(p):
                return
            if p.poll() is not None:
                self.fail(f"worker exited ({p.returncode}) before '{needle}':\n{self.log_of(p)}")
            time.sleep(0.05)
        self.fail(f"no '{needle}' after {timeout} s:\n{self.log_of(p)}")

    def job(self, job_id):
        rows = self.db_rows("SELECT state, attempts, lease_owner, last_error, run_id"
                            " FROM fp_jobs WHERE id = ?", job_id)
        self.assertEqual(len(rows), 1)
        return dict(zip(("state", "attempts", "owner", "error", "run_id"), rows[0]))

    def wait_states(self, want, timeout=30):
        """Waits until the jobs' states equal want ({id: state})."""
        end = time.monotonic() + timeout
        got = None
        while time.monotonic() < end:
            got = {i: self.job(i)["state"] for i in want}
            if got == want:
                return
            time.sleep(0.1)
        self.fail(f"job states {got}, expected {want}")

    def terminate(self, p, timeout=15):
        t0 = time.monotonic()
        p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.fail(f"worker did not exit within {timeout} s of SIGTERM:\n{self.log_of(p)}")
        self.assertEqual(rc, 0, self.log_of(p))
        return time.monotonic() - t0

    def runs(self):
        return self.db_rows("SELECT key, object_version FROM fp_runs ORDER BY key")

    # ---- tests ---------------------------------------------------------------------------

    def test_kill9_mid_job_then_restart_completes_once(self):
        keys = [f"in/{i}.csv" for i in range(3)]
        for k in keys:
            self.put(k, CSV, bucket=BUCKET)
        ids = [self.enqueue(k)[0] for k in keys]
        self.assertEqual(self.enqueue(keys[0]), (ids[0], "duplicate"))

        w = self.start("--threads", "1", "--lease", "2", "--slow-ms", "60000")
        self.wait_log(w, f"job {ids[0]} claimed")
        w.kill()  # SIGKILL mid-job: no cleanup of any kind
        w.wait()
        first = self.job(ids[0])
        self.assertEqual((first["state"], first["attempts"]), ("running", 1))
        self.assertEqual(self.runs(), [])

        w2 = self.start("--threads", "2", "--lease", "2")
        self.wait_states({i: "succeeded" for i in ids})
        self.terminate(w2)
        # Every object version was processed exactly once more: one run each.
        self.assertEqual(self.runs(), [(k, "v1") for k in keys])
        self.assertEqual(self.job(ids[0])["attempts"], 2)  # the crashed attempt counted
        self.assertEqual([self.job(i)["attempts"] for i in ids[1:]], [1, 1])
        for i in ids:
            self.assertIsNotNone(self.job(i)["run_id"])
            self.assertIsNone(self.job(i)["owner"])
        self.assertIn(f"job {ids[0]} claimed", self.log_of(w2))

    def test_sigterm_lets_running_job_finish(self):
        self.put("slowish.csv", CSV, bucket=BUCKET)
        job_id, _ = self.enqueue("slowish.csv")
        w = self.start("--threads", "1", "--slow-ms", "1500", "--grace", "20")
        self.wait_log(w, f"job {job_id} claimed")
        took = self.terminate(w)
        self.assertLess(took, 15)
        self.assertEqual(self.job(job_id)["state"], "succeeded")
        self.assertEqual(self.runs(), [("slowish.csv", "v1")])

    def test_sigterm_after_grace_releases_job(self):
        self.put("stuck.csv", CSV, bucket=BUCKET)
        job_id, _ = self.enqueue("stuck.csv")
        w = self.start("--threads", "1", "--slow-ms", "60000", "--grace", "1")
        self.wait_log(w, f"job {job_id} claimed")
        took = self.terminate(w)
        self.assertLess(took, 10)
        self.assertIn("released back to the queue", self.log_of(w))
        j = self.job(job_id)
        self.assertEqual((j["state"], j["attempts"], j["owner"]), ("queued", 0, None))
        self.assertEqual(self.runs(), [])
        # Not lost: the next worker takes it at once (no lease to wait for).
        w2 = self.start("--threads", "1")
        self.wait_states({job_id: "succeeded"}, timeout=20)
        self.terminate(w2)
        self.assertEqual(self.job(job_id)["attempts"], 1)
        self.assertEqual(self.runs(), [("stuck.csv", "v1")])

    def test_idle_worker_stops_promptly(self):
        w = self.start("--threads", "3", "--poll-ms", "60000")
        self.wait_log(w, "tool_worker: ready")
        self.assertLess(self.terminate(w), 3)


if __name__ == "__main__":
    unittest.main(verbosity=2)
