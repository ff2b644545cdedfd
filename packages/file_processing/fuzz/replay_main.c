/* replay_main.c — runs a libFuzzer harness without libFuzzer: LLVMFuzzerTestOneInput on
 * every regular file named on the command line or found (non-recursively, in name order,
 * so runs are reproducible) in a directory named there. Linked with each fuzz/fuzz_*.c into
 * build/fuzz/replay/<name>, which CTest runs over fuzz/corpus/<name>/ in every build
 * (gcc or clang, with or without sanitizers): the committed corpus, crash reproducers
 * included, is a regression suite.
 *
 * Exit 0 when every input ran (a harness that finds a bug aborts, so the test fails);
 * 2 when an argument cannot be read or no input at all was found (an empty corpus would
 * otherwise pass without testing anything). */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional in a harness; weak so harnesses without it link. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int run_file(const char *path, size_t *count) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
    return 2;
  }
  size_t cap = 4096, n = 0;
  uint8_t *buf = malloc(cap);
  for (;;) {
    if (!buf) {
      fclose(f);
      fprintf(stderr, "replay: out of memory\n");
      return 2;
    }
    n += fread(buf + n, 1, cap - n, f);
    if (n < cap) break;
    uint8_t *nb = realloc(buf, cap * 2);
    if (!nb) free(buf);
    buf = nb;
    cap *= 2;
  }
  int bad = ferror(f);
  fclose(f);
  if (bad) {
    free(buf);
    fprintf(stderr, "replay: %s: read error\n", path);
    return 2;
  }
  /* An exact-size copy, so ASan flags a harness or library reading past the input. */
  uint8_t *exact = malloc(n ? n : 1);
  if (!exact) {
    free(buf);
    return 2;
  }
  memcpy(exact, buf, n);
  free(buf);
  LLVMFuzzerTestOneInput(exact, n);
  free(exact);
  (*count)++;
  return 0;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_dir(const char *dir, size_t *count) {
  DIR *dh = opendir(dir);
  if (!dh) {
    fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
    return 2;
  }
  char **names = NULL;
  size_t n = 0, cap = 0;
  int rc = 0;
  struct dirent *de;
  while (!rc && (de = readdir(dh))) {
    if (de->d_name[0] == '.') continue; /* ".", "..", hidden files (.gitkeep) */
    if (n == cap) {
      cap = cap ? cap * 2 : 64;
      char **nn = realloc(names, cap * sizeof *nn);
      if (!nn)
        rc = 2;
      else
        names = nn;
    }
    if (!rc && !(names[n] = strdup(de->d_name))) rc = 2;
    if (!rc) n++;
  }
  closedir(dh);
  if (n) qsort(names, n, sizeof *names, cmp_names);
  for (size_t i = 0; i < n; i++) {
    if (!rc) {
      size_t len = strlen(dir) + strlen(names[i]) + 2;
      char *path = malloc(len);
      struct stat st;
      if (!path)
        rc = 2;
      else {
        snprintf(path, len, "%s/%s", dir, names[i]);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) rc = run_file(path, count);
      }
      free(path);
    }
    free(names[i]);
  }
  free(names);
  return rc;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s DIR_OR_FILE...\n", argv[0]);
    return 2;
  }
  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
  size_t count = 0;
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) != 0) {
      fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
      return 2;
    }
    int rc = S_ISDIR(st.st_mode) ? run_dir(argv[i], &count) : run_file(argv[i], &count);
    if (rc) return rc;
  }
  if (count == 0) {
    fprintf(stderr, "replay: no input found\n");
    return 2;
  }
  printf("replay: %zu inputs ran\n", count);
  return 0;
}
