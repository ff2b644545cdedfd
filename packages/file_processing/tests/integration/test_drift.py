"""Drift between deliveries, run history and the `runs` command, end to end.

Each test writes a pair (or a series) of monthly deliveries of a generated Officer_Detail
file into a local bucket, runs the real job on each in delivery order against the results
DB (SQLite, or PostgreSQL in the pg/ variant) and reads what the later run found. The
second delivery comes from a different generator seed, so unchanged columns still differ
row by row like a real month does; the change a test is about is applied on top of it.
"""
import csv
import io
import json
import os
import random
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from fp_itest import FpTestCase  # noqa: E402

GEN = os.environ.get("FP_GEN", "build/fp-gen-officers")
DIR = "from_client/nm_albuquerque/"
DATASET = DIR + "Officer_Detail.csv"  # the keys' dataset: the key without its date


def generate(rows, seed, defects=0.0):
    args = [GEN, "--rows", str(rows), "--seed", str(seed)]
    args += ["--defects", str(defects)] if defects else ["--clean"]
    out = subprocess.run(args, capture_output=True, check=True, timeout=60).stdout
    table = list(csv.reader(io.StringIO(out.decode())))
    return table[0], table[1:]


def render(header, rows):
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([header] + rows)
    return buf.getvalue()


def event(key, when):
    return json.dumps({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
        "eventTime": when,
        "s3": {"bucket": {"name": "client-bucket"}, "object": {"key": key}}}]})


def drift_groups(report):
    return [g for g in report["findings"]["groups"] if g["code"].endswith("-drift")]


def notes(groups, code):
    return [s["note"] for g in groups if g["code"] == code for s in g["samples"]]


class DriftCase(FpTestCase):
    def deliver(self, month, header, rows, env=None):
        """Puts Officer_Detail_<month>.csv and runs the job on it; returns the report."""
        key = f"{DIR}Officer_Detail_{month}.csv"
        self.put(key, render(header, rows))
        p = self.run_fp("run", "s3_data_quality_job", "--event-json",
                        event(key, f"{month}-01T06:00:00.000Z"), "--report", "-", env=env)
        self.assertIn(p.returncode, (0, 1), p.stderr.decode())
        return json.loads(p.stdout)

    def run_id(self, report):
        rows = self.db_rows("SELECT id FROM fp_runs WHERE key = ?", report["source"]["key"])
        self.assertEqual(len(rows), 1)
        return rows[0][0]

    def pair(self, change, rows=2000):
        """Baseline delivery (seed 1), then seed 2 changed by change(header, rows)."""
        h1, r1 = generate(rows, 1)
        first = self.deliver("2026-10", h1, r1)
        self.assertIsNone(first["drift"])
        self.assertEqual(drift_groups(first), [])
        h2, r2 = generate(rows, 2)
        h2, r2 = change(h2, r2)
        second = self.deliver("2026-11", h2, r2)
        self.assertEqual(second["drift"]["baseline_run_id"], self.run_id(first))
        self.assertEqual(second["drift"]["baseline_key"], first["source"]["key"])
        self.assertEqual(second["drift"]["baseline_finished_at"],
                         first["timings"]["finished_at"])
        return second, drift_groups(second)

    def col(self, header, name):
        return header.index(name)


class DriftKindsTest(DriftCase):
    def test_another_month_without_change_has_no_drift(self):
        report, groups = self.pair(lambda h, r: (h, r))
        self.assertEqual(groups, [])
        self.assertEqual(report["verdict"], "passed")

    def test_schema_drift(self):
        def change(h, rows):
            h = list(h)
            unit, phone, birth = h.index("unit"), h.index("phone"), h.index("birth_year")
            h[unit] = "command"                              # renamed, same values
            for i, r in enumerate(rows):
                if i % 10 == 0:
                    r[birth] = "unknown"                     # integer -> string
                r.append("Night" if i % 3 else "Day")        # added at the end
            h.append("shift")
            fn, ln = h.index("first_name"), h.index("last_name")
            order = list(range(len(h)))
            order[fn], order[ln] = ln, fn                    # two columns swap places
            order.remove(phone)                              # removed
            return [h[i] for i in order], [[r[i] for i in order] for r in rows]

        report, groups = self.pair(change)
        got = notes(groups, "schema-drift")
        self.assertTrue(any("'unit' renamed to 'command'" in n for n in got), got)
        self.assertTrue(any("column 'phone' removed" in n for n in got), got)
        self.assertTrue(any("column 'shift' added" in n for n in got), got)
        self.assertTrue(any("type of 'birth_year' changed: integer -> string" in n for n in got),
                        got)
        reorder = [n for n in got if "changed position" in n]
        self.assertEqual(len(reorder), 1, got)
        self.assertIn("'last_name' 4 -> 3", reorder[0])
        self.assertIn("'first_name' 3 -> 4", reorder[0])
        by_field = {g["field_name"]: g for g in groups if g["code"] == "schema-drift"}
        self.assertEqual(by_field["command"]["samples"][0]["cell"], "unit -> command")
        self.assertEqual(by_field["birth_year"]["samples"][0]["cell"], "integer -> string")
        # the renamed column is not also reported as removed and added
        self.assertFalse(any("'unit' removed" in n or "'command' added" in n for n in got))
        self.assertEqual({g["severity"] for g in groups}, {"warning"})
        self.assertEqual(report["verdict"], "warned")

    def test_volume_drift(self):
        report, groups = self.pair(lambda h, r: (h, r[:1000]))
        vol = [g for g in groups if g["code"] == "volume-drift"]
        self.assertEqual(len(vol), 1, groups)
        self.assertEqual(vol[0]["samples"][0]["cell"], "2000 -> 1000")
        self.assertIn("from 2000 to 1000", vol[0]["samples"][0]["note"])
        self.assertEqual(notes(groups, "schema-drift"), [])
        self.assertEqual(notes(groups, "missing-drift"), [])

    def test_small_volume_change_is_no_drift(self):
        report, groups = self.pair(lambda h, r: (h, r[:1800]))  # -10%, threshold 20%
        self.assertEqual(notes(groups, "volume-drift"), [])

    def test_missing_drift(self):
        def change(h, rows):
            email = h.index("email")
            for i, r in enumerate(rows):
                if i % 10 < 3:
                    r[email] = ""
            return h, rows

        report, groups = self.pair(change)
        miss = [g for g in groups if g["code"] == "missing-drift"]
        self.assertEqual([g["field_name"] for g in miss], ["email"])
        self.assertEqual(miss[0]["field"], 19)
        self.assertEqual(miss[0]["samples"][0]["cell"], "0.0% -> 30.0%")
        self.assertIn("0 -> 600", miss[0]["samples"][0]["note"])

    def test_distribution_drift(self):
        def change(h, rows):
            sal, hired = h.index("base_salary"), h.index("hire_date")
            for r in rows:
                r[sal] = f"{float(r[sal]) * 1.4:.2f}"
                y, m, d = r[hired].split("-")
                r[hired] = f"{int(y) + 6}-{m}-{'28' if m == '02' and d == '29' else d}"
            return h, rows

        report, groups = self.pair(change)
        dist = {g["field_name"]: g for g in groups if g["code"] == "distribution-drift"}
        self.assertIn("base_salary", dist, groups)
        self.assertIn("hire_date", dist, groups)
        self.assertNotIn("overtime_pay", dist)
        self.assertNotIn("officer_id", dist)  # an identifier's range is not a distribution
        sal = dist["base_salary"]["samples"][0]["note"]
        self.assertIn("KS distance", sal)
        q_new = report["columns"][12]["quantiles"]["p50"]
        self.assertEqual(report["columns"][12]["name"], "base_salary")
        self.assertIn(f"-> {q_new:.6g}", sal)
        # dates are compared as days and shown as dates
        self.assertRegex(dist["hire_date"]["samples"][0]["note"],
                         r"median \d{4}-\d\d-\d\d -> \d{4}-\d\d-\d\d")

    def test_category_drift(self):
        def change(h, rows):
            sex = h.index("sex")
            for i, r in enumerate(rows):
                if i % 100 < 12:
                    r[sex] = "U"
            return h, rows

        report, groups = self.pair(change)
        cat = [g for g in groups if g["code"] == "category-drift"]
        self.assertEqual([g["field_name"] for g in cat], ["sex"])
        self.assertIn("'U' (240)", cat[0]["samples"][0]["note"])
        self.assertEqual(cat[0]["samples"][0]["cell"], "3 -> 4 values")


class DriftContractTest(DriftCase):
    CONTRACT = """
name: officer_roster
match: ["from_client/*/Officer_Detail*.csv"]
schema:
  fieldsMatch: subset
  fields:
    - {name: officer_id, type: integer}
drift:
  volume: {severity: error, maxChange: 0.1}
  category: ignore
"""

    def test_contract_sets_severity_threshold_and_dataset(self):
        cdir = os.path.join(self.tmp, "contracts")
        os.makedirs(cdir)
        with open(os.path.join(cdir, "roster.yaml"), "w") as f:
            f.write(self.CONTRACT)
        env = self.env(FP_CONTRACTS_DIR=cdir)
        h1, r1 = generate(2000, 1)
        first = self.deliver("2026-10", h1, r1, env=env)
        self.assertEqual(first["contract"]["name"], "officer_roster")
        h2, r2 = generate(1700, 2)  # -15%: above this contract's 10%
        sex = h2.index("sex")
        for i, r in enumerate(r2):
            if i % 10 == 0:
                r[sex] = "U"  # category drift, which this contract ignores
        second = self.deliver("2026-11", h2, r2, env=env)
        groups = drift_groups(second)
        vol = [g for g in groups if g["code"] == "volume-drift"]
        self.assertEqual(len(vol), 1, groups)
        self.assertEqual(vol[0]["severity"], "error")
        self.assertEqual(second["verdict"], "failed")
        self.assertEqual(notes(groups, "category-drift"), [])
        self.assertEqual(self.db_rows("SELECT DISTINCT dataset FROM fp_runs"),
                         [("officer_roster",)])
        # drift findings are stored like any other
        stored = self.db_rows("SELECT severity, count FROM fp_findings WHERE code = ?",
                              "volume-drift")
        self.assertEqual(stored, [("error", 1)])


class HistoryTest(DriftCase):
    def runs(self, *args):
        p = self.run_fp("runs", *args)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def test_bad_delivery_is_not_the_reference_and_pinning(self):
        h, r = generate(1500, 1)
        a = self.deliver("2026-09", h, r)
        self.assertEqual(a["verdict"], "passed")
        h, r = generate(1500, 2)
        email = h.index("email")
        for i, row in enumerate(r):
            if i % 2:
                row[email] = ""
        b = self.deliver("2026-10", h, r)  # half the emails gone: drift against a
        self.assertEqual(b["drift"]["baseline_run_id"], self.run_id(a))
        self.assertNotEqual(b["verdict"], "passed")
        h, r = generate(1500, 3)
        c = self.deliver("2026-11", h, r)
        # b did not pass: c is compared with a, and sees no drift
        self.assertEqual(c["drift"]["baseline_run_id"], self.run_id(a))
        self.assertEqual(drift_groups(c), [])

        rc, out, err = self.runs("pin", str(self.run_id(b)))
        self.assertEqual(rc, 0, err)
        self.assertIn(f"dataset '{DATASET}'", out)
        h, r = generate(1500, 4)
        d = self.deliver("2026-12", h, r)
        self.assertEqual(d["drift"]["baseline_run_id"], self.run_id(b))
        self.assertEqual([g["field_name"] for g in drift_groups(d)], ["email"])

        # one pinned run per dataset: pinning a replaces b
        rc, _, err = self.runs("pin", str(self.run_id(a)))
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.db_rows("SELECT id FROM fp_runs WHERE pinned = 1"),
                         [(self.run_id(a),)])
        rc, _, err = self.runs("unpin", str(self.run_id(a)))
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.db_rows("SELECT id FROM fp_runs WHERE pinned = 1"), [])
        h, r = generate(1500, 5)
        e = self.deliver("2027-01", h, r)  # latest passed earlier delivery: c (d warned)
        self.assertEqual(d["verdict"], "warned")
        self.assertEqual(e["drift"]["baseline_run_id"], self.run_id(c))

    def test_runs_cli(self):
        h, r = generate(300, 1)
        first = self.deliver("2026-10", h, r)
        h, r = generate(300, 2)
        second = self.deliver("2026-11", h, r[:150])
        self.put("elsewhere/other.csv", "a,b\n1,2\n")
        p = self.run_fp("run", "s3_data_quality_job", "--event-json",
                        event("elsewhere/other.csv", "2026-11-02T00:00:00.000Z"))
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        id1, id2 = self.run_id(first), self.run_id(second)

        rc, out, err = self.runs()  # plain `runs` is `runs list`
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertRegex(lines[0], r"^ID\s+VERDICT\s+PIN\s+ROWS\s+ERRORS\s+WARNS\s+FINISHED\s+"
                                   r"DATASET\s+OBJECT$")
        self.assertEqual(len(lines), 4)
        # aligned: every row's OBJECT column starts where the header's does
        at = lines[0].index("OBJECT")
        self.assertTrue(all(line[at:].startswith("s3://") for line in lines[1:]), out)

        rc, out, err = self.runs("list", "--dataset", DATASET, "--json")
        self.assertEqual(rc, 0, err)
        listed = json.loads(out)
        self.assertEqual([x["id"] for x in listed], [id2, id1])
        self.assertEqual(listed[0]["dataset"], DATASET)
        self.assertEqual(listed[0]["key"], DIR + "Officer_Detail_2026-11.csv")
        self.assertEqual(listed[0]["event_time"], "2026-11-01T06:00:00.000Z")
        self.assertEqual(listed[0]["rows"], 150)
        self.assertFalse(listed[0]["pinned"])
        rc, out, _ = self.runs("list", "--key", "elsewhere/", "--json")
        self.assertEqual([x["dataset"] for x in json.loads(out)], ["elsewhere/other.csv"])
        rc, out, _ = self.runs("list", "--limit", "1", "--json")
        self.assertEqual(len(json.loads(out)), 1)
        rc, out, _ = self.runs("list", "--since", "2999-01-01", "--json")
        self.assertEqual(json.loads(out), [])
        rc, out, _ = self.runs("list", "--since", "2000-01-01", "--json")
        self.assertEqual(len(json.loads(out)), 3)

        rc, out, err = self.runs("show", str(id2))
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, rf"verdict\s+warned")
        self.assertRegex(out, rf"dataset\s+{DATASET}")
        self.assertRegex(out, r"rows\s+150 x 22 columns")
        self.assertRegex(out, rf"baseline\s+run {id1} \({DIR}Officer_Detail_2026-10.csv")
        self.assertRegex(out, r"warning\s+volume-drift\s+1")
        self.assertIn("row count changed from 300 to 150", out)
        rc, out, _ = self.runs("show", str(id1))
        self.assertRegex(out, r"baseline\s+none")
        rc, out, _ = self.runs("show", str(id2), "--json")
        self.assertEqual(json.loads(out), second)

        rc, out, _ = self.runs("pin", str(id1))
        self.assertEqual(rc, 0)
        rc, out, _ = self.runs("list", "--dataset", DATASET)
        pinned = [line for line in out.splitlines()[1:] if line.split()[0] == str(id1)]
        self.assertRegex(pinned[0], r"^\d+\s+passed\s+\*\s")
        rc, out, _ = self.runs("show", str(id1))
        self.assertIn("pinned baseline", out)

        for args, what in [(("pin", "999999"), "no run with id 999999"),
                           (("show", "abc"), "positive number"),
                           (("pin",), "needs a run ID"),
                           (("frobnicate",), "unknown runs command"),
                           (("list", "--limit", "x"), "--limit"),
                           (("show", "1", "--dataset", "x"), "apply to runs list")]:
            rc, out, err = self.runs(*args)
            self.assertEqual(rc, 2, (args, out, err))
            self.assertIn(what, err)
        rc, out, _ = self.runs("--help")
        self.assertEqual(rc, 0)
        self.assertIn("runs pin 3", out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
