"""Shared helpers for the integration tests: locate the binary, run it, make temp trees."""
import gzip
import json
import os
import shutil
import subprocess
import sqlite3
import tempfile
import unittest

BIN = os.environ.get("FP_BIN", "build/file-processing")
PKG = os.environ.get("FP_PKG_DIR", "packages/file_processing")
CONFORMANCE = os.environ.get("FP_CONFORMANCE_DIR", "../shared/conformance")
DEMO_KEY = "from_client/nm_albuquerque/Officer_Detail.csv"


def s3_event(key, bucket="demo-bucket", **obj):
    o = {"key": key}
    o.update(obj)
    return json.dumps({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3",
                                    "eventName": "ObjectCreated:Put",
                                    "s3": {"bucket": {"name": bucket}, "object": o}}]})


class FpTestCase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="fp-itest-")
        self.root = os.path.join(self.tmp, "bucket")
        os.makedirs(self.root)
        self.db = os.path.join(self.tmp, "results.db")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def env(self, **extra):
        e = {k: v for k, v in os.environ.items()
             if not k.startswith(("FP_", "AWS_")) and k not in ("LOCAL_S3_ROOT", "DATABASE_URL")}
        e["LOCAL_S3_ROOT"] = self.root
        e["DATABASE_URL"] = "sqlite:///" + self.db
        e.update(extra)
        return e

    def run_fp(self, *args, env=None, input=None, cwd=None):
        return subprocess.run([BIN, *args], env=env or self.env(), input=input,
                              capture_output=True, cwd=cwd or self.tmp, timeout=300)

    def put(self, key, data, bucket=None):
        path = os.path.join(self.root, bucket, key) if bucket else os.path.join(self.root, key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())
        return path

    def db_rows(self, sql, *params):
        if not os.path.exists(self.db):
            return []
        con = sqlite3.connect(self.db)
        try:
            return con.execute(sql, params).fetchall()
        finally:
            con.close()

    def job(self, key, *extra, **kw):
        return self.run_fp("run", "s3_data_quality_job", "--", "--event-json", s3_event(key),
                           "--report", "-", *extra, **kw)

    def report_of(self, proc):
        self.assertIn(proc.returncode, (0, 1), proc.stderr.decode())
        return json.loads(proc.stdout)


def gz(data):
    return gzip.compress(data.encode() if isinstance(data, str) else data)


def zstd(data):
    raw = data.encode() if isinstance(data, str) else data
    return subprocess.run(["zstd", "-q", "-c"], input=raw, capture_output=True, check=True).stdout
