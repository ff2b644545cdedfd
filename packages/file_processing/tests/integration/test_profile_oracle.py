"""Profile values checked against answers computed independently with Python's csv and
statistics modules, on generated data with every inferred type, missing values, unicode,
quoted delimiters and embedded newlines."""
import collections
import csv
import datetime
import io
import json
import math
import os
import random
import statistics
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from fp_itest import FpTestCase  # noqa: E402


def make_table(seed=7, rows=3000):
    rnd = random.Random(seed)
    words = ["alpha", "beta", "gamma", "délta", "ε", "x, y", 'say "hi"', "multi\nline", "naïve"]
    header = ["id", "score", "amount", "day", "stamp", "flag", "label", "mixed", "sparse"]
    out = []
    for i in range(rows):
        day = datetime.date(2000, 1, 1) + datetime.timedelta(days=rnd.randrange(9000))
        stamp = datetime.datetime(2020, 1, 1) + datetime.timedelta(seconds=rnd.randrange(10**8))
        out.append([
            str(1000 + i),
            str(rnd.randrange(-500, 500)) if rnd.random() > 0.1 else "",
            f"{rnd.uniform(-1e4, 1e4):.3f}",
            day.isoformat(),
            stamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
            rnd.choice(["true", "false"]),
            rnd.choice(words),
            rnd.choice(["12", "x12", "3.5"]),
            "" if rnd.random() < 0.97 else rnd.choice(words),
        ])
    return header, out


def expected(header, rows):
    cols = {}
    for j, name in enumerate(header):
        vals = [r[j] for r in rows]
        present = [v for v in vals if v != ""]
        c = {"count": len(vals), "missing": len(vals) - len(present),
             "distinct": len(set(present))}
        counts = collections.Counter(present)
        c["top"] = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0].encode()))[:5]
        lens = [len(v) for v in present]
        if lens:
            c["length"] = (min(lens), max(lens), statistics.fmean(lens))
        cols[name] = (c, present)
    return cols


class ProfileOracleTest(FpTestCase):
    def profile(self, text, *args):
        path = os.path.join(self.tmp, "t.csv")
        with open(path, "w", newline="", encoding="utf-8") as f:
            f.write(text)
        p = self.run_fp("profile", path, "--report", "-", *args)
        self.assertIn(p.returncode, (0, 1), p.stderr.decode())
        return json.loads(p.stdout)

    def test_values_match_python(self):
        header, rows = make_table()
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows([header] + rows)
        rep = self.profile(buf.getvalue())
        self.assertEqual(rep["table"]["rows"], len(rows))
        self.assertEqual(rep["table"]["columns"], len(header))
        exp = expected(header, rows)
        got = {c["name"]: c for c in rep["columns"]}
        types = {"id": "integer", "score": "integer", "amount": "number", "day": "date",
                 "stamp": "datetime", "flag": "boolean", "label": "string",
                 "mixed": "string", "sparse": "string"}
        for name, (e, present) in exp.items():
            g = got[name]
            with self.subTest(column=name):
                self.assertEqual(g["type"], types[name])
                self.assertEqual(g["count"], e["count"])
                self.assertEqual(g["missing"], e["missing"])
                self.assertEqual(g["distinct"], e["distinct"])
                self.assertFalse(g["distinct_approx"])
                self.assertEqual([(t["value"], t["count"]) for t in g["top"]], e["top"])
                lmin, lmax, lmean = e["length"]
                self.assertEqual((g["length"]["min"], g["length"]["max"]), (lmin, lmax))
                self.assertAlmostEqual(g["length"]["mean"], lmean, places=6)
                if g["type"] in ("integer", "number"):
                    nums = [float(v) for v in present]
                    self.assertEqual(float(g["min"]), min(nums))
                    self.assertEqual(float(g["max"]), max(nums))
                    self.assertTrue(math.isclose(g["mean"], statistics.fmean(nums), rel_tol=1e-9, abs_tol=1e-9))
                    self.assertTrue(math.isclose(g["stddev"], statistics.stdev(nums), rel_tol=1e-9))
                elif g["type"] in ("date", "datetime", "string"):
                    b = sorted(v.encode() for v in present)
                    self.assertEqual(g["min"].encode(), b[0])
                    self.assertEqual(g["max"].encode(), b[-1])
                    self.assertIsNone(g["mean"])

    def test_histogram_and_quantiles_match_exact_values(self):
        header, rows = make_table(seed=11, rows=5000)
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows([header] + rows)
        rep = self.profile(buf.getvalue())
        got = {c["name"]: c for c in rep["columns"]}
        epoch = datetime.date(1970, 1, 1)

        def as_unit(name, v):
            if name == "day":
                return float((datetime.date.fromisoformat(v) - epoch).days)
            if name == "stamp":
                t = datetime.datetime.strptime(v, "%Y-%m-%dT%H:%M:%SZ")
                return (t - datetime.datetime(1970, 1, 1)).total_seconds()
            return float(v)

        units = {"id": "number", "score": "number", "amount": "number", "day": "day",
                 "stamp": "second"}
        for j, name in enumerate(header):
            g = got[name]
            with self.subTest(column=name):
                if name not in units:
                    self.assertNotIn("histogram", g)
                    self.assertNotIn("quantiles", g)
                    continue
                vals = sorted(as_unit(name, r[j]) for r in rows if r[j] != "")
                h = g["histogram"]
                self.assertEqual(h["unit"], units[name])
                counts = h["counts"]
                self.assertEqual(sum(counts), len(vals))
                width = (h["hi"] - h["lo"]) / len(counts)
                self.assertLessEqual(len(counts), 64)
                self.assertLessEqual(h["lo"], vals[0])
                self.assertGreaterEqual(h["hi"], vals[-1])
                # exact bin counts: recount the values into the reported bins
                exact = [0] * len(counts)
                for v in vals:
                    exact[min(int((v - h["lo"]) // width), len(counts) - 1)] += 1
                self.assertEqual(counts, exact)
                qs = statistics.quantiles(vals, n=20, method="inclusive")
                oracle = {"p05": qs[0], "p25": qs[4], "p50": qs[9], "p75": qs[14],
                          "p95": qs[18]}
                for k, want in oracle.items():
                    self.assertLessEqual(abs(g["quantiles"][k] - want), width * 1.0001,
                                         f"{name} {k}: {g['quantiles'][k]} vs {want}, bin {width}")

    def test_structural_findings_located(self):
        text = ("id,,name,id\n"          # row 1: blank-label field 2, duplicate-label field 4
                "1,a,b,c\n"              # row 2
                "\n"                     # row 3: blank-row
                "2,a\n"                  # row 4: missing-cell fields 3 and 4
                "3,a,b,c,d,e\n"          # row 5: extra-cell fields 5 and 6
                "1,a,b,c\n")             # row 6: duplicate of row 2
        rep = self.profile(text)
        self.assertEqual(rep["verdict"], "failed")
        found = sorted((g["code"], s["row"], s["field"]) for g in rep["findings"]["groups"]
                       for s in g["samples"])
        for want in [("blank-label", 1, 2), ("duplicate-label", 1, 4), ("blank-row", 3, None),
                     ("missing-cell", 4, 3), ("missing-cell", 4, 4),
                     ("extra-cell", 5, 5), ("extra-cell", 5, 6)]:
            self.assertIn(want, found)
        self.assertEqual(rep["table"]["blank_rows"], 1)
        self.assertEqual(rep["table"]["duplicate_rows"], 1)
        self.assertEqual(rep["table"]["rows_too_few_cells"], 1)
        self.assertEqual(rep["table"]["rows_too_many_cells"], 1)

    def test_encoding_error_located(self):
        path = os.path.join(self.tmp, "bad.csv")
        with open(path, "wb") as f:
            f.write(b"a,b\n1,ok\n2,caf\xe9\n")
        p = self.run_fp("profile", path, "--report", "-")
        self.assertEqual(p.returncode, 1, p.stderr.decode())
        rep = json.loads(p.stdout)
        enc = [g for g in rep["findings"]["groups"] if g["code"] == "encoding-error"]
        self.assertEqual(enc[0]["count"], 1)
        self.assertEqual(enc[0]["samples"][0]["row"], 3)

    def test_sample_cap_keeps_exact_totals(self):
        text = "a,b\n" + "".join(f"{i}\n" for i in range(500))
        rep = self.profile(text, "--sample-cap", "7")
        g = [g for g in rep["findings"]["groups"] if g["code"] == "missing-cell"][0]
        self.assertEqual(g["count"], 500)
        self.assertEqual(len(g["samples"]), 7)
        self.assertTrue(g["samples_capped"])

    def test_dialects_sniffed(self):
        for delim in (";", "\t", "|"):
            rep = self.profile(f"a{delim}b{delim}c\n1{delim}2{delim}x\n3{delim}4{delim}y\n")
            with self.subTest(delimiter=delim):
                self.assertEqual(rep["dialect"]["delimiter"], delim)
                self.assertEqual(rep["table"]["columns"], 3)

    def test_empty_file_is_an_error(self):
        rep = self.profile("")
        self.assertEqual(rep["verdict"], "failed")
        self.assertIn("source-error", rep["findings"]["by_code"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
