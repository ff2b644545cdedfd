"""libfp's SigV4 signer (tool_sigv4) against botocore's for the same request and time.

S3 requests go through botocore's S3SigV4Auth exactly as its S3 client signs them: the URL
path is the wire path (keys percent-encoded once with '/' kept, as botocore's serializer does
with quote(key, safe='/~')), no normalisation, X-Amz-Content-SHA256 set by the signer. The
tool builds the wire path itself from bucket + key with fp_aws_uri_encode, so the key
encoding is checked too. One non-S3 case (SigV4Auth, normalised and double-encoded path)
covers normalize=true. Canonical request, string to sign, signature and Authorization must
all be identical. Exit 77 (skip) when botocore is not installed."""
import datetime
import hashlib
import json
import os
import subprocess
import sys
import types
import unittest
from unittest import mock
from urllib.parse import quote, urlsplit

try:
    import botocore
    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.config import Config
    from botocore.credentials import Credentials
except ImportError:  # pragma: no cover
    print("SKIP: botocore is not installed (Debian: apt-get install python3-botocore)")
    sys.exit(77)

TOOLS = os.environ.get("FP_TOOLS_DIR", "build/tools")
TOOL = os.path.join(TOOLS, "tool_sigv4")

AK, SK = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE//////////+token/with=padding=="
WHEN = datetime.datetime(2024, 3, 9, 17, 45, 2)
EMPTY = hashlib.sha256(b"").hexdigest()


class _FixedDateTime(datetime.datetime):
    @classmethod
    def utcnow(cls):
        return cls(WHEN.year, WHEN.month, WHEN.day, WHEN.hour, WHEN.minute, WHEN.second)

    @classmethod
    def now(cls, tz=None):
        return cls.utcnow() if tz is None else cls.utcnow().replace(tzinfo=tz)


def botocore_sign(method, url, headers, body=b"", region="us-gov-west-1", service="s3",
                  token=None, s3=True, unsigned_payload=False):
    """Signs with botocore at the fixed time; returns (canonical, sts, signature, authz)."""
    creds = Credentials(AK, SK, token)
    cls = botocore.auth.S3SigV4Auth if s3 else botocore.auth.SigV4Auth
    auth = cls(creds, service, region)
    req = AWSRequest(method=method, url=url, headers=dict(headers), data=body)
    if unsigned_payload:
        req.context["client_config"] = Config(s3={"payload_signing_enabled": False})
    fake_dt = types.SimpleNamespace(datetime=_FixedDateTime, timezone=datetime.timezone)
    patches = [mock.patch.object(botocore.auth, "datetime", fake_dt)]
    if hasattr(botocore.auth, "get_current_datetime"):  # newer botocore
        patches.append(mock.patch.object(botocore.auth, "get_current_datetime",
                                         lambda *a, **k: _FixedDateTime.utcnow()))
    seen = {}
    real_cr, real_sts = auth.canonical_request, auth.string_to_sign
    auth.canonical_request = lambda r: seen.setdefault("cr", real_cr(r))
    auth.string_to_sign = lambda r, c: seen.setdefault("sts", real_sts(r, c))
    for p in patches:
        p.start()
    try:
        auth.add_auth(req)  # records what it signed before adding Authorization
        cr, sts = seen["cr"], seen["sts"]
    finally:
        for p in reversed(patches):
            p.stop()
    authz = req.headers["Authorization"]
    sig = authz.rsplit("Signature=", 1)[1]
    signed = dict(req.headers.items())
    return cr, sts, sig, authz, signed


def tool_sign(spec):
    p = subprocess.run([TOOL], input=json.dumps(spec).encode(), capture_output=True, timeout=60)
    if p.returncode != 0:
        raise AssertionError(f"tool_sigv4 failed ({p.returncode}): {p.stdout!r} {p.stderr!r}")
    return json.loads(p.stdout)


def host_of(url):
    """Host header as curl and botocore send it: netloc without userinfo, default port dropped."""
    parts = urlsplit(url)
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"
    default = 443 if parts.scheme == "https" else 80
    return host if parts.port in (None, default) else f"{host}:{parts.port}"


class SigV4BotocoreTest(unittest.TestCase):
    def setUp(self):
        if not os.access(TOOL, os.X_OK):
            self.fail(f"{TOOL} is not built (FP_TOOLS_DIR={TOOLS})")

    def compare(self, *, method="GET", endpoint, bucket=None, key, query=None, headers=(),
                body=b"", region="us-gov-west-1", token=None, unsigned_payload=False):
        wire = "/" + (bucket + "/" if bucket else "") + quote(key, safe="/~")
        url = endpoint + wire + ("?" + query if query is not None else "")
        cr, sts, sig, authz, sent = botocore_sign(method, url, headers, body, region, "s3",
                                                  token, True, unsigned_payload)
        payload = sent["X-Amz-Content-SHA256"]
        if not unsigned_payload:
            self.assertEqual(payload, hashlib.sha256(body).hexdigest())
        # What the S3 client hands the signer: host, the caller's headers, and the x-amz-*
        # headers it sends (date, content hash, token).
        hdrs = [["host", host_of(url)]] + [[k, v] for k, v in headers]
        hdrs += [["x-amz-date", sent["X-Amz-Date"]], ["x-amz-content-sha256", payload]]
        if token:
            hdrs.append(["x-amz-security-token", token])
        spec = {"method": method, "key": key, "query": query, "headers": hdrs,
                "payload_hash": payload, "region": region, "service": "s3",
                "time": WHEN.strftime("%Y-%m-%dT%H:%M:%SZ"), "access_key": AK,
                "secret_key": SK, "session_token": token, "normalize": False}
        if bucket:
            spec["bucket"] = bucket
        got = tool_sign(spec)
        self.assertEqual(got["path"], wire, "key encoding differs from botocore's")
        self.assertEqual(got["canonical_request"], cr)
        self.assertEqual(got["string_to_sign"], sts)
        self.assertEqual(got["signature"], sig)
        self.assertEqual(got["authorization"], authz)
        return got

    def test_get_path_style_unicode_plus_space_token_version_range(self):
        self.compare(endpoint="http://127.0.0.1:9000", bucket="demo-bucket",
                     key="from client/nm albuquerque/a+b=c~d/ünïcödé €.csv",
                     query="versionId=" + quote("3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vj", safe="-_.~"),
                     headers=[("Range", "bytes=1048576-")], token=TOKEN)

    def test_get_virtual_hosted_govcloud(self):
        self.compare(endpoint="https://demo-bucket.s3.us-gov-west-1.amazonaws.com",
                     key="from_client/nm_albuquerque/Officer Detail (1).csv")

    def test_get_china_region_and_reserved_characters(self):
        self.compare(endpoint="https://b.s3.cn-north-1.amazonaws.com.cn", region="cn-north-1",
                     key="weird/100% #1?;:@&$,!'()*[].csv", token=TOKEN)

    def test_put_with_payload_hash(self):
        body = json.dumps({"report": "ok", "rows": 3}).encode()
        self.compare(method="PUT", endpoint="http://127.0.0.1:9000", bucket="reports",
                     key="reports/from client/Officer+Detail.report.json", body=body,
                     headers=[("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))], token=TOKEN)

    def test_unsigned_payload_and_if_match(self):
        self.compare(endpoint="https://bkt.s3.us-gov-west-1.amazonaws.com", key="big/object.csv.gz",
                     headers=[("If-Match", '"9b2cf535f27731c974343645a3985328"'),
                              ("Range", "bytes=200-")], unsigned_payload=True)

    def test_list_query_sorting_and_header_folding(self):
        self.compare(endpoint="http://127.0.0.1:9000", bucket="demo-bucket", key="",
                     query="list-type=2&prefix=from%20client%2F&delimiter=%2F&fetch-owner",
                     headers=[("X-Amz-Meta-Note", '  "quoted   spaces"\t and  tabs '),
                              ("x-amz-meta-note", "second value")])

    def test_non_s3_service_normalizes_and_double_encodes(self):
        url = "https://sqs.us-gov-west-1.amazonaws.com/./123456789012/my%20queue/../queue%2Bx//"
        cr, sts, sig, authz, sent = botocore_sign("POST", url, [("Content-Type", "text/plain")],
                                                  b"Action=ListQueues", service="sqs", s3=False)
        hdrs = [["host", host_of(url)], ["Content-Type", "text/plain"],
                ["x-amz-date", sent["X-Amz-Date"]]]
        got = tool_sign({"method": "POST", "path": urlsplit(url).path, "headers": hdrs,
                         "payload_hash": hashlib.sha256(b"Action=ListQueues").hexdigest(),
                         "region": "us-gov-west-1", "service": "sqs",
                         "time": WHEN.strftime("%Y-%m-%dT%H:%M:%SZ"), "access_key": AK,
                         "secret_key": SK, "normalize": True})
        self.assertIn("/123456789012/queue%252Bx/", cr)
        self.assertEqual(got["canonical_request"], cr)
        self.assertEqual(got["signature"], sig)
        self.assertEqual(got["authorization"], authz)


if __name__ == "__main__":
    print(f"botocore {botocore.__version__}", file=sys.stderr)
    unittest.main(verbosity=2)
