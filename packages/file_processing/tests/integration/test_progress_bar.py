"""The progress bar of `profile` and `run`: nothing at all when stderr is not a terminal;
under a pseudo-terminal it shows bytes / total, rate and ETA (bytes and rate only for
standard input), redraws at most about 8 times a second, and clears its line before the
summary."""
import os
import pty
import re
import select
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fp_itest import BIN, FpTestCase, s3_event  # noqa: E402

GEN = os.environ.get("FP_GEN") or os.path.join(os.path.dirname(BIN), "fp-gen-officers")
CLEAR = b"\r\x1b[K"


def run_with_pty_stderr(args, env, stdin=None):
    """Runs args with stderr on a pty (stdout to a pipe); returns (rc, stderr bytes, secs)."""
    master, slave = pty.openpty()
    t0 = time.monotonic()
    p = subprocess.Popen(args, env=env, stdin=stdin, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    out = b""
    while True:
        r, _, _ = select.select([master], [], [], 60)
        if not r:
            p.kill()
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the pty
            break
        if not chunk:
            break
        out += chunk
    rc = p.wait(timeout=120)
    os.close(master)
    return rc, out, time.monotonic() - t0


class ProgressBarTest(FpTestCase):
    @classmethod
    def setUpClass(cls):
        import tempfile
        cls.data_dir = tempfile.mkdtemp(prefix="fp-progress-")
        cls.big = os.path.join(cls.data_dir, "officers.csv")
        # large enough to take a while even on a fast machine, so redraws are throttled
        subprocess.run([GEN, "--bytes", "96M", "--seed", "7", "-o", cls.big], check=True,
                       timeout=300)
        cls.size = os.path.getsize(cls.big)

    @classmethod
    def tearDownClass(cls):
        import shutil
        shutil.rmtree(cls.data_dir, ignore_errors=True)

    def test_nothing_when_stderr_is_not_a_terminal(self):
        p = self.run_fp("profile", self.big, "--report", os.path.join(self.tmp, "r.json"))
        self.assertIn(p.returncode, (0, 1), p.stderr.decode())
        self.assertNotIn(b"\r", p.stderr)
        self.assertNotIn(b"\x1b[", p.stderr)
        self.assertNotIn(b"ETA", p.stderr)
        self.assertIn(b"profile: " + self.big.encode(), p.stderr)  # the summary is still there

    def test_bar_under_a_pty(self):
        rc, err, secs = run_with_pty_stderr(
            [BIN, "profile", self.big, "--report", os.path.join(self.tmp, "r.json")], self.env())
        self.assertIn(rc, (0, 1), err.decode(errors="replace"))
        draws = err.count(CLEAR)
        text = err.decode(errors="replace")
        # bytes done / total, percent, rate, ETA
        self.assertRegex(text, r"\d+\.\d/9\d\.\d MiB")
        self.assertRegex(text, r"\d+(\.\d+)? (GiB|MiB|KiB|B)/s")
        self.assertRegex(text, r"ETA \d+:\d\d")
        self.assertRegex(text, r"\d+%")
        # at most ~8 redraws a second (+1 first draw, +1 the final clear)
        self.assertGreaterEqual(draws, 2)
        self.assertLessEqual(draws, int(secs * 8) + 3, "%d redraws in %.2f s" % (draws, secs))
        # the line is cleared before the summary: summary follows a clear, no bar after it
        i = text.rfind("profile: ")
        self.assertGreater(i, 0)
        self.assertTrue(text[:i].endswith("\r\x1b[K"), repr(text[max(0, i - 80):i + 10]))
        self.assertNotIn("ETA", text[i:])

    def test_stdin_has_no_total(self):
        with open(self.big, "rb") as f:
            rc, err, _ = run_with_pty_stderr(
                [BIN, "profile", "-", "--report", os.path.join(self.tmp, "r.json")], self.env(),
                stdin=f)
        self.assertIn(rc, (0, 1), err.decode(errors="replace"))
        text = err.decode(errors="replace")
        self.assertIn("standard input", text)
        self.assertRegex(text, r"\d+(\.\d+)? (MiB|KiB|B) read +\d+(\.\d+)? (GiB|MiB|KiB|B)/s")
        self.assertNotIn("ETA", text)
        self.assertNotRegex(text, r"\d+%")

    def test_quiet_draws_nothing(self):
        rc, err, _ = run_with_pty_stderr(
            [BIN, "profile", self.big, "--quiet", "--report", os.path.join(self.tmp, "r.json")],
            self.env())
        self.assertIn(rc, (0, 1))
        self.assertNotIn(CLEAR, err)

    def test_run_object_has_a_total(self):
        key = "in/officers.csv"
        os.makedirs(os.path.join(self.root, "demo-bucket", "in"))
        os.link(self.big, os.path.join(self.root, "demo-bucket", key))
        rc, err, _ = run_with_pty_stderr(
            [BIN, "run", "s3_data_quality_job", "--dry-run", "--event-json", s3_event(key)],
            self.env())
        self.assertIn(rc, (0, 1), err.decode(errors="replace"))
        text = err.decode(errors="replace")
        self.assertRegex(text, r"in/officers\.csv \[[#-]+\] +\d+%")
        self.assertRegex(text, r"/9\d\.\d MiB")


if __name__ == "__main__":
    unittest.main(verbosity=2)
