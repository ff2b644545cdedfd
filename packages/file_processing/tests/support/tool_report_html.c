/* tool_report_html.c — renders a report JSON file to HTML on stdout (test tool), so the
 * browser test can open a handcrafted report with every optional part present. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fp/fp_buf.h"
#include "fp/fp_report_html.h"

int main(int argc, char **argv) {
  if (argc != 2) {
    fputs("usage: tool_report_html REPORT.json > REPORT.html\n", stderr);
    return 2;
  }
  fp_buf b;
  fp_buf_init(&b, 256u << 20);
  int err = 0;
  if (fp_buf_read_file(&b, argv[1], &err)) {
    fprintf(stderr, "tool_report_html: cannot read %s: %s\n", argv[1], strerror(err));
    return 2;
  }
  char *html = NULL;
  fp_diag d;
  fp_diag_clear(&d);
  fp_err e = fp_report_html_render(b.data ? b.data : "", &html, &d);
  fp_buf_free(&b);
  if (e) {
    fprintf(stderr, "tool_report_html: %s\n", d.msg);
    return 2;
  }
  fputs(html, stdout);
  free(html);
  return 0;
}
