"""`--threads N` gives the report `--threads 1` gives, byte for byte apart from timings.

With N > 1 the reading thread copies rows into batches and N threads profile the batch's
columns. Batches are cut between the records the reader parsed, so the place where a
quoted newline could go wrong is a record with one at a batch edge: FP_THREAD_BATCH_ROWS
set to 1, 2, 3 and 7 puts an edge after every record, or after records at every offset,
on files where most records carry quoted newlines. Each file is profiled with and without
the officer contract (the checker reads the same records on the reading thread), with the
default exact-distinct bound and with a bound of 20, so columns hand over to their
sketches in the middle of a batch."""
import csv
import io
import json
import os
import random
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from fp_itest import BIN, CONFORMANCE, FpTestCase  # noqa: E402

GEN = os.path.join(os.path.dirname(BIN) or ".", "fp-gen-officers")
CONTRACT = os.path.join(os.path.dirname(__file__), "..", "..", "contracts", "officer_detail.yaml")
SPECTRUM = os.path.join(CONFORMANCE, "csv_spectrum", "csvs")


def quoted_newlines_table(seed=3, rows=600):
    """A table whose cells carry quoted newlines, CRLFs, delimiters and quotes, with blank
    rows, duplicate rows, short and long rows and a few bytes of invalid UTF-8."""
    rnd = random.Random(seed)
    texts = ["line one\nline two", "a,b", 'say "hi"\r\nagain', "plain", "", "x\n\n\ny", "ünï\ncode"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["id", "note", "amount", "day", "memo\nheader"])
    out = [buf.getvalue().encode()]
    for i in range(rows):
        buf.seek(0)
        buf.truncate()
        kind = rnd.random()
        if kind < 0.03:
            buf.write("\n")  # blank row
        elif kind < 0.06:
            w.writerow([str(i), rnd.choice(texts)])  # short row
        elif kind < 0.09:
            w.writerow([str(i), rnd.choice(texts), "1", "2024-01-01", "m", "extra\ncell"])
        elif kind < 0.12:
            w.writerow(["7", "line one\nline two", "1.5", "2024-02-29", "dup"])  # duplicates
        else:
            w.writerow([str(i), rnd.choice(texts), f"{rnd.uniform(-100, 100):.2f}",
                        f"2024-{rnd.randrange(1, 13):02d}-{rnd.randrange(1, 29):02d}",
                        rnd.choice(texts)])
        line = buf.getvalue().encode()
        if kind > 0.995:
            line = line.replace(b",", b",\xff", 1)  # invalid UTF-8 in a cell
        out.append(line)
    return b"".join(out)


def normalized(report):
    report = dict(report)
    report.pop("timings", None)
    return report


class ThreadsTest(FpTestCase):
    def profile(self, path, threads, batch_rows=0, contract=False, limit=None):
        env = {"FP_THREAD_BATCH_ROWS": str(batch_rows)}
        if limit:
            env["FP_DISTINCT_EXACT_LIMIT"] = str(limit)
        args = ["profile", path, "--report", "-", "--threads", str(threads)]
        if contract:
            args += ["--contract", CONTRACT]
        p = self.run_fp(*args, env=self.env(**env))
        self.assertIn(p.returncode, (0, 1), p.stderr.decode())
        return normalized(json.loads(p.stdout))

    def same_for_all_threads(self, path, contract=False, limit=None, combos=None):
        want = self.profile(path, 1, contract=contract, limit=limit)
        self.assertGreater(want["table"]["rows"], 0, path)
        for threads, batch in combos or [(t, b) for t in (2, 3, 4) for b in (1, 2, 3, 7, 0)]:
            with self.subTest(file=os.path.basename(path), threads=threads, batch_rows=batch,
                              contract=contract, distinct_limit=limit):
                got = self.profile(path, threads, batch, contract=contract, limit=limit)
                if got != want:  # name the first column or section that differs
                    for a, b in zip(want["columns"], got["columns"]):
                        self.assertEqual(a, b, f"column {a.get('name')}")
                    self.assertEqual(want, got)

    def test_quoted_newlines_at_every_batch_edge(self):
        path = self.put("quoted.csv", quoted_newlines_table())
        rep = self.profile(path, 1)
        self.assertGreater(rep["table"]["blank_rows"], 0)
        self.assertGreater(rep["table"]["duplicate_rows"], 0)
        self.assertGreater(rep["table"]["rows_too_many_cells"], 0)
        self.assertGreater(rep["table"]["rows_too_few_cells"], 0)
        for limit in (None, 20):
            self.same_for_all_threads(path, limit=limit)

    def test_officer_file_with_the_contract(self):
        path = os.path.join(self.tmp, "officers.csv")
        subprocess.run([GEN, "--rows", "3000", "--seed", "11", "-o", path], check=True,
                       capture_output=True, timeout=120)
        with open(path, newline="", encoding="utf-8", errors="replace") as f:
            multiline = sum(1 for row in csv.reader(f) for cell in row if "\n" in cell)
        self.assertGreater(multiline, 10, "the generated file should have quoted newlines")
        for contract in (False, True):
            for limit in (None, 20):
                self.same_for_all_threads(path, contract=contract, limit=limit,
                                          combos=[(2, 1), (2, 3), (3, 7), (4, 0)])

    def test_errors_name_the_failing_row(self):
        """An error on the checker's thread (uniqueness cannot spill) is the same error,
        at the same row and byte, as on one thread: not the row the reader had reached."""
        path = os.path.join(self.tmp, "officers.csv")
        subprocess.run([GEN, "--rows", "20000", "--seed", "5", "-o", path], check=True,
                       capture_output=True, timeout=120)
        errs = []
        for threads in (1, 2):
            p = self.run_fp("profile", path, "--contract", CONTRACT, "--report", "-",
                            "--threads", str(threads),
                            env=self.env(FP_UNIQUE_MEMORY="64K",
                                         FP_SPILL_DIR=os.path.join(self.tmp, "missing")))
            self.assertEqual(p.returncode, 3, p.stderr.decode())
            errs.append(p.stderr.decode().strip().splitlines()[-1])
        self.assertIn("cannot create a spill file", errs[0])
        self.assertEqual(errs[0], errs[1])

    def test_csv_spectrum(self):
        cases = sorted(f for f in os.listdir(SPECTRUM)) if os.path.isdir(SPECTRUM) else []
        if not cases:
            self.skipTest("SKIP: ../shared/conformance/csv_spectrum absent")
        for name in cases:
            if name.startswith("empty"):
                continue  # no data rows: nothing reaches the column threads
            self.same_for_all_threads(os.path.join(SPECTRUM, name), combos=[(2, 1), (3, 2)])


if __name__ == "__main__":
    unittest.main(verbosity=2)
