/* fuzz_objstore.c — libFuzzer harness for object key decoding (fp_s3_key_decode, as event
 * keys arrive) and local path resolution (fp_objstore_local_new / fp_objstore_stream,
 * src/store/objstore.c). The invariant: whatever the bucket and key, a read never resolves
 * outside the store root.
 *
 * At start-up it builds a scratch tree under $TMPDIR (removed at exit):
 *   outside/secret.csv          "OUTSIDE" — must never be read
 *   root/bucket/dir/a.csv       "inside"   root/plain.csv "inside"
 *   root/bucket/up   -> ../../outside      (directory symlink leaving the root)
 *   root/leak.csv    -> ../outside/secret.csv
 *   root/bucket/same -> dir                (symlink staying inside)
 *   root/bucket/loop -> loop
 * Input layout: bucket, a NUL byte, key (no NUL: bucket "bucket", the whole input is the
 * key). The key is used as given and, when it decodes, form-decoded as an event key would
 * be. A successful read must report a location under the real root, and its bytes must
 * never be the outside file's; errors must carry their code in the diag. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fp/fp_event.h"
#include "fp/fp_log.h"
#include "fp/fp_objstore.h"

static char base[256], root[512], real_root[4096];
static fp_objstore *S;

static void die(const char *what) {
  fprintf(stderr, "fuzz_objstore: %s: %s\n", what, strerror(errno));
  abort();
}

static void put(const char *rel, const char *text) {
  char p[1024];
  snprintf(p, sizeof p, "%s/%s", base, rel);
  FILE *f = fopen(p, "w");
  if (!f || fputs(text, f) < 0 || fclose(f) != 0) die(p);
}

static void dir(const char *rel) {
  char p[1024];
  snprintf(p, sizeof p, "%s/%s", base, rel);
  if (mkdir(p, 0700) != 0) die(p);
}

static void link_(const char *target, const char *rel) {
  char p[1024];
  snprintf(p, sizeof p, "%s/%s", base, rel);
  if (symlink(target, p) != 0) die(p);
}

static void rm(const char *rel, int is_dir) {
  char p[1024];
  snprintf(p, sizeof p, "%s/%s", base, rel);
  if (is_dir)
    rmdir(p);
  else
    unlink(p);
}

static void cleanup(void) {
  fp_objstore_free(S);
  static const char *const files[] = {
      "outside/secret.csv", "root/bucket/dir/a.csv", "root/plain.csv",  "root/bucket/up",
      "root/leak.csv",      "root/bucket/same",      "root/bucket/loop"};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) rm(files[i], 0);
  static const char *const dirs[] = {"root/bucket/dir", "root/bucket", "root", "outside"};
  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) rm(dirs[i], 1);
  rmdir(base);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  fp_log_set_level(FP_LOG_OFF);
  const char *tmp = getenv("TMPDIR");
  snprintf(base, sizeof base, "%s/fuzz-objstore-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(base)) die("mkdtemp");
  dir("outside");
  dir("root");
  dir("root/bucket");
  dir("root/bucket/dir");
  put("outside/secret.csv", "OUTSIDE\n");
  put("root/bucket/dir/a.csv", "inside\n");
  put("root/plain.csv", "inside\n");
  link_("../../outside", "root/bucket/up");
  link_("../outside/secret.csv", "root/leak.csv");
  link_("dir", "root/bucket/same");
  link_("loop", "root/bucket/loop");
  atexit(cleanup);
  snprintf(root, sizeof root, "%s/root", base);
  if (!realpath(root, real_root)) die("realpath");
  fp_diag d;
  fp_diag_clear(&d);
  if (fp_objstore_local_new(root, &S, &d)) {
    fprintf(stderr, "fuzz_objstore: %s\n", d.msg);
    abort();
  }
  return 0;
}

typedef struct got {
  char buf[64];
  size_t n;
} got;

static fp_err sink(void *ud, const char *buf, size_t n, fp_diag *d) {
  (void)d;
  got *g = ud;
  for (size_t i = 0; i < n; i++) /* every byte touched; the first 63 kept */
    if (g->n < sizeof g->buf - 1) g->buf[g->n++] = buf[i];
  g->buf[g->n] = '\0';
  return FP_OK;
}

static void read_one(const char *bucket, const char *key) {
  fp_object_ref ref;
  memset(&ref, 0, sizeof ref);
  ref.bucket = (char *)bucket;
  ref.key = (char *)key;
  got g = {{0}, 0};
  fp_object_info info;
  fp_diag d;
  fp_diag_clear(&d);
  fp_err e = fp_objstore_stream(S, &ref, sink, &g, &info, &d);
  if (e) {
    if (d.code != e) __builtin_trap();
    return;
  }
  size_t rl = strlen(real_root);
  if (strncmp(info.location, real_root, rl) != 0 || info.location[rl] != '/') {
    fprintf(stderr, "read outside the root: bucket \"%s\" key \"%s\" -> %s\n", bucket, key,
            info.location);
    __builtin_trap();
  }
  if (strstr(g.buf, "OUTSIDE")) {
    fprintf(stderr, "outside bytes read: bucket \"%s\" key \"%s\"\n", bucket, key);
    __builtin_trap();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 8192) return 0; /* PATH_MAX-sized keys are covered well below this */
  char *in = malloc(size + 1);
  if (!in) return 0;
  memcpy(in, data, size);
  in[size] = '\0';
  const char *bucket = "bucket", *key = in;
  char *nul = memchr(in, '\0', size);
  if (nul) bucket = in, key = nul + 1;
  read_one(bucket, key);
  char *dec = NULL;
  fp_diag d;
  fp_diag_clear(&d);
  size_t klen = size - (size_t)(key - in);
  fp_err e = fp_s3_key_decode(key, klen, &dec, &d);
  if (e) {
    if (dec || d.code != e) __builtin_trap();
  } else {
    if (!dec || strlen(dec) > klen) __builtin_trap();
    read_one(bucket, dec);
    free(dec);
  }
  free(in);
  return 0;
}
