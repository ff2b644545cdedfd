"""Shared helpers for the integration tests: locate the binary, run it, make temp trees.

Backend switch: with FP_TEST_PG_URL set (tests/support/pg_harness.sh), DATABASE_URL points
at that PostgreSQL database instead of a temp SQLite file, every test starts from an
emptied database, and db_rows reads through `psql` (Debian's postgresql-client)."""
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
PG_URL = os.environ.get("FP_TEST_PG_URL") or None
PG_TABLES = "fp_findings, fp_column_profiles, fp_runs, fp_jobs, fp_schema_migrations"


def psql(url, sql, check=True):
    """Runs sql through psql; returns the completed process (stdout text, unaligned)."""
    return subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url],
                          input="SET client_min_messages = warning;\n" + sql + ";\n",
                          capture_output=True, text=True, timeout=60, check=check)


def pg_literal(v):
    """A test value as a PostgreSQL literal (psql has no bound parameters for -c/stdin)."""
    if v is None:
        return "NULL"
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return repr(v)
    return "'" + str(v).replace("'", "''") + "'"


def pg_rows(url, sql, params=()):
    """Rows of sql as tuples with JSON types (int, float, str, None); [] when a table is
    missing (like a SQLite file that does not exist yet). '?' placeholders take params."""
    parts = sql.split("?")
    assert len(parts) == len(params) + 1, f"{sql}: {len(params)} parameter(s)"
    sql = parts[0] + "".join(pg_literal(p) + rest for p, rest in zip(params, parts[1:]))
    r = psql(url, f"SELECT COALESCE(json_agg(t), '[]') FROM ({sql}) AS t", check=False)
    if r.returncode != 0:
        if "does not exist" in r.stderr:
            return []
        raise AssertionError(f"psql: {sql}: {r.stderr}")
    return [tuple(o.values()) for o in json.loads(r.stdout)]


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
        self.db_url = PG_URL or "sqlite:///" + self.db
        if PG_URL:
            psql(PG_URL, f"DROP TABLE IF EXISTS {PG_TABLES} CASCADE")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def env(self, **extra):
        e = {k: v for k, v in os.environ.items()
             if not k.startswith(("FP_", "AWS_")) and k not in ("LOCAL_S3_ROOT", "DATABASE_URL")}
        e["LOCAL_S3_ROOT"] = self.root
        e["DATABASE_URL"] = self.db_url
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
        if PG_URL:
            return pg_rows(PG_URL, sql, params)
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
