"""End to end: `run s3_data_quality_job` on a local bucket tree with a real SQLite file."""
import json
import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from fp_itest import (BIN, CONFORMANCE, DEMO_KEY, PKG, FpTestCase, gz, s3_event,  # noqa: E402
                      zstd)

CLEAN = "id,name,amount\n1,Ann,10.5\n2,Bob,20\n3,\"Cy, Jr.\",30\n"
BROKEN = "id,name,amount\n1,Ann,10.5\n2,Bob\n3,Cy,30,extra\n\n"


class JobTest(FpTestCase):
    def test_demo_data_processes_and_records_run(self):
        env = self.env(LOCAL_S3_ROOT=os.path.join(os.path.abspath(PKG), "data"))
        p = self.job(DEMO_KEY, env=env)
        rep = self.report_of(p)
        self.assertEqual(rep["report_version"], 1)
        self.assertEqual(rep["source"]["key"], DEMO_KEY)
        self.assertEqual(rep["table"]["columns"], 22)
        self.assertGreater(rep["table"]["rows"], 1000)
        self.assertEqual(p.returncode, 1 if rep["verdict"] == "failed" else 0)
        # the bundled sample carries realistic defects, so the demo shows findings
        self.assertGreater(rep["findings"]["errors"], 0)
        self.assertIn("verdict:", p.stderr.decode())
        runs = self.db_rows("SELECT key, verdict, rows FROM fp_runs")
        self.assertEqual(runs, [(DEMO_KEY, rep["verdict"], rep["table"]["rows"])])
        ncols = self.db_rows("SELECT count(*) FROM fp_column_profiles")[0][0]
        self.assertEqual(ncols, 22)

    def test_contract_found_by_key_validates_and_is_stored(self):
        env = self.env(LOCAL_S3_ROOT=os.path.join(os.path.abspath(PKG), "data"),
                       FP_CONTRACTS_DIR=os.path.join(os.path.abspath(PKG), "contracts"))
        p = self.job(DEMO_KEY, env=env)
        rep = self.report_of(p)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(rep["contract"]["name"], "officer_detail")
        by = {(g["code"], g["field_name"]) for g in rep["findings"]["groups"]}
        # the sample's injected defects, as data/README.md lists them
        self.assertIn(("type-error", "hire_date"), by)
        self.assertIn(("constraint-error", "overtime_pay"), by)
        self.assertIn(("unique-error", "officer_id"), by)
        stored = self.db_rows("SELECT contract FROM fp_runs")
        self.assertEqual(stored, [("officer_detail",)])
        codes = {r[0] for r in self.db_rows("SELECT code FROM fp_findings")}
        self.assertTrue({"type-error", "unique-error", "primary-key"} <= codes, codes)

    def test_contract_flag_and_broken_contract(self):
        self.put("in/clean.csv", CLEAN)
        good = os.path.join(self.tmp, "c.yaml")
        with open(good, "w") as f:
            f.write("schema:\n  fields:\n    - {name: id, type: integer, constraints: {maximum: 2}}\n"
                    "    - {name: name}\n    - {name: amount, type: number}\n")
        rep = self.report_of(self.job("in/clean.csv", "--contract", good))
        self.assertEqual(rep["verdict"], "failed")
        g = [g for g in rep["findings"]["groups"] if g["code"] == "constraint-error"][0]
        self.assertEqual((g["count"], g["samples"][0]["row"]), (1, 4))
        bad = os.path.join(self.tmp, "bad.yaml")
        with open(bad, "w") as f:
            f.write("schema:\n  fields:\n    - {name: id, type: integr}\n")
        p = self.job("in/clean.csv", "--contract", bad)
        self.assertEqual(p.returncode, 2)
        self.assertIn("line 3", p.stderr.decode())
        self.assertEqual(self.db_rows("SELECT count(*) FROM fp_runs")[0][0], 1)

    def test_clean_file_passes_exit_0(self):
        self.put("in/clean.csv", CLEAN)
        p = self.job("in/clean.csv")
        rep = self.report_of(p)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        self.assertEqual(rep["verdict"], "passed")
        self.assertEqual(rep["table"]["rows"], 3)
        self.assertEqual([c["name"] for c in rep["columns"]], ["id", "name", "amount"])
        self.assertEqual([c["type"] for c in rep["columns"]], ["integer", "string", "number"])

    def test_broken_file_fails_exit_1_with_located_findings(self):
        self.put("in/broken.csv", BROKEN)
        p = self.job("in/broken.csv")
        rep = self.report_of(p)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(rep["verdict"], "failed")
        codes = {g["code"]: g for g in rep["findings"]["groups"]}
        self.assertEqual(codes["missing-cell"]["samples"][0]["row"], 3)
        self.assertEqual(codes["missing-cell"]["samples"][0]["field"], 3)
        self.assertEqual(codes["extra-cell"]["samples"][0]["row"], 4)
        self.assertEqual(codes["extra-cell"]["samples"][0]["field"], 4)
        self.assertEqual(codes["blank-row"]["samples"][0]["row"], 5)
        stored = self.db_rows("SELECT code, count FROM fp_findings ORDER BY code")
        self.assertIn(("extra-cell", 1), stored)
        self.assertIn(("missing-cell", 1), stored)

    def test_rerun_same_version_replaces_run(self):
        self.put("in/clean.csv", CLEAN)
        for _ in range(2):
            self.assertEqual(self.job("in/clean.csv").returncode, 0)
        self.assertEqual(self.db_rows("SELECT count(*) FROM fp_runs")[0][0], 1)
        self.assertEqual(self.db_rows("SELECT count(*) FROM fp_column_profiles")[0][0], 3)
        ev = s3_event("in/clean.csv", versionId="v2")
        p = self.run_fp("run", "s3_data_quality_job", "--event-json", ev)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        self.assertEqual(self.db_rows("SELECT count(*) FROM fp_runs")[0][0], 2)

    def test_dry_run_writes_nothing(self):
        self.put("in/clean.csv", CLEAN)
        p = self.job("in/clean.csv", "--dry-run")
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        self.assertEqual(json.loads(p.stdout)["verdict"], "passed")
        self.assertFalse(os.path.exists(self.db), "dry run created the database")
        self.assertIn("dry run", p.stderr.decode())

    def test_report_file_written(self):
        self.put("in/clean.csv", CLEAN)
        out = os.path.join(self.tmp, "report.json")
        p = self.run_fp("run", "s3_data_quality_job", "--event-json", s3_event("in/clean.csv"),
                        "--report", out)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        with open(out) as f:
            self.assertEqual(json.load(f)["source"]["key"], "in/clean.csv")

    def test_compressed_objects_same_results(self):
        self.put("in/a.csv", BROKEN)
        self.put("in/a.csv.gz", gz(BROKEN))
        self.put("in/a.csv.zst", zstd(BROKEN))
        self.put("in/noext", gz(BROKEN))  # detected by magic bytes
        reps = [self.report_of(self.job(k, "--dry-run")) for k in
                ("in/a.csv", "in/a.csv.gz", "in/a.csv.zst", "in/noext")]
        self.assertEqual([r["source"]["compression"] for r in reps], ["none", "gzip", "zstd", "gzip"])
        for r in reps[1:]:
            self.assertEqual(r["table"], reps[0]["table"])
            self.assertEqual(r["findings"]["by_code"], reps[0]["findings"]["by_code"])

    def test_bucket_subdirectory_preferred(self):
        self.put("k.csv", "a\n1\n")
        self.put("k.csv", "a,b\n1,2\n", bucket="demo-bucket")
        rep = self.report_of(self.job("k.csv", "--dry-run"))
        self.assertEqual(rep["table"]["columns"], 2)

    def test_form_encoded_key(self):
        self.put("from client/x+y é.csv", CLEAN)
        p = self.job("from+client/x%2By+%C3%A9.csv", "--dry-run")
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        self.assertEqual(json.loads(p.stdout)["source"]["key"], "from client/x+y é.csv")

    def test_events_file_jsonl_many_objects(self):
        self.put("a.csv", CLEAN)
        self.put("b.csv", BROKEN)
        ev = os.path.join(self.tmp, "events.jsonl")
        with open(ev, "w") as f:
            f.write(s3_event("a.csv") + "\n\n" + s3_event("b.csv") + "\n")
            f.write(json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent"}) + "\n")
        p = self.run_fp("run", "s3_data_quality_job", "--events-file", ev, "--report", "-")
        self.assertEqual(p.returncode, 1, p.stderr.decode())
        reps = json.loads(p.stdout)
        self.assertEqual([r["source"]["key"] for r in reps], ["a.csv", "b.csv"])
        self.assertEqual(self.db_rows("SELECT count(*) FROM fp_runs")[0][0], 2)

    def test_sns_envelope_from_stdin(self):
        self.put("a.csv", CLEAN)
        env = json.dumps({"Type": "Notification", "MessageId": "m1", "Message": s3_event("a.csv")})
        p = self.run_fp("run", "s3_data_quality_job", "--events-file", "-", input=env.encode())
        self.assertEqual(p.returncode, 0, p.stderr.decode())

    def test_test_event_is_skipped(self):
        ev = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"})
        p = self.run_fp("run", "s3_data_quality_job", "--event-json", ev)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        self.assertEqual(self.db_rows("SELECT count(*) FROM fp_runs") or [(0,)], [(0,)])

    def test_real_sns_delivered_event_if_available(self):
        path = os.path.join(CONFORMANCE, "sns_real", "github_s3_put_over_sns_euwest1_sigv1.json")
        if not os.path.exists(path):
            self.skipTest("../shared/conformance absent")
        with open(path) as f:
            env = json.load(f)
        inner = json.loads(env["Message"])
        rec = inner["Records"][0]["s3"]
        self.put(rec["object"]["key"].replace("+", " "), CLEAN, bucket=rec["bucket"]["name"])
        p = self.run_fp("run", "s3_data_quality_job", "--events-file", path, "--dry-run")
        self.assertEqual(p.returncode, 0, p.stderr.decode())


class BadInputTest(FpTestCase):
    def assert_exit(self, p, code, *needles):
        err = p.stderr.decode()
        self.assertEqual(p.returncode, code, err)
        for n in needles:
            self.assertIn(n, err)

    def test_missing_object_exit_2_names_path(self):
        self.assert_exit(self.job("nope/missing.csv"), 2, "missing.csv")

    def test_path_traversal_refused(self):
        outside = os.path.join(self.tmp, "secret.csv")
        with open(outside, "w") as f:
            f.write(CLEAN)
        self.assert_exit(self.job("../secret.csv"), 2, "secret.csv")
        os.symlink(outside, os.path.join(self.root, "link.csv"))
        self.assert_exit(self.job("link.csv"), 2)
        self.assertEqual(self.db_rows("SELECT count(*) FROM fp_runs") or [(0,)], [(0,)])

    def test_malformed_event_exit_2(self):
        p = self.run_fp("run", "s3_data_quality_job", "--event-json", "{not json")
        self.assert_exit(p, 2, "JSON")
        p = self.run_fp("run", "s3_data_quality_job", "--event-json", '{"Records":[{"s3":{}}]}')
        self.assert_exit(p, 2, "$.Records[0].s3")
        p = self.run_fp("run", "s3_data_quality_job", "--event-json",
                        '{"Records":[{"eventVersion":"1.0","s3":{"bucket":{"name":"b"},"object":{"key":"k"}}}]}')
        self.assert_exit(p, 2, "eventVersion")

    def test_usage_errors_exit_2(self):
        self.assert_exit(self.run_fp("run"), 2)
        self.assert_exit(self.run_fp("run", "other_job", "--event-json", "{}"), 2, "unknown job")
        self.assert_exit(self.run_fp("run", "s3_data_quality_job"), 2, "exactly one")
        self.assert_exit(self.run_fp("run", "s3_data_quality_job", "--bogus"), 2, "unknown option")
        self.assert_exit(self.run_fp("frobnicate"), 2, "unknown command")

    def test_no_local_root_and_no_credentials_fails_cleanly(self):
        # without LOCAL_S3_ROOT the job reads S3; with no credential source anywhere it
        # must say so promptly instead of hanging on IMDS or a dead endpoint
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()  # nothing listens there now
        env = self.env(HOME=self.tmp, AWS_EC2_METADATA_DISABLED="true",
                       AWS_ENDPOINT_URL_S3="http://127.0.0.1:%d" % port,
                       AWS_CONFIG_FILE=os.path.join(self.tmp, "none-config"),
                       AWS_SHARED_CREDENTIALS_FILE=os.path.join(self.tmp, "none-credentials"),
                       FP_S3_MAX_ATTEMPTS="2", FP_S3_RETRY_BASE_MS="10")
        del env["LOCAL_S3_ROOT"]
        t0 = time.monotonic()
        p = self.run_fp("run", "s3_data_quality_job", "--event-json", s3_event("a.csv"), env=env)
        self.assertLess(time.monotonic() - t0, 30)
        err = p.stderr.decode()
        self.assertIn(p.returncode, (2, 3), err)
        self.assertIn("credentials", err.lower())
        self.assertNotIn("not implemented", err)

    def test_unwritable_database_is_transient_exit_3(self):
        self.put("a.csv", CLEAN)
        env = self.env(DATABASE_URL="sqlite:////nonexistent-dir/x/results.db")
        self.assert_exit(self.job("a.csv", env=env), 3, "nonexistent-dir")

    def test_help_texts(self):
        for args in (["--help"], ["run", "--help"], ["profile", "--help"], ["rows", "--help"]):
            p = self.run_fp(*args)
            self.assertEqual(p.returncode, 0)
            self.assertIn("Usage:", p.stdout.decode())
            self.assertIn("xample", p.stdout.decode())

    def test_env_file_is_read(self):
        self.put("a.csv", CLEAN)
        env = self.env()
        del env["DATABASE_URL"]
        with open(os.path.join(self.tmp, ".env"), "w") as f:
            f.write("# results go here\nDATABASE_URL=sqlite:///from-dotenv.db\n")
        self.assertEqual(self.job("a.csv", env=env).returncode, 0)
        self.assertTrue(os.path.exists(os.path.join(self.tmp, "from-dotenv.db")))


if __name__ == "__main__":
    if not os.path.exists(BIN):
        sys.exit(f"binary not found: {BIN}")
    unittest.main(verbosity=2)
