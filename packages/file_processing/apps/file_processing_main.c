/* file_processing_main.c — the file-processing command: loads configuration, sets up
 * logging, dispatches to a sub-command. Everything else lives in libfp. Invoked as
 * file-processing-sns it behaves as `file-processing serve`. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "fp/fp_log.h"

#define FP_VERSION_STRING "0.1.0"

static const char MAIN_HELP[] =
    "Usage: file-processing [--version] [--help] COMMAND [ARGS]\n"
    "\n"
    "Data-quality checks for client files delivered to S3: streams each object, profiles\n"
    "every column, records the results and writes a JSON report.\n"
    "\n"
    "Commands:\n"
    "  run s3_data_quality_job   process the objects named by an S3 event\n"
    "  profile FILE|-            profile a local CSV file (csvstat-like), no database\n"
    "  rows FILE|-               print the records the CSV reader sees, as JSON lines\n"
    "  runs [list|show|pin|unpin] results history, one run, drift baselines\n"
    "  db migrate                apply results-database migrations\n"
    "  serve                     SNS HTTP listener + in-process workers\n"
    "  worker                    job-queue workers; --sqs-queue-url also consumes SQS\n"
    "  infer FILE|-              draft a dataset contract (YAML) from a file\n"
    "\n"
    "Configuration: flags > environment > packages/file_processing/.env > ./.env > defaults.\n"
    "  DATABASE_URL    results DB (default sqlite:///file_processing.db)\n"
    "  LOCAL_S3_ROOT   read objects from this directory instead of S3\n"
    "  FP_LOG_LEVEL    debug | info | warn | error (default info); FP_LOG_FORMAT text | json\n"
    "\n"
    "Exit status: 0 data valid, 1 data invalid, 2 bad input or usage, 3 transient failure.\n"
    "\n"
    "Examples:\n"
    "  make demo\n"
    "  LOCAL_S3_ROOT=./packages/file_processing/data file-processing run s3_data_quality_job -- \\\n"
    "    --event-json '{\"Records\":[{\"s3\":{\"bucket\":{\"name\":\"b\"},\"object\":{\"key\":\"from_client/nm_albuquerque/Officer_Detail.csv\"}}}]}' \\\n"
    "    --report -\n"
    "  file-processing profile Officer_Detail.csv --report report.json\n"
    "  file-processing runs\n"
    "\n"
    "Run 'file-processing COMMAND --help' for a command's options.\n";

static int dispatch(fp_config *cfg, const char *cmd, int argc, char **argv) {
  if (strcmp(cmd, "run") == 0) return cmd_run(cfg, argc, argv);
  if (strcmp(cmd, "profile") == 0) return cmd_profile(cfg, argc, argv);
  if (strcmp(cmd, "rows") == 0) return cmd_rows(cfg, argc, argv);
  if (strcmp(cmd, "runs") == 0) return cmd_runs(cfg, argc, argv);
  if (strcmp(cmd, "db") == 0) return cmd_db(cfg, argc, argv);
  if (strcmp(cmd, "serve") == 0) return cmd_serve(cfg, argc, argv);
  if (strcmp(cmd, "worker") == 0) return cmd_worker(cfg, argc, argv);
  if (strcmp(cmd, "infer") == 0) return cmd_infer(cfg, argc, argv);
  fprintf(stderr, "file-processing: unknown command '%s'\nTry 'file-processing --help'.\n", cmd);
  return 2;
}

/* Loads the configuration, sets up logging and runs cmd on argv[0..argc). */
static int run_command(const char *cmd, int argc, char **argv) {
  fp_config *cfg = NULL;
  fp_diag d;
  fp_diag_clear(&d);
  if (fp_config_load_default(&cfg, &d)) return cli_fail(&d);
  const char *fmt = fp_config_str(cfg, "FP_LOG_FORMAT", "text");
  fp_log_setup(fp_config_str(cfg, "FP_LOG_LEVEL", "info"), strcmp(fmt, "json") == 0);
  int rc = dispatch(cfg, cmd, argc, argv);
  fp_config_free(cfg);
  return rc;
}

int main(int argc, char **argv) {
  const char *self = strrchr(argv[0], '/');
  self = self ? self + 1 : argv[0];
  if (strcmp(self, "file-processing-sns") == 0) return run_command("serve", argc - 1, argv + 1);
  if (argc < 2) {
    fputs(MAIN_HELP, stderr);
    return 2;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0)
    return fputs(MAIN_HELP, stdout), 0;
  if (strcmp(argv[1], "--version") == 0) return puts("file-processing " FP_VERSION_STRING), 0;
  return run_command(argv[1], argc - 2, argv + 2);
}
