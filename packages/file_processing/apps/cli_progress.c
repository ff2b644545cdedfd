/* cli_progress.c — the progress bar of `run` and `profile` on standard error.
 *
 * Only for people watching a terminal: when stderr is not a tty (CI logs, pipes, the
 * service) nothing is ever written. The library calls cli_progress_cb once per chunk read;
 * drawing is throttled here to at most 8 redraws a second, and cli_progress_clear wipes
 * the line so the summary that follows starts on a clean line. */
#include "cli.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

enum { REDRAW_NS = 125 * 1000 * 1000 }; /* 8 per second */

static double secs_between(const struct timespec *a, const struct timespec *b) {
  return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

void cli_progress_init(cli_progress *p, bool quiet) {
  memset(p, 0, sizeof *p);
  p->on = !quiet && isatty(STDERR_FILENO);
}

void cli_progress_start(cli_progress *p, const char *label) {
  if (!p->on) return;
  snprintf(p->label, sizeof p->label, "%s", label ? label : "");
  clock_gettime(CLOCK_MONOTONIC, &p->t0);
  p->drawn = false;
}

static void human(double b, char *out, size_t n) {
  if (b >= 1024.0 * 1024 * 1024) snprintf(out, n, "%.2f GiB", b / (1024.0 * 1024 * 1024));
  else if (b >= 1024.0 * 1024) snprintf(out, n, "%.1f MiB", b / (1024.0 * 1024));
  else if (b >= 1024.0) snprintf(out, n, "%.1f KiB", b / 1024.0);
  else snprintf(out, n, "%.0f B", b);
}

static int term_width(void) {
  struct winsize ws;
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20) return ws.ws_col;
  return 80;
}

/* The label, shortened from the left so the end of a long key stays visible. */
static const char *label_tail(const char *l, int room) {
  size_t n = strlen(l);
  if (room <= 0) return "";
  if ((int)n <= room) return l;
  const char *s = l + n - (size_t)room;
  while ((*s & 0xC0) == 0x80) s++; /* not in the middle of a UTF-8 sequence */
  return s;
}

/* Scale for a byte count: divisor and unit name, so done and total share one unit. */
static double scale(double b, const char **unit) {
  static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double div = 1;
  int u = 0;
  while (b >= 1024.0 * div && u < 4) div *= 1024.0, u++;
  *unit = units[u];
  return div;
}

/* One line: "<label> [#####-----]  45% 28.8/64.0 MiB 12.0 MiB/s ETA 0:03", or with an
 * unknown total "<label> 28.8 MiB read 12.0 MiB/s". Fields keep a fixed width while the
 * run goes on, so the bar does not jump about; the label gives way first on narrow
 * terminals, then the bar. */
static void draw(cli_progress *p, uint64_t done, int64_t total, double el) {
  char rate[32], tail[160];
  double bps = el > 0 ? (double)done / el : 0;
  human(bps, rate, sizeof rate);
  int width = term_width() - 1; /* never touch the last column: some terminals wrap there */
  const char *unit;
  if (total > 0) {
    double f = (double)done / (double)total, div = scale((double)total, &unit);
    if (f > 1) f = 1;
    double eta = bps > 0 ? ((double)total - (double)done) / bps : 0;
    if (eta < 0) eta = 0;
    snprintf(tail, sizeof tail, " %3.0f%% %6.1f/%.1f %s %10s/s ETA %d:%02d", f * 100,
             (double)done / div, (double)total / div, unit, rate, (int)eta / 60, (int)eta % 60);
    int label = (int)strlen(p->label);
    if (label > width / 4) label = width / 4;
    int bar = width - (int)strlen(tail) - label - 3;
    if (bar > 30) bar = 30;
    char cells[40] = "";
    if (bar >= 8) { /* "[####------]", dropped on very narrow terminals */
      int fill = (int)(f * bar), i = 0;
      cells[i++] = ' ';
      cells[i++] = '[';
      for (int k = 0; k < bar; k++) cells[i++] = k < fill ? '#' : '-';
      cells[i++] = ']';
      cells[i] = '\0';
    }
    int room = width - (int)strlen(tail) - (int)strlen(cells);
    fprintf(stderr, "\r\033[K%s%s%s", label_tail(p->label, room), cells, tail);
  } else {
    char d[32];
    human((double)done, d, sizeof d);
    snprintf(tail, sizeof tail, " %10s read %10s/s", d, rate);
    fprintf(stderr, "\r\033[K%s%s", label_tail(p->label, width - (int)strlen(tail)), tail);
  }
  fflush(stderr);
  p->drawn = true;
}

void cli_progress_cb(void *ud, uint64_t done, int64_t total) {
  cli_progress *p = ud;
  if (!p->on) return;
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  if (p->drawn && secs_between(&p->last, &now) < REDRAW_NS / 1e9) return;
  p->last = now;
  draw(p, done, total, secs_between(&p->t0, &now));
}

void cli_progress_clear(cli_progress *p) {
  if (!p->on || !p->drawn) return;
  fputs("\r\033[K", stderr);
  fflush(stderr);
  p->drawn = false;
}

void cli_progress_attach(cli_progress *p, fp_job_opts *jo) {
  if (!p->on) return;
  jo->progress = cli_progress_cb;
  jo->progress_ud = p;
}
