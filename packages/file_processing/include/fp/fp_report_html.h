/* fp_report_html.h — the JSON report (docs/report.md) as one self-contained HTML page.
 *
 * For analysts who want to look rather than read JSON: a verdict banner, table stats, one
 * row per column with a small inline SVG chart, findings grouped by code and column with
 * their sample rows, drift findings in their own group, and the contract used. The page
 * has inline CSS and SVG only: no script, no external asset, no network; it reads at
 * desktop and at phone width. Every string taken from the report is HTML-escaped, so a
 * hostile cell value (`<script>`, quotes, `&`) comes out as inert text.
 *
 * The renderer reads the JSON text, not the in-memory profiler, so a stored report
 * (`runs show ID`, an uploaded .report.json) renders the same as a fresh one. */
#ifndef FP_REPORT_HTML_H
#define FP_REPORT_HTML_H

#include "fp/fp_err.h"

/* Largest page rendered; a report that would exceed it fails with FP_ERR_LIMIT. */
#define FP_REPORT_HTML_MAX (64u << 20)

/* Renders report_json (one report object, or a JSON array of them as `run` writes for
 * several objects) into *html: owned, free with free(). Section ids (for links and tests):
 * "verdict", "stats", "columns", "findings", "drift" (only when the report compares with a
 * baseline or has drift findings), "contract"; in an array the n-th report (n >= 2) has
 * them suffixed "-n". Malformed JSON or a document that is not a report gives FP_ERR_JSON
 * with the line and column, or what is missing, in d. */
fp_err fp_report_html_render(const char *report_json, char **html, fp_diag *d);

#endif
