"""Database faults through the whole queue: enqueue (tool_worker enqueue), claim, save run
and job state changes (`file-processing worker`). Whatever statement fails, the job is
retried or marked dead, and the queue stays consistent once the faults stop and leases
expire: nothing queued or running, no succeeded job without its run, no run whose job is
not marked succeeded with that run, one job per object version.

PostgreSQL (FP_TEST_PG_URL, via tests/support/pg_harness.sh): deterministic, the Nth row
write fails. A trigger on every table the queue and the results write (fp_jobs, fp_runs,
fp_column_profiles, fp_findings) draws from a sequence -- sequences are not rolled back,
so each N fails exactly once -- and raises when it draws N. N runs from 1 until a whole
scenario never reaches it.

SQLite: a trigger cannot keep a counter across the rollback it causes, so the same kind of
trigger fails a random fifth of the row writes (SQLite's random()) while the scenario runs;
several rounds. Then the trigger is dropped and a clean worker drains the queue."""
import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fp_itest import BIN, PG_URL, FpTestCase, psql  # noqa: E402

TOOLS = os.environ.get("FP_TOOLS_DIR", "build/tools")
TOOL = os.path.join(TOOLS, "tool_worker")
BUCKET = "raw-bucket"
KEYS = ["in/a.csv", "in/b.csv"]
CSV = "id,name,amount\n1,alpha,1.5\n2,beta,x\n3,,4\n"
TABLES = ("fp_jobs", "fp_runs", "fp_column_profiles", "fp_findings")


class DbFaultsTest(FpTestCase):
    def setUp(self):
        super().setUp()
        if not os.access(TOOL, os.X_OK):
            self.fail(f"{TOOL} is not built (FP_TOOLS_DIR={TOOLS})")
        for k in KEYS:
            self.put(k, CSV, bucket=BUCKET)
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGKILL)
                p.wait()
            p.logf.close()
        super().tearDown()

    # ---- the scenario --------------------------------------------------------------------

    def reset(self):
        if PG_URL:
            psql(PG_URL, "DROP TABLE IF EXISTS fp_findings, fp_column_profiles, fp_runs, "
                         "fp_jobs, fp_schema_migrations CASCADE;"
                         "DROP SEQUENCE IF EXISTS fp_fault_seq;"
                         "DROP FUNCTION IF EXISTS fp_fault() CASCADE")
        elif os.path.exists(self.db):
            os.remove(self.db)
        r = self.run_fp("db", "migrate")
        self.assertEqual(r.returncode, 0, r.stderr)

    def sql(self, text):
        if PG_URL:
            psql(PG_URL, text)
        else:
            subprocess.run(["sqlite3", self.db], input=".timeout 10000\n" + text, text=True,
                           check=True,
                           capture_output=True, timeout=60)

    def faults_on_pg(self, n):
        self.sql(f"""CREATE SEQUENCE fp_fault_seq;
CREATE FUNCTION fp_fault() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF nextval('fp_fault_seq') = {n} THEN
    RAISE EXCEPTION 'injected fault at row write {n}' USING ERRCODE = 'P0001';
  END IF;
  RETURN NEW;
END $$""")
        for t in TABLES:
            self.sql(f"CREATE TRIGGER fp_fault_{t} BEFORE INSERT OR UPDATE ON {t} "
                     "FOR EACH ROW EXECUTE FUNCTION fp_fault()")

    def faults_off_pg(self):
        self.sql("DROP FUNCTION IF EXISTS fp_fault() CASCADE")

    def pg_draws(self):
        return int(self.db_rows("SELECT last_value FROM fp_fault_seq")[0][0])

    def faults_on_sqlite(self):
        for t in TABLES:
            for op in ("INSERT", "UPDATE"):
                self.sql(f"CREATE TRIGGER fp_fault_{t}_{op.lower()} BEFORE {op} ON {t} "
                         "WHEN abs(random()) % 5 = 0 "
                         "BEGIN SELECT RAISE(ABORT, 'injected fault'); END;")

    def faults_off_sqlite(self):
        self.sql("".join(f"DROP TRIGGER IF EXISTS fp_fault_{t}_{op};"
                         for t in TABLES for op in ("insert", "update")))

    def enqueue_all(self):
        """Enqueues every key like SNS delivers: again and again until it is accepted.
        Returns how many attempts failed."""
        failed = 0
        for k in KEYS:
            for _ in range(50):
                r = subprocess.run([TOOL, "enqueue", self.db_url, BUCKET, k, "v1"],
                                   capture_output=True, text=True, timeout=60)
                if r.returncode == 0:
                    self.assertRegex(r.stdout, r"^\d+ (created|duplicate)\n$")
                    break
                failed += 1
                self.assertIn(r.returncode, (2, 3), r.stderr)  # a clean error, not a crash
                self.assertTrue(r.stderr.strip())
            else:
                self.fail(f"{k}: never enqueued")
        return failed

    def worker(self):
        env = self.env(FP_JOB_LEASE_S="1", FP_JOB_POLL_MS="50", FP_JOB_BACKOFF_BASE_MS="20",
                       FP_JOB_BACKOFF_CAP_MS="200", FP_JOB_MAX_ATTEMPTS="5",
                       FP_SHUTDOWN_GRACE_S="5", FP_CONTRACTS_DIR=self.tmp)
        logf = open(os.path.join(self.tmp, f"worker-{len(self.procs)}.log"), "w+")
        p = subprocess.Popen([BIN, "worker", "--workers", "2"], env=env, stdout=logf,
                             stderr=subprocess.STDOUT, cwd=self.tmp)
        p.logf = logf
        self.procs.append(p)
        return p

    def log(self, p):
        p.logf.seek(0)
        return p.logf.read()

    def open_jobs(self):
        return self.db_rows("SELECT count(*) FROM fp_jobs WHERE state IN ('queued', 'running')"
                            )[0][0]

    def wait_drained(self, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                if self.open_jobs() == 0:
                    return True
            except Exception:  # noqa: BLE001 -- SQLite busy while the worker writes
                pass
            time.sleep(0.1)
        return False

    def stop(self, p):
        os.kill(p.pid, signal.SIGTERM)
        rc = p.wait(timeout=30)
        self.assertEqual(rc, 0, self.log(p))

    def check_consistent(self, label):
        jobs = self.db_rows("SELECT id, key, version_id, state, run_id, attempts, last_error "
                            "FROM fp_jobs ORDER BY id")
        runs = self.db_rows("SELECT id, key, object_version FROM fp_runs ORDER BY id")
        self.assertEqual(sorted(j[1] for j in jobs), sorted(KEYS), f"{label}: one job per key")
        run_by_id = {r[0]: r for r in runs}
        for jid, key, ver, state, run_id, attempts, err in jobs:
            self.assertIn(state, ("succeeded", "dead"), f"{label}: job {jid} left {state}")
            if state == "succeeded":
                self.assertIn(run_id, run_by_id, f"{label}: job {jid} succeeded without a run")
                self.assertEqual(run_by_id[run_id][1:], (key, ver), label)
            else:
                self.assertTrue(err, f"{label}: dead job {jid} without its last error")
        for rid, key, ver in runs:
            owners = [j for j in jobs if j[1] == key and j[2] == ver]
            self.assertEqual(len(owners), 1, f"{label}: run {rid} has no job")
            self.assertEqual(owners[0][3], "succeeded", f"{label}: run {rid}'s job not marked")
            self.assertEqual(owners[0][4], rid, f"{label}: run {rid} is not its job's run")
        return jobs

    def scenario(self, label, on, off):
        self.reset()
        on()
        failed_enqueues = self.enqueue_all()
        w = self.worker()
        self.wait_drained(15)  # with faults on, it may or may not get there
        off()
        # Faults gone: leases of jobs whose outcome could not be written expire and a worker
        # takes them again (same process: it survived every fault).
        drained = self.wait_drained(30)
        self.assertTrue(drained, f"{label}: queue stuck after the faults stopped:\n"
                                 f"{self.db_rows('SELECT * FROM fp_jobs')}\n{self.log(w)}")
        self.stop(w)
        jobs = self.check_consistent(label)
        return failed_enqueues, jobs

    # ---- tests ---------------------------------------------------------------------------

    @unittest.skipUnless(PG_URL, "PostgreSQL variant (run through pg_harness.sh)")
    def test_pg_fail_each_row_write_once(self):
        n, stats = 1, {"enqueue failures": 0, "dead": 0, "retried": 0}
        while True:
            fe, jobs = self.scenario(f"N={n}", lambda: self.faults_on_pg(n), self.faults_off_pg)
            stats["enqueue failures"] += fe
            stats["dead"] += sum(1 for j in jobs if j[3] == "dead")
            stats["retried"] += sum(1 for j in jobs if j[5] > 1)
            if self.pg_draws() < n:
                break  # the scenario never reached its Nth row write: every one was failed
            n += 1
            self.assertLess(n, 200, "the scenario writes far more rows than expected")
        print(f"\nPostgreSQL: {n - 1} scenarios, each failing one row write; {stats}",
              file=sys.stderr)
        self.assertGreater(n, 10)

    @unittest.skipIf(PG_URL, "SQLite variant")
    def test_sqlite_random_row_write_failures(self):
        stats = {"enqueue failures": 0, "dead": 0, "retried": 0}
        for rnd in range(6):
            fe, jobs = self.scenario(f"round {rnd}", self.faults_on_sqlite,
                                     self.faults_off_sqlite)
            stats["enqueue failures"] += fe
            stats["dead"] += sum(1 for j in jobs if j[3] == "dead")
            stats["retried"] += sum(1 for j in jobs if j[5] > 1)
        print(f"\nSQLite: 6 rounds, a fifth of row writes failing; {stats}", file=sys.stderr)
        self.assertGreater(stats["enqueue failures"] + stats["retried"] + stats["dead"], 0,
                           "no fault was ever hit: the test proves nothing")


if __name__ == "__main__":
    unittest.main(verbosity=2)
