"""Disk full: while the uniqueness checker spills to disk and while the JSON report is
written. Every case must end with exit 3 (transient: a retry after freeing space may pass),
a message naming the file or directory that could not be written, and no partial report
left behind looking valid.

Two ways to run out of space without mounting anything: /dev/full (every write fails with
ENOSPC), and RLIMIT_FSIZE set in the child with SIGXFSZ ignored (a write past the limit
fails with EFBIG instead of killing the process; ignored dispositions survive exec). The
spill is forced with the smallest memory budget (FP_UNIQUE_MEMORY=64K) and a data file with
two unique columns of 60,000 distinct values."""
import json
import os
import resource
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fp_itest import BIN, FpTestCase  # noqa: E402

CONTRACT = """name: uniq
match: ["*.csv"]
schema:
  fields:
    - name: id
      type: integer
      constraints: {unique: true}
    - name: name
      type: string
      constraints: {unique: true}
"""
ROWS = 60000


def fsize_limit(nbytes):
    def pre():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, nbytes))
    return pre


class DiskFullTest(FpTestCase):
    def setUp(self):
        super().setUp()
        self.put("big/data.csv", "id,name\n" + "".join(
            f"{i},name-{i:08d}-{'x' * 16}\n" for i in range(ROWS)))
        self.data = os.path.join(self.root, "big/data.csv")
        self.contract = os.path.join(self.tmp, "uniq.yaml")
        with open(self.contract, "w") as f:
            f.write(CONTRACT)
        self.spill = os.path.join(self.tmp, "spill")
        os.makedirs(self.spill)
        self.out = os.path.join(self.tmp, "out")
        os.makedirs(self.out)

    def spill_env(self):
        return self.env(FP_UNIQUE_MEMORY="64K", FP_SPILL_DIR=self.spill)

    def fp(self, *args, env=None, limit=None, stdout=None):
        return subprocess.run([BIN, *args], env=env or self.env(), cwd=self.tmp, timeout=300,
                              stdout=stdout or subprocess.PIPE, stderr=subprocess.PIPE,
                              preexec_fn=fsize_limit(limit) if limit else None)

    def assert_transient(self, r, *names):
        err = r.stderr.decode()
        self.assertEqual(r.returncode, 3, err)
        for n in names:
            self.assertIn(n, err)
        self.assertNotIn("Traceback", err)
        self.assertNotIn("Aborted", err)

    def leftovers(self):
        return sorted(os.listdir(self.out)) + sorted(os.listdir(self.spill))

    # ---- spilling ------------------------------------------------------------------------

    def test_spill_fits_without_a_limit(self):
        """The control: the same profile passes and is exact when the disk has room."""
        report = os.path.join(self.out, "r.json")
        r = self.fp("profile", self.data, "--contract", self.contract, "--report", report,
                    env=self.spill_env())
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        with open(report) as f:
            rep = json.load(f)
        self.assertEqual(rep["table"]["rows"], ROWS)

    def test_spill_hits_file_size_limit_in_profile(self):
        report = os.path.join(self.out, "r.json")
        r = self.fp("profile", self.data, "--contract", self.contract, "--report", report,
                    env=self.spill_env(), limit=200_000)
        self.assert_transient(r, "spill file", self.spill, "File too large")
        self.assertEqual(self.leftovers(), [])  # no report, no temp file, no spill file

    def test_spill_hits_file_size_limit_in_job(self):
        report = os.path.join(self.out, "r.json")
        r = self.fp("run", "s3_data_quality_job", "--event-json",
                    '{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3",'
                    '"s3":{"bucket":{"name":"b"},"object":{"key":"big/data.csv"}}}]}',
                    "--contract", self.contract, "--report", report,
                    env=self.spill_env(), limit=200_000)
        self.assert_transient(r, "spill file", self.spill)
        self.assertEqual(self.leftovers(), [])
        self.assertEqual(self.db_rows("SELECT count(*) FROM fp_runs") or [(0,)], [(0,)])

    def test_missing_spill_dir_is_named(self):
        """A spill directory that cannot take a file at all (here: it does not exist)."""
        env = self.env(FP_UNIQUE_MEMORY="64K", FP_SPILL_DIR=os.path.join(self.tmp, "nope"))
        r = self.fp("profile", self.data, "--contract", self.contract, "--report",
                    os.path.join(self.out, "r.json"), env=env)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(os.path.join(self.tmp, "nope"), r.stderr.decode())
        self.assertEqual(self.leftovers(), [])

    # ---- the report ----------------------------------------------------------------------

    def test_report_to_dev_full(self):
        small = self.put("small.csv", "a,b\n1,2\n")
        r = self.fp("profile", small, "--report", "/dev/full")
        self.assert_transient(r, "/dev/full", "No space left on device")
        r = self.fp("run", "s3_data_quality_job", "--event-json",
                    '{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3",'
                    '"s3":{"bucket":{"name":"b"},"object":{"key":"small.csv"}}}]}',
                    "--report", "/dev/full")
        self.assert_transient(r, "/dev/full", "No space left on device")

    def test_report_on_stdout_to_dev_full(self):
        small = self.put("small.csv", "a,b\n1,2\n")
        with open("/dev/full", "wb") as full:
            r = self.fp("profile", small, "--report", "-", stdout=full)
        self.assert_transient(r, "standard output")

    def test_report_hits_file_size_limit_previous_report_intact(self):
        small = self.put("small.csv", "a,b\n1,2\n")
        report = os.path.join(self.out, "r.json")
        r = self.fp("profile", small, "--report", report)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        with open(report, "rb") as f:
            before = f.read()
        json.loads(before)
        self.assertGreater(len(before), 1000)
        # The new report is bigger than the limit: the write fails part-way.
        r = self.fp("profile", self.data, "--report", report, limit=1000)
        self.assert_transient(r, report, "File too large")
        # Reports are replaced atomically: the old one is still there, whole; no temp file.
        self.assertEqual(os.listdir(self.out), ["r.json"])
        with open(report, "rb") as f:
            self.assertEqual(f.read(), before)

    def test_report_hits_file_size_limit_no_file_left(self):
        report = os.path.join(self.out, "r.json")
        r = self.fp("profile", self.data, "--report", report, limit=1000)
        self.assert_transient(r, report, "File too large")
        self.assertEqual(os.listdir(self.out), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
