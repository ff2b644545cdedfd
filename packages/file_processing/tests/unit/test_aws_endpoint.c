/* test_aws_endpoint.c — region, partition and endpoint resolution, and the AWS plumbing
 * under the credential chain: shared-file (INI) parsing, the STS XML extractor and response
 * parser, ISO-8601 times, URL host parsing, and the libcurl helper (aws_http.c) against a
 * canned HTTP server thread on 127.0.0.1 that each test starts and stops. */
#include "fp_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

#include "aws/aws_int.h"
#include "fp/fp_aws.h"
#include "fp/fp_config.h"

extern char **environ;

static char g_home[128];

/* A config snapshot with no AWS_* from the test's own environment and HOME = a temp dir. */
static fp_config *cfg_new(void) {
  for (;;) {
    char **e = environ;
    while (*e && strncmp(*e, "AWS_", 4) != 0) e++;
    if (!*e) break;
    char name[256];
    size_t n = strcspn(*e, "=");
    snprintf(name, sizeof name, "%.*s", (int)n, *e);
    unsetenv(name);
  }
  fp_config *c = NULL;
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp_config_load(NULL, 0, &c, &d), FP_OK);
  assert_int_equal(fp_config_set(c, "HOME", g_home), FP_OK);
  return c;
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static int setup(void **state) {
  (void)state;
  fp_test_tmpdir(g_home, sizeof g_home);
  return g_home[0] ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  char p[256];
  snprintf(p, sizeof p, "%s/.aws/config", g_home);
  unlink(p);
  snprintf(p, sizeof p, "%s/.aws/credentials", g_home);
  unlink(p);
  snprintf(p, sizeof p, "%s/.aws", g_home);
  rmdir(p);
  rmdir(g_home);
  return 0;
}

/* ---- region, partition, endpoint ------------------------------------------------------- */

static void test_region_order(void **state) {
  (void)state;
  fp_config *c = cfg_new();
  char r[64];
  fp_aws_region(c, r, sizeof r);
  assert_string_equal(r, "us-gov-west-1"); /* nothing configured: this deployment's default */

  char dir[200], path[256];
  snprintf(dir, sizeof dir, "%s/.aws", g_home);
  mkdir(dir, 0700);
  snprintf(path, sizeof path, "%s/config", dir);
  write_file(path, "[default]\nregion = us-gov-east-1\n[profile cn]\nregion=cn-northwest-1\n");
  fp_aws_region(c, r, sizeof r);
  assert_string_equal(r, "us-gov-east-1");
  fp_config_set(c, "AWS_PROFILE", "cn");
  fp_aws_region(c, r, sizeof r);
  assert_string_equal(r, "cn-northwest-1");
  fp_config_set(c, "AWS_DEFAULT_REGION", "us-east-2");
  fp_aws_region(c, r, sizeof r);
  assert_string_equal(r, "us-east-2");
  fp_config_set(c, "AWS_REGION", "eu-west-1");
  fp_aws_region(c, r, sizeof r);
  assert_string_equal(r, "eu-west-1");
  fp_config_set(c, "AWS_REGION", ""); /* empty counts as unset */
  fp_aws_region(c, r, sizeof r);
  assert_string_equal(r, "us-east-2");
  char tiny[4];
  fp_aws_region(c, tiny, sizeof tiny);
  assert_string_equal(tiny, ""); /* never a truncated region */
  unlink(path);
  fp_config_free(c);
}

static void test_partitions(void **state) {
  (void)state;
  assert_string_equal(fp_aws_partition("us-gov-west-1"), "aws-us-gov");
  assert_string_equal(fp_aws_partition("us-gov-east-1"), "aws-us-gov");
  assert_string_equal(fp_aws_partition("cn-north-1"), "aws-cn");
  assert_string_equal(fp_aws_partition("cn-northwest-1"), "aws-cn");
  assert_string_equal(fp_aws_partition("us-east-1"), "aws");
  assert_string_equal(fp_aws_partition("eu-central-1"), "aws");
  assert_string_equal(fp_aws_partition(NULL), "aws");
}

static void expect_ep(fp_config *c, const char *svc, const char *region, const char *want,
                      bool want_custom) {
  char ep[256];
  bool custom = !want_custom;
  fp_aws_endpoint(c, svc, region, ep, sizeof ep, &custom);
  assert_string_equal(ep, want);
  assert_int_equal(custom, want_custom);
}

static void test_endpoints(void **state) {
  (void)state;
  fp_config *c = cfg_new();
  expect_ep(c, "s3", "us-gov-west-1", "https://s3.us-gov-west-1.amazonaws.com", false);
  expect_ep(c, "sts", "us-gov-west-1", "https://sts.us-gov-west-1.amazonaws.com", false);
  expect_ep(c, "s3", "cn-north-1", "https://s3.cn-north-1.amazonaws.com.cn", false);
  expect_ep(c, "sqs", "us-east-1", "https://sqs.us-east-1.amazonaws.com", false);
  expect_ep(c, "s3", NULL, "https://s3.us-gov-west-1.amazonaws.com", false); /* resolved region */
  expect_ep(c, "s3", "Bad Region", "", false);
  fp_config_set(c, "AWS_ENDPOINT_URL", "http://127.0.0.1:4566/");
  expect_ep(c, "s3", "us-gov-west-1", "http://127.0.0.1:4566", true);
  expect_ep(c, "sts", "us-gov-west-1", "http://127.0.0.1:4566", true);
  fp_config_set(c, "AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9000");
  expect_ep(c, "s3", "us-gov-west-1", "http://127.0.0.1:9000", true);
  expect_ep(c, "sts", "us-gov-west-1", "http://127.0.0.1:4566", true);
  fp_config_set(c, "AWS_ENDPOINT_URL_S3", ""); /* empty = unset */
  expect_ep(c, "s3", "us-gov-west-1", "http://127.0.0.1:4566", true);
  fp_config_set(c, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true");
  expect_ep(c, "s3", "us-gov-west-1", "https://s3.us-gov-west-1.amazonaws.com", false);
  char small[8];
  fp_aws_endpoint(c, "s3", "us-gov-west-1", small, sizeof small, NULL);
  assert_string_equal(small, "");
  fp_config_free(c);
}

/* ---- shared files ------------------------------------------------------------------------ */

static void test_ini_config_and_credentials(void **state) {
  (void)state;
  const char *cfg_text =
      "# comment\n; other comment\n[default]\nregion = us-gov-west-1\n"
      "[profile etl-playground]\n  Region=us-gov-east-1  \nrole_arn = arn:aws:iam::1:role/r\n"
      "s3 =\n  max_concurrent_requests = 20\n  addressing_style = path\noutput = json\n"
      "[profile  spaced ]\nkey=v\n[plain]\nregion = nope\n[sso-session s]\nsso_region=x\n"
      "[profile \"quoted\"]\nkey = q\r\n";
  fp__ini *ini = NULL;
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp__ini_parse(cfg_text, strlen(cfg_text), true, &ini, &d), FP_OK);
  assert_string_equal(fp__ini_get(ini, "default", "region"), "us-gov-west-1");
  assert_string_equal(fp__ini_get(ini, "etl-playground", "region"), "us-gov-east-1");
  assert_string_equal(fp__ini_get(ini, "etl-playground", "s3.max_concurrent_requests"), "20");
  assert_string_equal(fp__ini_get(ini, "etl-playground", "s3.addressing_style"), "path");
  assert_string_equal(fp__ini_get(ini, "etl-playground", "output"), "json");
  assert_string_equal(fp__ini_get(ini, "spaced", "key"), "v");
  assert_string_equal(fp__ini_get(ini, "quoted", "key"), "q");
  assert_false(fp__ini_has_profile(ini, "plain")); /* "[x]" in config is not a profile */
  assert_false(fp__ini_has_profile(ini, "s"));
  assert_null(fp__ini_get(ini, "default", "missing"));
  fp__ini_free(ini);

  const char *cred_text =
      "[default]\naws_access_key_id=AKID\naws_secret_access_key = s = x\n"
      "[profile x]\nk=1\n[empty]\n";
  assert_int_equal(fp__ini_parse(cred_text, strlen(cred_text), false, &ini, &d), FP_OK);
  assert_string_equal(fp__ini_get(ini, "default", "aws_secret_access_key"), "s = x");
  assert_string_equal(fp__ini_get(ini, "profile x", "k"), "1"); /* credentials: name as is */
  assert_true(fp__ini_has_profile(ini, "empty"));
  fp__ini_free(ini);

  const char *bad = "[default]\nthis line has no equals sign\n";
  fp_diag_clear(&d);
  assert_int_equal(fp__ini_parse(bad, strlen(bad), false, &ini, &d), FP_ERR_CONFIG);
  assert_non_null(strstr(d.msg, "line 2"));
  assert_null(ini);

  fp__ini *none = (fp__ini *)1;
  assert_int_equal(fp__ini_load("/nonexistent/dir/config", true, &none, &d), FP_OK);
  assert_null(none);
}

/* ---- XML and STS ----------------------------------------------------------------------------- */

static const char *STS_OK =
    "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
    "<AssumeRoleWithWebIdentityResult><AssumedRoleUser><Arn>arn</Arn></AssumedRoleUser>"
    "<Credentials>\n  <AccessKeyId>ASIAEXAMPLE</AccessKeyId>\n"
    "  <SecretAccessKey>se/cr+et&amp;&#x41;&#66;</SecretAccessKey>\n"
    "  <SessionToken>tok==</SessionToken>\n  <Expiration>2030-01-02T03:04:05.123Z</Expiration>"
    "</Credentials><Provider>p</Provider></AssumeRoleWithWebIdentityResult>"
    "</AssumeRoleWithWebIdentityResponse>";

static void test_xml_extractor(void **state) {
  (void)state;
  const char *x = "<a><Codex>no</Codex><Code attr=\"1\">Acc&lt;ess&gt;</Code><E/></a>";
  char out[64];
  assert_int_equal(fp__xml_text(x, strlen(x), "Code", out, sizeof out), FP_OK);
  assert_string_equal(out, "Acc<ess>");
  assert_int_equal(fp__xml_text(x, strlen(x), "E", out, sizeof out), FP_OK);
  assert_string_equal(out, "");
  assert_int_equal(fp__xml_text(x, strlen(x), "Nope", out, sizeof out), FP_ERR_NOT_FOUND);
  char tiny[4];
  assert_int_equal(fp__xml_text(x, strlen(x), "Code", tiny, sizeof tiny), FP_ERR_LIMIT);
  /* bounded: an element cut by the length is not found */
  size_t cut = (size_t)(strstr(x, "</Code>") - x) + 3;
  assert_int_equal(fp__xml_text(x, cut, "Code", out, sizeof out), FP_ERR_NOT_FOUND);
  const char *in;
  size_t il;
  assert_false(fp__xml_find("<Code", 5, "Code", &in, &il));
  assert_false(fp__xml_find(NULL, 0, "Code", &in, &il));
  char *dup = fp__xml_text_dup(x, strlen(x), "E");
  assert_string_equal(dup, "");
  free(dup);
}

static void test_sts_parse(void **state) {
  (void)state;
  fp_aws_creds c;
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp__sts_parse(200, STS_OK, strlen(STS_OK), "AssumeRoleWithWebIdentity",
                                 "https://sts.us-gov-west-1.amazonaws.com", &c, &d),
                   FP_OK);
  assert_string_equal(c.access_key_id, "ASIAEXAMPLE");
  assert_string_equal(c.secret_access_key, "se/cr+et&AB");
  assert_string_equal(c.session_token, "tok==");
  time_t want;
  assert_int_equal(fp__parse_iso8601("2030-01-02T03:04:05Z", &want), FP_OK);
  assert_int_equal(c.expiration, want);
  fp_aws_creds_clear(&c);

  static const struct {
    long status;
    const char *code;
    fp_err want;
  } errs[] = {{403, "AccessDenied", FP_ERR_FORBIDDEN},
              {400, "InvalidIdentityToken", FP_ERR_FORBIDDEN},
              {400, "IDPCommunicationError", FP_ERR_TRANSIENT},
              {400, "Throttling", FP_ERR_TRANSIENT},
              {500, "InternalFailure", FP_ERR_TRANSIENT},
              {503, "", FP_ERR_TRANSIENT},
              {400, "ValidationError", FP_ERR_CONFIG}};
  for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++) {
    char xml[512];
    snprintf(xml, sizeof xml,
             "<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code><Message>Not "
             "authorized\nto do it</Message></Error><RequestId>r</RequestId></ErrorResponse>",
             errs[i].code);
    fp_diag_clear(&d);
    assert_int_equal(fp__sts_parse(errs[i].status, xml, strlen(xml), "AssumeRoleWithWebIdentity",
                                   "http://127.0.0.1:1", &c, &d),
                     errs[i].want);
    assert_non_null(strstr(d.msg, "http://127.0.0.1:1"));
    assert_non_null(strstr(d.msg, errs[i].code));
    assert_non_null(strstr(d.msg, "Not authorized to do it"));
    assert_null(c.secret_access_key);
  }
  /* 200 without credentials, missing expiration */
  fp_diag_clear(&d);
  assert_int_equal(fp__sts_parse(200, "<x/>", 4, "AssumeRole", "e", &c, &d), FP_ERR_IO);
  const char *noexp =
      "<Credentials><AccessKeyId>A</AccessKeyId><SecretAccessKey>S"
      "</SecretAccessKey><SessionToken>T</SessionToken></Credentials>";
  fp_diag_clear(&d);
  assert_int_equal(fp__sts_parse(200, noexp, strlen(noexp), "AssumeRole", "e", &c, &d), FP_ERR_IO);
  assert_null(c.access_key_id);
  assert_null(strstr(d.msg, "S<")); /* no secret in the message */
}

static void test_iso8601(void **state) {
  (void)state;
  time_t t;
  assert_int_equal(fp__parse_iso8601("1970-01-01T00:00:00Z", &t), FP_OK);
  assert_int_equal(t, 0);
  assert_int_equal(fp__parse_iso8601("2015-08-30T12:36:00Z", &t), FP_OK);
  assert_int_equal(t, 1440938160);
  assert_int_equal(fp__parse_iso8601("2015-08-30T14:36:00.5+02:00", &t), FP_OK);
  assert_int_equal(t, 1440938160);
  assert_int_equal(fp__parse_iso8601("2015-08-30T07:36:00-0500", &t), FP_OK);
  assert_int_equal(t, 1440938160);
  assert_int_equal(fp__parse_iso8601("2015-08-30 12:36:00Z", &t), FP_OK);
  assert_int_equal(fp__parse_iso8601("2015-13-30T12:36:00Z", &t), FP_ERR_INVAL);
  assert_int_equal(fp__parse_iso8601("2015-08-30T12:36", &t), FP_ERR_INVAL);
  assert_int_equal(fp__parse_iso8601("2015-08-30T12:36:00Zjunk", &t), FP_ERR_INVAL);
  assert_int_equal(fp__parse_iso8601(NULL, &t), FP_ERR_INVAL);
  char amz[17];
  fp__amz_date(1440938160, amz);
  assert_string_equal(amz, "20150830T123600Z");
}

static void test_url_parts(void **state) {
  (void)state;
  char hp[64], h[64];
  bool https;
  assert_int_equal(
      fp__url_parts("http://127.0.0.1:9000/b/k?x=1", hp, sizeof hp, h, sizeof h, &https), FP_OK);
  assert_string_equal(hp, "127.0.0.1:9000");
  assert_string_equal(h, "127.0.0.1");
  assert_false(https);
  assert_int_equal(fp__url_parts("https://s3.us-gov-west-1.amazonaws.com:443", hp, sizeof hp, h,
                                 sizeof h, &https),
                   FP_OK);
  assert_string_equal(hp, "s3.us-gov-west-1.amazonaws.com");
  assert_true(https);
  assert_int_equal(fp__url_parts("http://user:pw@[::1]:8080/x", hp, sizeof hp, h, sizeof h, NULL),
                   FP_OK);
  assert_string_equal(hp, "[::1]:8080");
  assert_string_equal(h, "::1");
  assert_int_equal(fp__url_parts("http://[fd00:ec2::23]/v1", hp, sizeof hp, h, sizeof h, NULL),
                   FP_OK);
  assert_string_equal(hp, "[fd00:ec2::23]");
  assert_int_equal(fp__url_parts("ftp://x/", hp, sizeof hp, h, sizeof h, NULL), FP_ERR_CONFIG);
  assert_int_equal(fp__url_parts("http://h:x/", hp, sizeof hp, h, sizeof h, NULL), FP_ERR_CONFIG);
  assert_int_equal(fp__url_parts("http:///p", hp, sizeof hp, h, sizeof h, NULL), FP_ERR_CONFIG);
  assert_true(fp__host_is_loopback("127.0.0.1"));
  assert_true(fp__host_is_loopback("127.1.2.3"));
  assert_true(fp__host_is_loopback("localhost"));
  assert_true(fp__host_is_loopback("::1"));
  assert_false(fp__host_is_loopback("127.0.0.1.evil.com"));
  assert_false(fp__host_is_loopback("169.254.170.2"));
}

/* Files named by the config snapshot: AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE, "~/"
 * expansion and the profile choice. */
static void test_aws_files(void **state) {
  (void)state;
  fp_config *c = cfg_new();
  char path[256];
  snprintf(path, sizeof path, "%s/alt-config", g_home);
  write_file(path, "[profile p]\nregion = us-gov-east-1\n");
  fp_config_set(c, "AWS_CONFIG_FILE", "~/alt-config");
  fp_config_set(c, "AWS_DEFAULT_PROFILE", "p");
  fp__aws_files f;
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp__aws_files_load(c, &f, &d), FP_OK);
  assert_string_equal(f.config_path, path);
  assert_string_equal(f.profile, "p");
  assert_true(f.profile_explicit);
  assert_null(f.creds);
  assert_string_equal(fp__aws_files_get(&f, "p", "region"), "us-gov-east-1");
  fp__aws_files_free(&f);
  char r[64];
  fp_aws_region(c, r, sizeof r);
  assert_string_equal(r, "us-gov-east-1");
  unlink(path);
  fp_config_free(c);
}

/* ---- aws_http.c against a canned server ------------------------------------------------ */

typedef struct canned {
  int lfd;
  int port;
  int nconn;       /* connections to serve, then exit */
  char last[4096]; /* the last request head + body received */
  pthread_t thread;
} canned;

/* Reads one request (head and Content-Length body) into out. */
static void read_request(int fd, char *out, size_t outsz) {
  size_t n = 0;
  long want = -1;
  while (n + 1 < outsz) {
    ssize_t r = recv(fd, out + n, outsz - 1 - n, 0);
    if (r <= 0) break;
    n += (size_t)r;
    out[n] = '\0';
    char *end = strstr(out, "\r\n\r\n");
    if (!end) continue;
    if (want < 0) {
      char *cl = strcasestr(out, "\r\nContent-Length:");
      want = cl ? strtol(cl + 17, NULL, 10) : 0;
    }
    if ((long)(n - (size_t)(end + 4 - out)) >= want) break;
  }
  out[n] = '\0';
}

static void send_all(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return;
    p += w, n -= (size_t)w;
  }
}

static void *canned_main(void *arg) {
  canned *c = arg;
  for (int i = 0; i < c->nconn; i++) {
    int fd = accept(c->lfd, NULL, NULL);
    if (fd < 0) break;
    char req[4096];
    read_request(fd, req, sizeof req);
    memcpy(c->last, req, sizeof req);
    char head[512];
    const char *body = "hello world";
    static char big[3000];
    int status = 200;
    if (strncmp(req, "GET /err ", 9) == 0) {
      status = 404;
      body = "<Error><Code>NoSuchKey</Code><Message>gone</Message></Error>";
    } else if (strncmp(req, "GET /big ", 9) == 0) {
      memset(big, 'x', sizeof big - 1);
      body = big;
    } else if (strncmp(req, "POST ", 5) == 0 || strncmp(req, "PUT ", 4) == 0) {
      char *b = strstr(req, "\r\n\r\n");
      body = b ? b + 4 : "";
    }
    size_t bl = strlen(body);
    int hl = snprintf(head, sizeof head,
                      "HTTP/1.1 %d X\r\nETag: \"abc\"\r\nContent-Length: %zu\r\n"
                      "Connection: close\r\n\r\n",
                      status, bl);
    send_all(fd, head, (size_t)hl);
    send_all(fd, body, bl);
    close(fd);
  }
  return NULL;
}

static void canned_start(canned *c, int nconn) {
  memset(c, 0, sizeof *c);
  c->nconn = nconn;
  c->lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof a;
  assert_int_equal(bind(c->lfd, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(listen(c->lfd, 8), 0);
  getsockname(c->lfd, (struct sockaddr *)&a, &al);
  c->port = ntohs(a.sin_port);
  assert_int_equal(pthread_create(&c->thread, NULL, canned_main, c), 0);
}

static void canned_stop(canned *c) {
  pthread_join(c->thread, NULL);
  close(c->lfd);
}

typedef struct collect {
  char buf[64];
  size_t n;
  int fail;
} collect;

static fp_err collect_sink(void *ud, const char *p, size_t n, fp_diag *d) {
  collect *c = ud;
  if (c->fail) return fp_diag_set(d, FP_ERR_CSV, "sink refused");
  if (c->n + n >= sizeof c->buf) return FP_ERR_LIMIT;
  memcpy(c->buf + c->n, p, n);
  c->n += n;
  c->buf[c->n] = '\0';
  return FP_OK;
}

static fp_err http(canned *srv, const char *method, const char *path, const char *body,
                   size_t max_body, collect *sink, fp__http_resp *resp, fp_diag *d) {
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%d%s", srv->port, path);
  fp_http_header h[] = {{"X-Test", "1"}};
  fp__http_req rq = {.method = method,
                     .url = url,
                     .headers = h,
                     .nheaders = 1,
                     .body = body,
                     .body_len = body ? strlen(body) : 0,
                     .connect_timeout_ms = 2000,
                     .timeout_ms = 5000,
                     .max_body = max_body,
                     .no_proxy = true,
                     .sink = sink ? collect_sink : NULL,
                     .sink_ud = sink,
                     .what = "test"};
  fp_diag_clear(d);
  return fp__http_do(&rq, resp, d);
}

static void test_http_helper(void **state) {
  (void)state;
  canned srv;
  canned_start(&srv, 7);
  fp__http_resp r;
  fp__http_resp_init(&r);
  fp_diag d;
  char etag[32];
  /* 1. buffered GET, headers */
  assert_int_equal(http(&srv, "GET", "/ok", NULL, 0, NULL, &r, &d), FP_OK);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body.data, "hello world");
  assert_true(fp__http_header_get(&r, "etag", etag, sizeof etag));
  assert_string_equal(etag, "\"abc\"");
  assert_false(fp__http_header_get(&r, "x-missing", etag, sizeof etag));
  assert_non_null(strstr(srv.last, "X-Test: 1\r\n"));
  /* 2. streamed 2xx body */
  collect c = {{0}, 0, 0};
  assert_int_equal(http(&srv, "GET", "/ok", NULL, 0, &c, &r, &d), FP_OK);
  assert_string_equal(c.buf, "hello world");
  assert_int_equal(r.body.len, 0);
  assert_int_equal(r.body_bytes, 11);
  /* 3. a non-2xx body is buffered even with a sink */
  collect c2 = {{0}, 0, 0};
  assert_int_equal(http(&srv, "GET", "/err", NULL, 0, &c2, &r, &d), FP_OK);
  assert_int_equal(r.status, 404);
  assert_int_equal(c2.n, 0);
  char code[32];
  assert_int_equal(fp__xml_text(r.body.data, r.body.len, "Code", code, sizeof code), FP_OK);
  assert_string_equal(code, "NoSuchKey");
  /* 4. body over max_body */
  assert_int_equal(http(&srv, "GET", "/big", NULL, 1000, NULL, &r, &d), FP_ERR_LIMIT);
  assert_non_null(strstr(d.msg, "exceeds 1000 bytes"));
  /* 5. sink error comes back unchanged */
  collect c3 = {{0}, 0, 1};
  assert_int_equal(http(&srv, "GET", "/ok", NULL, 0, &c3, &r, &d), FP_ERR_CSV);
  assert_string_equal(d.msg, "sink refused");
  /* 6. POST: body sent, no curl default Content-Type, no Expect */
  assert_int_equal(http(&srv, "POST", "/echo", "a=1&b=2", 0, NULL, &r, &d), FP_OK);
  assert_string_equal(r.body.data, "a=1&b=2");
  assert_null(strcasestr(srv.last, "Content-Type"));
  assert_null(strcasestr(srv.last, "Expect:"));
  /* 7. PUT stays PUT */
  assert_int_equal(http(&srv, "PUT", "/put", "{}", 0, NULL, &r, &d), FP_OK);
  assert_int_equal(strncmp(srv.last, "PUT /put HTTP/1.1", 17), 0);
  canned_stop(&srv);
  /* the server is gone, nobody listens on its port: transient, names the URL */
  assert_int_equal(http(&srv, "GET", "/x", NULL, 0, NULL, &r, &d), FP_ERR_TRANSIENT);
  assert_non_null(strstr(d.msg, "test: "));
  assert_non_null(strstr(d.msg, "http://127.0.0.1:"));
  /* bad URL and bad header */
  fp__http_req bad = {.method = "GET", .url = "ftp://127.0.0.1/", .what = "test"};
  fp_diag_clear(&d);
  assert_int_equal(fp__http_do(&bad, &r, &d), FP_ERR_CONFIG);
  fp_http_header crlf[] = {{"X-Evil", "a\r\nInjected: 1"}};
  bad.url = "http://127.0.0.1:1/";
  bad.headers = crlf;
  bad.nheaders = 1;
  fp_diag_clear(&d);
  assert_int_equal(fp__http_do(&bad, &r, &d), FP_ERR_INVAL);
  fp__http_resp_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_region_order),  cmocka_unit_test(test_partitions),
      cmocka_unit_test(test_endpoints),     cmocka_unit_test(test_ini_config_and_credentials),
      cmocka_unit_test(test_xml_extractor), cmocka_unit_test(test_sts_parse),
      cmocka_unit_test(test_iso8601),       cmocka_unit_test(test_url_parts),
      cmocka_unit_test(test_aws_files),     cmocka_unit_test(test_http_helper),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
