/* test_sigv4.c — the SigV4 signer against the AWS test suites in ../shared/conformance/sigv4
 * (aws-c-auth-v4 header variants and the consistent classic cases) plus S3-specific and
 * limit cases. The suites' request lines are not wire-encoded; see parse_request and
 * wire_path for how each case is mapped onto fp_sigv4_request. */
#include "fp_test.h"

#include <dirent.h>
#include <jansson.h>
#include <time.h>

#include "aws/aws_int.h"
#include "fp/fp_aws.h"

#define MAX_HDRS 32

/* A parsed request.txt / .req: views into an owned copy of the text. */
typedef struct parsed_req {
  char *text; /* owned, modified in place */
  char method[16];
  char *path, *query; /* query NULL when none */
  fp_http_header h[MAX_HDRS];
  char *hval[MAX_HDRS]; /* owned values (continuations joined) */
  size_t nh;
  const char *body;
  size_t body_len;
} parsed_req;

static void parsed_free(parsed_req *r) {
  for (size_t i = 0; i < r->nh; i++) free(r->hval[i]);
  free(r->text);
  memset(r, 0, sizeof *r);
}

/* Parses "METHOD URI HTTP/1.1\nName:value\n...\n\nbody". A line starting with whitespace
 * continues the previous header: aws-c-auth keeps it in the same value (the signer folds the
 * line break: "value1 value2 value3"); the classic suite treats it as another value of the
 * same header (joined with ',': "value1,value2,value3"), hence fold_as_values. */
static int parse_request(const char *path, bool fold_as_values, parsed_req *r) {
  memset(r, 0, sizeof *r);
  size_t len;
  r->text = fp_test_read_file(path, &len);
  if (!r->text) return -1;
  char *p = r->text, *end = r->text + len;
  char *eol = memchr(p, '\n', (size_t)(end - p));
  if (!eol) eol = end;
  *eol = '\0';
  char *sp = strchr(p, ' ');
  if (!sp || (size_t)(sp - p) >= sizeof r->method) return -1;
  memcpy(r->method, p, (size_t)(sp - p));
  char *uri = sp + 1;
  size_t ul = strlen(uri);
  if (ul < 9 || strcmp(uri + ul - 9, " HTTP/1.1") != 0) return -1;
  uri[ul - 9] = '\0';
  char *q = strchr(uri, '?');
  if (q) *q = '\0', r->query = q + 1;
  r->path = uri;
  p = eol < end ? eol + 1 : end;
  while (p < end) {
    eol = memchr(p, '\n', (size_t)(end - p));
    char *le = eol ? eol : end;
    if (le == p) { /* blank line: body follows */
      r->body = le + 1 <= end ? le + 1 : end;
      r->body_len = (size_t)(end - r->body);
      break;
    }
    *le = '\0';
    if ((*p == ' ' || *p == '\t') && r->nh > 0 && !fold_as_values) {
      size_t ol = strlen(r->hval[r->nh - 1]), al = strlen(p);
      char *nv = realloc(r->hval[r->nh - 1], ol + al + 2);
      if (!nv) return -1;
      nv[ol] = '\n';
      memcpy(nv + ol + 1, p, al + 1);
      r->hval[r->nh - 1] = nv;
      r->h[r->nh - 1].value = nv;
    } else {
      if (r->nh == MAX_HDRS) return -1;
      const char *name, *val;
      if (*p == ' ' || *p == '\t') {
        if (!r->nh) return -1;
        name = r->h[r->nh - 1].name, val = p;
      } else {
        char *colon = strchr(p, ':');
        if (!colon) return -1;
        *colon = '\0';
        name = p, val = colon + 1;
      }
      r->hval[r->nh] = strdup(val);
      r->h[r->nh] = (fp_http_header){name, r->hval[r->nh]};
      r->nh++;
    }
    p = eol ? eol + 1 : end;
  }
  return 0;
}

static int add_header(parsed_req *r, const char *name, const char *value) {
  if (r->nh == MAX_HDRS) return -1;
  r->hval[r->nh] = strdup(value);
  r->h[r->nh] = (fp_http_header){name, r->hval[r->nh]};
  r->nh++;
  return 0;
}

static char *read_case_file(const char *dir, const char *name) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return fp_test_read_file(path, NULL);
}

static time_t parse_time(const char *iso) {
  time_t t = 0;
  assert_int_equal(fp__parse_iso8601(iso, &t), FP_OK);
  return t;
}

/* "Authorization:..." line of a signed request file, value only (owned). */
static char *authz_line(const char *signed_req) {
  const char *p = strstr(signed_req, "\nAuthorization:");
  if (!p) return NULL;
  p += strlen("\nAuthorization:");
  return strndup(p, strcspn(p, "\n"));
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted case directory names under dir (owned array of owned strings). */
static size_t list_cases(const char *dir, char ***out) {
  DIR *dh = opendir(dir);
  size_t n = 0, cap = 0;
  char **v = NULL;
  struct dirent *de;
  while (dh && (de = readdir(dh))) {
    if (de->d_name[0] == '.') continue;
    char p[1024];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
    if (stat(p, &st) || !S_ISDIR(st.st_mode)) continue;
    if (n == cap) {
      cap = cap ? 2 * cap : 64;
      v = realloc(v, cap * sizeof *v);
    }
    v[n++] = strdup(de->d_name);
  }
  if (dh) closedir(dh);
  qsort(v, n, sizeof *v, cmp_names);
  *out = v;
  return n;
}

static void free_cases(char **v, size_t n) {
  for (size_t i = 0; i < n; i++) free(v[i]);
  free(v);
}

/* Compares one expected text with ours; prints both on mismatch. */
static int check(const char *cas, const char *what, const char *want, const char *got) {
  if (want && got && strcmp(want, got) == 0) return 0;
  fprintf(stderr, "FAIL %s: %s differs\n--- want\n%s\n--- got\n%s\n", cas, what,
          want ? want : "(missing)", got ? got : "(null)");
  return 1;
}

/* ---- aws-c-auth-v4 ------------------------------------------------------------------------ */

/* aws-c-auth always "double encodes" (use_double_uri_encode) and feeds the request line
 * verbatim as the wire path; its normalize flag only toggles dot-segment removal. Our
 * normalize_path=true is exactly that. Our normalize_path=false is S3's mode, where the
 * wire path is the once-encoded key and is signed as is: so the unnormalized cases get
 * fp_aws_uri_encode(line path) — the same bytes aws-c-auth signs. */
static int run_c_auth_case(const char *root, const char *cas) {
  char dir[1024];
  if (snprintf(dir, sizeof dir, "%s/%s", root, cas) >= (int)sizeof dir) return 1;
  char *ctx_text = read_case_file(dir, "context.json");
  char *want_cr = read_case_file(dir, "header-canonical-request.txt");
  char *want_sts = read_case_file(dir, "header-string-to-sign.txt");
  char *want_sig = read_case_file(dir, "header-signature.txt");
  char *signed_req = read_case_file(dir, "header-signed-request.txt");
  char *want_auth = signed_req ? authz_line(signed_req) : NULL;
  json_error_t je;
  json_t *ctx = ctx_text ? json_loads(ctx_text, 0, &je) : NULL;
  char rpath[1100];
  snprintf(rpath, sizeof rpath, "%s/request.txt", dir);
  parsed_req r;
  int bad = 0;
  if (!ctx || !want_cr || !want_sts || !want_sig || !want_auth ||
      parse_request(rpath, false, &r) != 0) {
    fprintf(stderr, "FAIL %s: unreadable case files\n", cas);
    bad = 1;
    goto out;
  }
  json_t *jc = json_object_get(ctx, "credentials");
  const char *tok = json_string_value(json_object_get(jc, "token"));
  fp_aws_creds creds = {
      .access_key_id = (char *)json_string_value(json_object_get(jc, "access_key_id")),
      .secret_access_key = (char *)json_string_value(json_object_get(jc, "secret_access_key")),
      .session_token = (char *)tok};
  bool normalize = json_is_true(json_object_get(ctx, "normalize"));
  bool sign_body = json_is_true(json_object_get(ctx, "sign_body"));
  bool omit = json_is_true(json_object_get(ctx, "omit_session_token"));
  fp_sigv4_opts o = {.region = json_string_value(json_object_get(ctx, "region")),
                     .service = json_string_value(json_object_get(ctx, "service")),
                     .when = parse_time(json_string_value(json_object_get(ctx, "timestamp"))),
                     .normalize_path = normalize,
                     .omit_session_token = omit};
  char amz[17], body_hash[65];
  fp__amz_date(o.when, amz);
  fp_sha256_hex(sign_body ? r.body : "", sign_body ? r.body_len : 0, body_hash);
  /* What a caller does: send X-Amz-Date, the token (omit_session_token leaves it out of
   * the signature), and x-amz-content-sha256 when the body is signed. */
  add_header(&r, "X-Amz-Date", amz);
  if (tok) add_header(&r, "X-Amz-Security-Token", tok);
  if (sign_body) add_header(&r, "x-amz-content-sha256", body_hash);
  char *path = normalize ? strdup(r.path) : fp_aws_uri_encode(r.path, strlen(r.path), true);
  fp_sigv4_request req = {r.method, path, r.query, r.h, r.nh, body_hash};
  fp_sigv4_result res;
  fp_diag d;
  fp_diag_clear(&d);
  fp_err e = fp_sigv4_sign(&req, &creds, &o, &res, &d);
  if (e) {
    fprintf(stderr, "FAIL %s: sign: %s\n", cas, d.msg);
    bad = 1;
  } else {
    bad |= check(cas, "canonical request", want_cr, res.canonical_request);
    bad |= check(cas, "string to sign", want_sts, res.string_to_sign);
    bad |= check(cas, "signature", want_sig, res.signature);
    bad |= check(cas, "Authorization", want_auth, res.authorization);
  }
  fp_sigv4_result_clear(&res);
  free(path);
  parsed_free(&r);
out:
  json_decref(ctx);
  free(ctx_text);
  free(want_cr);
  free(want_sts);
  free(want_sig);
  free(signed_req);
  free(want_auth);
  return bad;
}

static void test_c_auth_suite(void **state) {
  (void)state;
  FP_TEST_NEED_CONFORMANCE(conf);
  char root[1024];
  snprintf(root, sizeof root, "%s/sigv4/aws-c-auth-v4", conf);
  char **cases;
  size_t n = list_cases(root, &cases);
  int failed = 0;
  for (size_t i = 0; i < n; i++) failed += run_c_auth_case(root, cases[i]);
  fprintf(stderr, "sigv4 aws-c-auth-v4 header variants: %zu/%zu passed\n", n - (size_t)failed, n);
  free_cases(cases, n);
  assert_int_equal(n, 38);
  assert_int_equal(failed, 0);
}

/* ---- classic ------------------------------------------------------------------------------ */

/* The two cases whose .sts hash line is not sha256(.creq) in the published data (README):
 * checked from .sts to .authz only. */
static bool classic_inconsistent(const char *cas) {
  return strcmp(cas, "post-x-www-form-urlencoded") == 0 ||
         strcmp(cas, "post-x-www-form-urlencoded-parameters") == 0;
}

static int run_classic_case(const char *root, const char *cas, const char *secret) {
  char dir[1024], file[1200];
  if (snprintf(dir, sizeof dir, "%s/%s", root, cas) >= (int)sizeof dir) return 1;
#define CASE_FILE(ext) (snprintf(file, sizeof file, "%s.%s", cas, ext), read_case_file(dir, file))
  char *want_cr = CASE_FILE("creq");
  char *want_sts = CASE_FILE("sts");
  char *want_auth = CASE_FILE("authz");
#undef CASE_FILE
  snprintf(file, sizeof file, "%s/%s.req", dir, cas);
  parsed_req r;
  int bad = 0;
  if (!want_cr || !want_sts || !want_auth || parse_request(file, true, &r) != 0) {
    fprintf(stderr, "FAIL %s: unreadable case files\n", cas);
    free(want_cr);
    free(want_sts);
    free(want_auth);
    return 1;
  }
  const char *want_sig = strstr(want_auth, "Signature=");
  want_sig = want_sig ? want_sig + 10 : "";
  if (classic_inconsistent(cas)) {
    /* .sts → .authz: the key chain and HMAC over the published string to sign. */
    char sig[65];
    assert_int_equal(fp__sigv4_signature(secret, "20150830", "us-east-1", "service", want_sts,
                                         strlen(want_sts), sig),
                     FP_OK);
    bad |= check(cas, "signature of the published .sts", want_sig, sig);
    fprintf(stderr,
            "NOTE classic/%s: inconsistent suite data (README); checked .sts -> "
            ".authz only\n",
            cas);
  } else {
    fp_aws_creds creds = {.access_key_id = "AKIDEXAMPLE", .secret_access_key = (char *)secret};
    fp_sigv4_opts o = {"us-east-1", "service", parse_time("2015-08-30T12:36:00Z"), true, false};
    char body_hash[65];
    fp_sha256_hex(r.body ? r.body : "", r.body ? r.body_len : 0, body_hash);
    fp_sigv4_request req = {r.method, r.path, r.query, r.h, r.nh, body_hash};
    fp_sigv4_result res;
    fp_diag d;
    fp_diag_clear(&d);
    if (fp_sigv4_sign(&req, &creds, &o, &res, &d)) {
      fprintf(stderr, "FAIL %s: sign: %s\n", cas, d.msg);
      bad = 1;
    } else {
      bad |= check(cas, "canonical request", want_cr, res.canonical_request);
      bad |= check(cas, "string to sign", want_sts, res.string_to_sign);
      bad |= check(cas, "signature", want_sig, res.signature);
      bad |= check(cas, "Authorization", want_auth, res.authorization);
    }
    fp_sigv4_result_clear(&res);
  }
  parsed_free(&r);
  free(want_cr);
  free(want_sts);
  free(want_auth);
  return bad;
}

static void test_classic_suite(void **state) {
  (void)state;
  FP_TEST_NEED_CONFORMANCE(conf);
  char root[1024];
  snprintf(root, sizeof root, "%s/sigv4/classic", conf);
  char *cfg = read_case_file(root, "config.json");
  assert_non_null(cfg);
  json_error_t je;
  json_t *j = json_loads(cfg, 0, &je);
  const char *secret =
      json_string_value(json_object_get(json_object_get(j, "config"), "secretAccessKey"));
  assert_non_null(secret);
  char **cases;
  size_t n = list_cases(root, &cases);
  int failed = 0;
  for (size_t i = 0; i < n; i++) failed += run_classic_case(root, cases[i], secret);
  fprintf(stderr, "sigv4 classic: %zu/%zu passed (29 in full, 2 from .sts to .authz)\n",
          n - (size_t)failed, n);
  free_cases(cases, n);
  json_decref(j);
  free(cfg);
  assert_int_equal(n, 31);
  assert_int_equal(failed, 0);
}

/* ---- S3 specifics ------------------------------------------------------------------------- */

static const char *EMPTY_SHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/* The GET example of the S3 SigV4 documentation ("Example: GET Object"). */
static void test_s3_doc_example(void **state) {
  (void)state;
  fp_http_header h[] = {{"Host", "examplebucket.s3.amazonaws.com"},
                        {"Range", "bytes=0-9"},
                        {"x-amz-content-sha256", EMPTY_SHA},
                        {"x-amz-date", "20130524T000000Z"}};
  fp_sigv4_request req = {"GET", "/test.txt", NULL, h, 4, EMPTY_SHA};
  fp_aws_creds c = {.access_key_id = "AKIAIOSFODNN7EXAMPLE",
                    .secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"};
  fp_sigv4_opts o = {"us-east-1", "s3", parse_time("2013-05-24T00:00:00Z"), false, false};
  fp_sigv4_result res;
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp_sigv4_sign(&req, &c, &o, &res, &d), FP_OK);
  assert_string_equal(res.amz_date, "20130524T000000Z");
  assert_string_equal(res.signed_headers, "host;range;x-amz-content-sha256;x-amz-date");
  assert_string_equal(res.signature,
                      "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  assert_string_equal(res.authorization,
                      "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
                      "aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
                      "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  fp_sigv4_result_clear(&res);
  assert_null(res.canonical_request);
}

static char *canon(const char *path, const char *query, bool normalize) {
  fp_http_header h[] = {{"host", "b.s3.amazonaws.com"}};
  fp_sigv4_request req = {"GET", path, query, h, 1, "UNSIGNED-PAYLOAD"};
  fp_aws_creds c = {.access_key_id = "AKID", .secret_access_key = "secret"};
  fp_sigv4_opts o = {"us-gov-west-1", "s3", 1700000000, normalize, false};
  fp_sigv4_result res;
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp_sigv4_sign(&req, &c, &o, &res, &d), FP_OK);
  char *cr = strdup(res.canonical_request);
  fp_sigv4_result_clear(&res);
  /* keep lines 2 and 3 (URI and query) */
  char *nl1 = strchr(cr, '\n'), *nl3 = strchr(strchr(nl1 + 1, '\n') + 1, '\n');
  *nl3 = '\0';
  char *out = strdup(nl1 + 1);
  free(cr);
  return out;
}

static void expect_canon(const char *path, const char *query, bool normalize, const char *want) {
  char *got = canon(path, query, normalize);
  assert_string_equal(got, want);
  free(got);
}

static void test_s3_paths_and_queries(void **state) {
  (void)state;
  /* S3: the wire path as given, no dot removal, no double encoding. */
  expect_canon("/a%20b/c%2Bd/%E2%82%AC/./x//y", NULL, false, "/a%20b/c%2Bd/%E2%82%AC/./x//y\n");
  expect_canon("", NULL, false, "/\n");
  /* Other services: dots and empty segments removed, encoded once more. */
  expect_canon("/a%20b/./x//y/../z/", NULL, true, "/a%2520b/x/z/\n");
  expect_canon("/..", NULL, true, "/\n");
  expect_canon("/a/b/c/../../d/./e/..", NULL, true, "/a/d\n");
  expect_canon("/a/../../b/", NULL, true, "/b/\n");
  expect_canon("/%7Euser/x~y", NULL, true, "/%257Euser/x~y\n");
  /* Query: decode-then-encode, sorted by name then value, bare names get '='. */
  expect_canon("/k", "versionId=3%2BsL.x_~&uploads", false, "/k\nuploads=&versionId=3%2BsL.x_~");
  expect_canon("/k", "b=2&a=z&a=y&c", false, "/k\na=y&a=z&b=2&c=");
  expect_canon("/k", "x=a b+c&%7e=%7E", false, "/k\nx=a%20b%2Bc&~=~");
  expect_canon("/k", "p=%zz&&q=%2", false, "/k\np=%25zz&q=%252");
  expect_canon("/k", "", false, "/k\n");
}

static void test_uri_encode(void **state) {
  (void)state;
  const char *raw = "dir/a b+c=d~e_f.g-h\xc3\xa9%";
  char *a = fp_aws_uri_encode(raw, strlen(raw), true);
  char *b = fp_aws_uri_encode(raw, strlen(raw), false);
  assert_string_equal(a, "dir/a%20b%2Bc%3Dd~e_f.g-h%C3%A9%25");
  assert_string_equal(b, "dir%2Fa%20b%2Bc%3Dd~e_f.g-h%C3%A9%25");
  free(a);
  free(b);
  char *z = fp_aws_uri_encode("", 0, true);
  assert_string_equal(z, "");
  free(z);
  char hex[65];
  fp_sha256_hex("", 0, hex);
  assert_string_equal(hex, EMPTY_SHA);
  fp_sha256_hex("abc", 3, hex);
  assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_headers_fold_and_omit(void **state) {
  (void)state;
  fp_http_header h[] = {{"Host", "h"},
                        {"X-Amz-Meta-A", "  two   spaces\t\tand\r\n fold  "},
                        {"x-amz-meta-a", "second"},
                        {"X-Amz-Security-Token", "tok"},
                        {"X-AMZ-DATE", "20240101T000000Z"}};
  fp_sigv4_request req = {"PUT", "/k", NULL, h, 5, EMPTY_SHA};
  fp_aws_creds c = {.access_key_id = "AKID", .secret_access_key = "s", .session_token = "tok"};
  fp_sigv4_opts o = {"us-gov-west-1", "s3", parse_time("2024-01-01T00:00:00Z"), false, true};
  fp_sigv4_result res;
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp_sigv4_sign(&req, &c, &o, &res, &d), FP_OK);
  assert_string_equal(res.canonical_request,
                      "PUT\n/k\n\nhost:h\nx-amz-date:20240101T000000Z\n"
                      "x-amz-meta-a:two spaces and fold,second\n\n"
                      "host;x-amz-date;x-amz-meta-a\n"
                      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  assert_non_null(strstr(res.string_to_sign, "20240101/us-gov-west-1/s3/aws4_request"));
  fp_sigv4_result_clear(&res);
  o.omit_session_token = false;
  assert_int_equal(fp_sigv4_sign(&req, &c, &o, &res, &d), FP_OK);
  assert_string_equal(res.signed_headers, "host;x-amz-date;x-amz-meta-a;x-amz-security-token");
  fp_sigv4_result_clear(&res);
}

static void test_limits_and_bad_input(void **state) {
  (void)state;
  fp_aws_creds c = {.access_key_id = "AKID", .secret_access_key = "s"};
  fp_sigv4_opts o = {"us-east-1", "s3", 1700000000, false, false};
  fp_http_header h1[] = {{"host", "h"}};
  fp_sigv4_result res;
  fp_diag d;
  /* absurd path */
  size_t big = (size_t)17 << 10;
  char *longp = malloc(big + 2);
  longp[0] = '/';
  memset(longp + 1, 'a', big);
  longp[big + 1] = '\0';
  fp_sigv4_request req = {"GET", longp, NULL, h1, 1, EMPTY_SHA};
  fp_diag_clear(&d);
  assert_int_equal(fp_sigv4_sign(&req, &c, &o, &res, &d), FP_ERR_LIMIT);
  assert_null(res.canonical_request);
  /* absurd query and header value */
  req.path = "/";
  char *lq = malloc(((size_t)33 << 10) + 1);
  memset(lq, 'q', (size_t)33 << 10);
  lq[(size_t)33 << 10] = '\0';
  req.query = lq;
  fp_diag_clear(&d);
  assert_int_equal(fp_sigv4_sign(&req, &c, &o, &res, &d), FP_ERR_LIMIT);
  req.query = NULL;
  fp_http_header hv[] = {{"host", "h"}, {"x-big", lq}};
  req.headers = hv;
  req.nheaders = 2;
  fp_diag_clear(&d);
  assert_int_equal(fp_sigv4_sign(&req, &c, &o, &res, &d), FP_ERR_LIMIT);
  free(lq);
  free(longp);
  /* too many headers */
  fp_http_header many[200];
  for (int i = 0; i < 200; i++) many[i] = (fp_http_header){"x-h", "v"};
  req.headers = many;
  req.nheaders = 200;
  fp_diag_clear(&d);
  assert_int_equal(fp_sigv4_sign(&req, &c, &o, &res, &d), FP_ERR_LIMIT);
  /* bad inputs */
  req.headers = h1;
  req.nheaders = 1;
  req.payload_hash = NULL;
  fp_diag_clear(&d);
  assert_int_equal(fp_sigv4_sign(&req, &c, &o, &res, &d), FP_ERR_INVAL);
  req.payload_hash = "UNSIGNED-PAYLOAD";
  fp_http_header badname[] = {{"ho st", "h"}};
  req.headers = badname;
  fp_diag_clear(&d);
  assert_int_equal(fp_sigv4_sign(&req, &c, &o, &res, &d), FP_ERR_INVAL);
  req.headers = NULL;
  req.nheaders = 0;
  fp_diag_clear(&d);
  assert_int_equal(fp_sigv4_sign(&req, &c, &o, &res, &d), FP_ERR_INVAL); /* no host */
  req.headers = h1;
  req.nheaders = 1;
  fp_sigv4_opts bad = {"us-east-1/x", "s3", 0, false, false};
  fp_diag_clear(&d);
  assert_int_equal(fp_sigv4_sign(&req, &c, &bad, &res, &d), FP_ERR_INVAL);
  fp_aws_creds nok = {.access_key_id = "AKID"};
  fp_diag_clear(&d);
  assert_int_equal(fp_sigv4_sign(&req, &nok, &o, &res, &d), FP_ERR_INVAL);
  assert_null(strstr(d.msg, "secret ")); /* messages never carry secrets */
  fp_sigv4_result_clear(NULL);
}

static void test_creds_copy_clear(void **state) {
  (void)state;
  fp_aws_creds a = {.access_key_id = strdup("AKID"),
                    .secret_access_key = strdup("sekrit"),
                    .session_token = strdup("tok"),
                    .expiration = 42};
  snprintf(a.source, sizeof a.source, "env");
  fp_aws_creds b;
  assert_int_equal(fp_aws_creds_copy(&b, &a), FP_OK);
  assert_string_equal(b.access_key_id, "AKID");
  assert_string_equal(b.secret_access_key, "sekrit");
  assert_string_equal(b.session_token, "tok");
  assert_string_equal(b.source, "env");
  assert_int_equal(b.expiration, 42);
  assert_ptr_not_equal(b.secret_access_key, a.secret_access_key);
  fp_aws_creds_clear(&a);
  fp_aws_creds_clear(&b);
  assert_null(b.secret_access_key);
  fp_aws_creds_clear(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_c_auth_suite),         cmocka_unit_test(test_classic_suite),
      cmocka_unit_test(test_s3_doc_example),       cmocka_unit_test(test_s3_paths_and_queries),
      cmocka_unit_test(test_uri_encode),           cmocka_unit_test(test_headers_fold_and_omit),
      cmocka_unit_test(test_limits_and_bad_input), cmocka_unit_test(test_creds_copy_clear),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
