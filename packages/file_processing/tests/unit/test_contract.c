/* test_contract.c — contract loading (YAML and JSON to the same struct, defaults, every
 * error class with its line and key path, document limits), the glob dialect of "match:",
 * contract lookup by key, severity overrides, and the shipped officer_detail.yaml. */
#include "fp_test.h"

#include <dirent.h>
#include <time.h>

#include "fp/fp_contract.h"
#include "quality/contract_int.h"

/* ---- helpers ------------------------------------------------------------------------- */

static fp_contract *load_ok(const char *text, const char *hint) {
  fp_diag d;
  fp_diag_clear(&d);
  fp_contract *c = NULL;
  fp_err e = fp_contract_load_text(text, strlen(text), hint, &c, &d);
  if (e) fail_msg("%s: expected FP_OK, got %s: %s", hint, fp_err_name(e), d.msg);
  assert_non_null(c);
  return c;
}

/* The message must start "line N:" or "line N," and contain path and what. */
static void check_error(const char *name, fp_err e, const fp_diag *d, int line, const char *path,
                        const char *what) {
  if (e != FP_ERR_CONTRACT)
    fail_msg("%s: expected CONTRACT, got %s: %s", name, fp_err_name(e), d->msg);
  assert_int_equal(d->code, FP_ERR_CONTRACT);
  char want[32];
  snprintf(want, sizeof want, "line %d", line);
  size_t n = strlen(want);
  if (strncmp(d->msg, want, n) || (d->msg[n] != ':' && d->msg[n] != ','))
    fail_msg("%s: expected the message to start with \"%s:\", got \"%s\"", name, want, d->msg);
  if (path && !strstr(d->msg, path))
    fail_msg("%s: expected key path \"%s\" in \"%s\"", name, path, d->msg);
  if (what && !strstr(d->msg, what)) fail_msg("%s: expected \"%s\" in \"%s\"", name, what, d->msg);
}

static void expect_error(const char *name, const char *text, const char *hint, int line,
                         const char *path, const char *what) {
  fp_diag d;
  fp_diag_clear(&d);
  fp_contract *c = NULL;
  fp_err e = fp_contract_load_text(text, strlen(text), hint, &c, &d);
  if (c) {
    fp_contract_free(c);
    fail_msg("%s: expected CONTRACT, the contract loaded", name);
  }
  check_error(name, e, &d, line, path, what);
  assert_string_equal(d.key, hint);
}

static void write_file(const char *dir, const char *name, const char *text) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
  assert_int_equal(fclose(f), 0);
}

static void assert_strv_equal(char **a, size_t na, char **b, size_t nb) {
  assert_int_equal(na, nb);
  assert_true((a == NULL) == (b == NULL));
  for (size_t i = 0; i < na; i++) assert_string_equal(a[i], b[i]);
}

static void assert_optstr_equal(const char *a, const char *b) {
  if (!a || !b) {
    assert_ptr_equal(a, b);
    return;
  }
  assert_string_equal(a, b);
}

static void assert_contracts_equal(const fp_contract *a, const fp_contract *b) {
  assert_string_equal(a->name, b->name);
  assert_string_equal(a->path, b->path);
  assert_strv_equal(a->match, a->nmatch, b->match, b->nmatch);
  assert_int_equal(a->has_dialect, b->has_dialect);
  assert_memory_equal(&a->dialect, &b->dialect, sizeof a->dialect);
  assert_int_equal(a->nfields, b->nfields);
  for (size_t i = 0; i < a->nfields; i++) {
    const fp_field *x = &a->fields[i], *y = &b->fields[i];
    assert_string_equal(x->name, y->name);
    assert_int_equal(x->type, y->type);
    assert_optstr_equal(x->format, y->format);
    assert_optstr_equal(x->title, y->title);
    assert_optstr_equal(x->description, y->description);
    assert_int_equal(x->decimal_char, y->decimal_char);
    assert_int_equal(x->group_char, y->group_char);
    assert_int_equal(x->bare_number, y->bare_number);
    assert_strv_equal(x->true_values, x->ntrue, y->true_values, y->ntrue);
    assert_strv_equal(x->false_values, x->nfalse, y->false_values, y->nfalse);
    assert_int_equal(x->has_missing_values, y->has_missing_values);
    assert_strv_equal(x->missing_values, x->nmissing, y->missing_values, y->nmissing);
    assert_int_equal(x->required, y->required);
    assert_int_equal(x->unique, y->unique);
    assert_optstr_equal(x->minimum, y->minimum);
    assert_optstr_equal(x->maximum, y->maximum);
    assert_optstr_equal(x->exclusive_minimum, y->exclusive_minimum);
    assert_optstr_equal(x->exclusive_maximum, y->exclusive_maximum);
    assert_int_equal(x->min_length, y->min_length);
    assert_int_equal(x->max_length, y->max_length);
    assert_optstr_equal(x->pattern, y->pattern);
    assert_strv_equal(x->enum_values, x->nenum, y->enum_values, y->nenum);
  }
  assert_strv_equal(a->missing_values, a->nmissing, b->missing_values, b->nmissing);
  assert_int_equal(a->npk, b->npk);
  for (size_t i = 0; i < a->npk; i++) assert_int_equal(a->primary_key[i], b->primary_key[i]);
  assert_int_equal(a->fields_match, b->fields_match);
  assert_int_equal(a->rows_min, b->rows_min);
  assert_int_equal(a->rows_max, b->rows_max);
  assert_int_equal(a->extra_columns, b->extra_columns);
  assert_int_equal(a->missing_columns, b->missing_columns);
  assert_int_equal(a->column_order, b->column_order);
  assert_true(a->max_error_rate == b->max_error_rate);
  assert_int_equal(a->noverrides, b->noverrides);
  for (size_t i = 0; i < a->noverrides; i++) {
    assert_string_equal(a->overrides[i].code, b->overrides[i].code);
    assert_int_equal(a->overrides[i].severity, b->overrides[i].severity);
    assert_int_equal(a->overrides[i].ignore, b->overrides[i].ignore);
  }
  assert_int_equal(a->sample_cap, b->sample_cap);
}

/* ---- YAML and JSON give the same contract -------------------------------------------- */

static const char FULL_YAML[] =
    "# every key the format has\n"
    "name: people\n"
    "description: People register\n"
    "match: [\"data/*/people*.csv\", \"archive/**/people.csv\"]\n"
    "dialect: {delimiter: \";\", quoteChar: \"'\", doubleQuote: false, escapeChar: '\\',\n"
    "          header: true, skipInitialSpace: true, lineTerminator: \"\\r\\n\"}\n"
    "schema:\n"
    "  missingValues: [\"\", NA, \"-\"]\n"
    "  primaryKey: [id, email]\n"
    "  fieldsMatch: subset\n"
    "  fields:\n"
    "    - name: id\n"
    "      type: integer\n"
    "      constraints: {required: true, unique: true, minimum: 1, maximum: 1.0e6}\n"
    "    - name: email\n"
    "      type: string\n"
    "      format: email\n"
    "      constraints: {pattern: \"[^@]+@[^@]+\", minLength: 3, maxLength: 254}\n"
    "    - name: score\n"
    "      type: number\n"
    "      decimalChar: \",\"\n"
    "      groupChar: \".\"\n"
    "      bareNumber: false\n"
    "      missingValues: [\"n/a\"]\n"
    "      constraints: {exclusiveMinimum: -0.5, exclusiveMaximum: 100.25, enum: [1, 2.5, \"3\"]}\n"
    "    - name: active\n"
    "      type: boolean\n"
    "      trueValues: [\"Y\", \"yes\"]\n"
    "      falseValues: [N]\n"
    "    - name: born\n"
    "      type: date\n"
    "      format: \"%d/%m/%Y\"\n"
    "      title: Birth date\n"
    "      description: Day of birth\n"
    "      rdfType: \"https://schema.org/birthDate\"\n"
    "      example: \"01/02/2000\"\n"
    "      constraints: {minimum: \"1900-01-01\"}\n"
    "checks:\n"
    "  rows: {min: 1, max: 1000000}\n"
    "  extraColumns: warn\n"
    "  missingColumns: ignore\n"
    "  columnOrder: error\n"
    "  maxErrorRate: 0.01\n"
    "  severity: {type-error: warning, blank-row: ignore, extra-cell: info, error-rate: error}\n"
    "  sampleCap: 25\n";

static const char FULL_JSON[] =
    "{\n"
    "  \"name\": \"people\",\n"
    "  \"description\": \"People register\",\n"
    "  \"match\": [\"data/*/people*.csv\", \"archive/**/people.csv\"],\n"
    "  \"dialect\": {\"delimiter\": \";\", \"quoteChar\": \"'\", \"doubleQuote\": false,\n"
    "              \"escapeChar\": \"\\\\\", \"header\": true, \"skipInitialSpace\": true,\n"
    "              \"lineTerminator\": \"\\r\\n\"},\n"
    "  \"schema\": {\n"
    "    \"missingValues\": [\"\", \"NA\", \"-\"],\n"
    "    \"primaryKey\": [\"id\", \"email\"],\n"
    "    \"fieldsMatch\": \"subset\",\n"
    "    \"fields\": [\n"
    "      {\"name\": \"id\", \"type\": \"integer\",\n"
    "       \"constraints\": {\"required\": true, \"unique\": true, \"minimum\": 1,\n"
    "                       \"maximum\": 1000000.0}},\n"
    "      {\"name\": \"email\", \"type\": \"string\", \"format\": \"email\",\n"
    "       \"constraints\": {\"pattern\": \"[^@]+@[^@]+\", \"minLength\": 3, \"maxLength\": "
    "254}},\n"
    "      {\"name\": \"score\", \"type\": \"number\", \"decimalChar\": \",\", \"groupChar\": "
    "\".\",\n"
    "       \"bareNumber\": false, \"missingValues\": [\"n/a\"],\n"
    "       \"constraints\": {\"exclusiveMinimum\": -0.5, \"exclusiveMaximum\": 100.25,\n"
    "                       \"enum\": [1, 2.5, \"3\"]}},\n"
    "      {\"name\": \"active\", \"type\": \"boolean\", \"trueValues\": [\"Y\", \"yes\"],\n"
    "       \"falseValues\": [\"N\"]},\n"
    "      {\"name\": \"born\", \"type\": \"date\", \"format\": \"%d/%m/%Y\", \"title\": \"Birth "
    "date\",\n"
    "       \"description\": \"Day of birth\", \"rdfType\": \"https://schema.org/birthDate\",\n"
    "       \"example\": \"01/02/2000\", \"constraints\": {\"minimum\": \"1900-01-01\"}}\n"
    "    ]\n"
    "  },\n"
    "  \"checks\": {\n"
    "    \"rows\": {\"min\": 1, \"max\": 1000000}, \"extraColumns\": \"warn\",\n"
    "    \"missingColumns\": \"ignore\", \"columnOrder\": \"error\", \"maxErrorRate\": 0.01,\n"
    "    \"severity\": {\"type-error\": \"warning\", \"blank-row\": \"ignore\",\n"
    "                 \"extra-cell\": \"info\", \"error-rate\": \"error\"},\n"
    "    \"sampleCap\": 25\n"
    "  }\n"
    "}\n";

static void test_yaml_and_json_load_the_same(void **state) {
  (void)state;
  fp_contract *y = load_ok(FULL_YAML, "people.yaml");
  fp_contract *j = load_ok(FULL_JSON, "people.json");
  assert_contracts_equal(y, j);
  /* and what they hold */
  assert_string_equal(y->name, "people");
  assert_string_equal(y->path, "<text>");
  assert_int_equal(y->nmatch, 2);
  assert_string_equal(y->match[1], "archive/**/people.csv");
  assert_true(y->has_dialect);
  assert_int_equal(y->dialect.delimiter, ';');
  assert_int_equal(y->dialect.quote_char, '\'');
  assert_int_equal(y->dialect.escape_char, '\\');
  assert_false(y->dialect.double_quote);
  assert_true(y->dialect.header);
  assert_true(y->dialect.skip_initial_space);
  assert_int_equal(y->nfields, 5);
  assert_int_equal(y->fields[0].type, FP_FT_INTEGER);
  assert_true(y->fields[0].required && y->fields[0].unique);
  assert_string_equal(y->fields[0].minimum, "1");
  assert_string_equal(y->fields[0].maximum, "1000000"); /* 1.0e6: shortest text */
  assert_string_equal(y->fields[1].format, "email");
  assert_int_equal(y->fields[1].min_length, 3);
  assert_int_equal(y->fields[1].max_length, 254);
  assert_string_equal(y->fields[1].pattern, "[^@]+@[^@]+");
  assert_int_equal(y->fields[2].decimal_char, ',');
  assert_int_equal(y->fields[2].group_char, '.');
  assert_false(y->fields[2].bare_number);
  assert_true(y->fields[2].has_missing_values);
  assert_string_equal(y->fields[2].exclusive_minimum, "-0.5");
  assert_string_equal(y->fields[2].exclusive_maximum, "100.25");
  assert_int_equal(y->fields[2].nenum, 3);
  assert_string_equal(y->fields[2].enum_values[0], "1");
  assert_string_equal(y->fields[2].enum_values[1], "2.5");
  assert_string_equal(y->fields[2].enum_values[2], "3");
  assert_int_equal(y->fields[3].ntrue, 2);
  assert_string_equal(y->fields[3].false_values[0], "N");
  assert_string_equal(y->fields[4].format, "%d/%m/%Y");
  assert_string_equal(y->fields[4].title, "Birth date");
  assert_string_equal(y->fields[4].minimum, "1900-01-01");
  assert_int_equal(y->nmissing, 3);
  assert_string_equal(y->missing_values[1], "NA");
  assert_int_equal(y->npk, 2);
  assert_int_equal(y->primary_key[0], 0);
  assert_int_equal(y->primary_key[1], 1);
  assert_int_equal(y->fields_match, FP_FIELDS_SUBSET);
  assert_int_equal(y->rows_min, 1);
  assert_int_equal(y->rows_max, 1000000);
  assert_int_equal(y->extra_columns, FP_POLICY_WARN);
  assert_int_equal(y->missing_columns, FP_POLICY_IGNORE);
  assert_int_equal(y->column_order, FP_POLICY_ERROR);
  assert_true(y->max_error_rate == 0.01);
  assert_int_equal(y->noverrides, 4);
  assert_string_equal(y->overrides[0].code, "type-error");
  assert_int_equal(y->overrides[0].severity, FP_SEV_WARNING);
  assert_true(y->overrides[1].ignore);
  assert_int_equal(y->overrides[2].severity, FP_SEV_INFO);
  assert_false(y->overrides[3].ignore);
  assert_int_equal(y->sample_cap, 25);
  fp_contract_free(y);
  fp_contract_free(j);
}

static void test_drift_section(void **state) {
  (void)state;
  fp_contract *c = load_ok("schema:\n  fields:\n    - name: a\n", "d.yaml");
  fp_drift_opts def;
  fp_drift_opts_default(&def);
  for (int k = 0; k < FP_DRIFT__COUNT; k++) { /* absent section: the defaults */
    assert_false(c->drift.rule[k].ignore);
    assert_int_equal(c->drift.rule[k].severity, FP_SEV_WARNING);
    assert_true(c->drift.rule[k].max_change == def.rule[k].max_change);
  }
  fp_contract_free(c);
  c = load_ok("schema:\n  fields:\n    - name: a\n"
              "drift:\n"
              "  schema: error\n"
              "  volume: {severity: info, maxChange: 2}\n"
              "  missing: {maxChange: 0.1}\n"
              "  distribution: {maxShift: 0.3, maxDistinctChange: 0.25}\n"
              "  category: ignore\n",
              "d.yaml");
  assert_int_equal(c->drift.rule[FP_DRIFT_SCHEMA].severity, FP_SEV_ERROR);
  assert_int_equal(c->drift.rule[FP_DRIFT_VOLUME].severity, FP_SEV_INFO);
  assert_true(c->drift.rule[FP_DRIFT_VOLUME].max_change == 2.0);
  assert_int_equal(c->drift.rule[FP_DRIFT_MISSING].severity, FP_SEV_WARNING);
  assert_true(c->drift.rule[FP_DRIFT_MISSING].max_change == 0.1);
  assert_true(c->drift.rule[FP_DRIFT_DISTRIBUTION].max_change == 0.3);
  assert_true(c->drift.rule[FP_DRIFT_DISTRIBUTION].max_distinct_change == 0.25);
  assert_true(c->drift.rule[FP_DRIFT_CATEGORY].ignore);
  fp_contract_free(c);
  /* drift codes are known to checks.severity too */
  c = load_ok("schema:\n  fields:\n    - name: a\nchecks:\n  severity: {volume-drift: error}\n",
              "d.yaml");
  assert_int_equal(c->noverrides, 1);
  fp_contract_free(c);
}

static void test_defaults(void **state) {
  (void)state;
  fp_contract *c = load_ok("schema:\n  fields:\n    - name: a\n", "dir/minimal.contract.yaml");
  assert_string_equal(c->name, "minimal.contract"); /* base name without extension */
  assert_int_equal(c->nmatch, 0);
  assert_false(c->has_dialect);
  assert_int_equal(c->nfields, 1);
  assert_int_equal(c->fields[0].type, FP_FT_STRING);
  assert_null(c->fields[0].format);
  assert_false(c->fields[0].required);
  assert_int_equal(c->fields[0].min_length, -1);
  assert_int_equal(c->nmissing, 1);
  assert_string_equal(c->missing_values[0], "");
  assert_int_equal(c->npk, 0);
  assert_int_equal(c->fields_match, FP_FIELDS_EXACT);
  assert_int_equal(c->rows_min, -1);
  assert_int_equal(c->rows_max, -1);
  assert_int_equal(c->extra_columns, FP_POLICY_ERROR);
  assert_int_equal(c->missing_columns, FP_POLICY_ERROR);
  assert_int_equal(c->column_order, FP_POLICY_ERROR);
  assert_true(c->max_error_rate < 0);
  assert_int_equal(c->noverrides, 0);
  assert_int_equal(c->sample_cap, 0);
  fp_contract_free(c);

  /* JSON sniffed from the text when the hint has no known extension; a lone dialect key
   * keeps the CSV Dialect defaults for the others; "default" format is no format */
  c = load_ok(
      " {\"schema\": {\"fields\": [{\"name\": \"a\", \"format\": \"default\"}],"
      " \"primaryKey\": \"a\"}, \"dialect\": {\"delimiter\": \"|\"}, \"match\": \"x/*\"}",
      "inline");
  assert_string_equal(c->name, "inline");
  assert_null(c->fields[0].format);
  assert_int_equal(c->npk, 1);
  assert_int_equal(c->nmatch, 1);
  assert_true(c->has_dialect);
  assert_int_equal(c->dialect.delimiter, '|');
  assert_int_equal(c->dialect.quote_char, '"');
  assert_true(c->dialect.double_quote);
  assert_true(c->dialect.header);
  fp_contract_free(c);

  /* quoteChar/escapeChar "" or null: none */
  c = load_ok("dialect: {quoteChar: \"\", escapeChar: null}\nschema: {fields: [{name: a}]}\n",
              "t.yaml");
  assert_int_equal(c->dialect.quote_char, 0);
  assert_int_equal(c->dialect.escape_char, 0);
  fp_contract_free(c);
}

/* YAML 1.2 core schema: plain scalars that look like numbers are numbers (their shortest
 * text is stored), quoted ones are strings; booleans in enums become true/false. */
static void test_scalar_resolution(void **state) {
  (void)state;
  fp_contract *c = load_ok(
      "schema:\n"
      "  fields:\n"
      "    - {name: a, type: number, constraints: {minimum: 0.10, maximum: +1e3}}\n"
      "    - {name: b, type: integer, constraints: {minimum: 0x10, maximum: 0o20}}\n"
      "    - {name: c, type: boolean, constraints: {enum: [true, False]}}\n"
      "    - {name: d, type: number, constraints: {minimum: -.inf, maximum: 1.5e-7}}\n"
      "    - {name: e, constraints: {enum: [\"007\", 007, ~x, !!str 12, '0x10']}}\n",
      "s.yaml");
  assert_string_equal(c->fields[0].minimum, "0.1");
  assert_string_equal(c->fields[0].maximum, "1000");
  assert_string_equal(c->fields[1].minimum, "16");
  assert_string_equal(c->fields[1].maximum, "16");
  assert_string_equal(c->fields[2].enum_values[0], "true");
  assert_string_equal(c->fields[2].enum_values[1], "false");
  assert_string_equal(c->fields[3].minimum, "-INF");
  assert_string_equal(c->fields[3].maximum, "1.5e-07");
  assert_string_equal(c->fields[4].enum_values[0], "007");
  assert_string_equal(c->fields[4].enum_values[1], "7");
  assert_string_equal(c->fields[4].enum_values[2], "~x");
  assert_string_equal(c->fields[4].enum_values[3], "12");
  assert_string_equal(c->fields[4].enum_values[4], "0x10"); /* quoted: the string as written */
  fp_contract_free(c);
}

/* ---- errors: line, key path, what was expected --------------------------------------- */

typedef struct err_case {
  const char *name, *hint, *text;
  int line;
  const char *path, *what;
} err_case;

#define F1 "schema:\n  fields:\n    - name: a\n" /* lines 1-3 */

static const err_case ERR_CASES[] = {
    {"unknown top-level key", "c.yaml", F1 "chekcs: {}\n", 4, "chekcs",
     "unknown key; did you mean \"checks\"?"},
    {"unknown key, no near miss", "c.yaml", F1 "owner: me\n", 4, "owner",
     "unknown key (allowed contract keys: name, description, match, dialect, schema, checks, "
     "drift)"},
    {"drift: unknown kind", "c.yaml", F1 "drift:\n  volum: warning\n", 5, "drift.volum",
     "unknown key; did you mean \"volume\"?"},
    {"drift: threshold of another kind", "c.yaml", F1 "drift:\n  volume: {maxShift: 0.1}\n", 5,
     "drift.volume.maxShift", "allowed drift.volume keys: severity, maxChange"},
    {"drift: typo in a threshold", "c.yaml",
     F1 "drift:\n  distribution:\n    maxDistinctChang: 0.1\n", 6,
     "drift.distribution.maxDistinctChang", "did you mean \"maxDistinctChange\"?"},
    {"drift: bad severity", "c.yaml", F1 "drift:\n  schema: fatal\n", 5, "drift.schema",
     "expected one of error, warning, info, ignore"},
    {"drift: fraction out of range", "c.yaml", F1 "drift:\n  missing: {maxChange: 1.5}\n", 5,
     "drift.missing.maxChange", "expected a number from 0 to 1"},
    {"drift: not a mapping", "c.yaml", F1 "drift: [schema]\n", 4, "drift", "a mapping"},
    {"unknown field key", "c.yaml", F1 "      contraints: {required: true}\n", 4,
     "schema.fields[0].contraints", "unknown key"},
    {"unknown constraint", "c.yaml", F1 "      constraints: {requried: true}\n", 4,
     "schema.fields[0].constraints.requried", "allowed constraint keys"},
    {"wrong type: boolean", "c.yaml", "dialect:\n  header: \"yes\"\n" F1, 2, "dialect.header",
     "expected a boolean"},
    {"wrong type: string wanted", "c.yaml", "name: 12\n" F1, 1, "name",
     "quote it to make it a string"},
    {"wrong type: list wanted", "c.yaml", F1 "  missingValues: NA\n", 4, "schema.missingValues",
     "expected a list of strings"},
    {"wrong type: integer wanted", "c.yaml", F1 "      constraints:\n        minLength: \"3\"\n", 5,
     "schema.fields[0].constraints.minLength", "expected an integer"},
    {"negative length", "c.yaml", F1 "      constraints: {maxLength: -1}\n", 4,
     "schema.fields[0].constraints.maxLength", "from 0"},
    {"minLength > maxLength", "c.yaml",
     F1 "      constraints:\n        minLength: 5\n        maxLength: 2\n", 6,
     "schema.fields[0].constraints.maxLength", "less than minLength"},
    {"bad policy", "c.yaml", F1 "checks:\n  extraColumns: warning\n", 5, "checks.extraColumns",
     "expected one of error, warn, ignore"},
    {"bad severity", "c.yaml", F1 "checks:\n  severity:\n    type-error: warn\n", 6,
     "checks.severity.type-error", "expected one of error, warning, info, ignore"},
    {"unknown finding code", "c.yaml", F1 "checks:\n  severity:\n    typo-error: warning\n", 6,
     "checks.severity.typo-error", "unknown finding code"},
    {"error rate above 1", "c.yaml", F1 "checks: {maxErrorRate: 1.5}\n", 4, "checks.maxErrorRate",
     "from 0 to 1"},
    {"sample cap 0", "c.yaml", F1 "checks: {sampleCap: 0}\n", 4, "checks.sampleCap", "from 1 to"},
    {"rows max < min", "c.yaml", F1 "checks:\n  rows:\n    min: 10\n    max: 5\n", 7,
     "checks.rows.max", "less than min"},
    {"missing schema", "c.yaml", "name: x\nmatch: \"a/*\"\n", 1, "schema",
     "missing required key \"schema\""},
    {"missing fields", "c.yaml", "name: x\nschema:\n  primaryKey: a\n", 3, "schema",
     "missing required key \"fields\""},
    {"empty fields", "c.yaml", "schema:\n  fields: []\n", 2, "schema.fields", "at least one field"},
    {"field without name", "c.yaml", F1 "    - type: integer\n", 4, "schema.fields[1]",
     "missing required key \"name\""},
    {"field not a mapping", "c.yaml", F1 "    - b\n", 4, "schema.fields[1]", "expected a mapping"},
    {"duplicate field name", "c.yaml", F1 "    - name: b\n    - name: a\n      type: integer\n", 5,
     "schema.fields[2].name", "duplicate field name \"a\" (also schema.fields[0])"},
    {"unknown type", "c.yaml", F1 "      type: text\n", 4, "schema.fields[0].type",
     "integer, number"},
    {"primary key names an unknown field", "c.yaml", F1 "  primaryKey:\n    - a\n    - id\n", 6,
     "schema.primaryKey[1]", "\"id\" is not in schema.fields"},
    {"primary key repeats a field", "c.yaml", F1 "  primaryKey: [a, a]\n", 4,
     "schema.primaryKey[1]", "twice"},
    {"foreignKeys", "c.yaml", F1 "  foreignKeys: []\n", 4, "schema.foreignKeys", "not supported"},
    {"fieldsMatch", "c.yaml", F1 "  fieldsMatch: loose\n", 4, "schema.fieldsMatch",
     "exact, equal, subset, superset, partial"},
    {"unsupported dialect key", "c.yaml", "dialect: {commentChar: \"#\"}\n" F1, 1,
     "dialect.commentChar", "not supported"},
    {"delimiter of two characters", "c.yaml", "dialect:\n  delimiter: \";;\"\n" F1, 2,
     "dialect.delimiter", "one-character"},
    {"delimiter equals quoteChar", "c.yaml", "dialect: {delimiter: \"'\", quoteChar: \"'\"}\n" F1,
     1, "dialect", "must differ"},
    {"bad match glob", "c.yaml", "match:\n  - \"a/*\"\n  - \"a/[bc\"\n" F1, 3, "match[1]",
     "never closed"},
    {"empty match glob", "c.yaml", "match: \"\"\n" F1, 1, "match", "non-empty"},
    {"bad pattern", "c.yaml", F1 "      constraints:\n        pattern: \"([a-z\"\n", 5,
     "schema.fields[0].constraints.pattern", NULL},
    {"bound that is not a value of the type", "c.yaml",
     F1 "      type: integer\n      constraints:\n        minimum: 1\n        maximum: abc\n", 7,
     "schema.fields[0].constraints.maximum", NULL},
    {"enum value that is not a value of the type", "c.yaml",
     F1 "      type: integer\n      constraints:\n        enum: [1, two]\n", 6,
     "schema.fields[0].constraints.enum", NULL},
    {"format the type does not have", "c.yaml", F1 "      type: string\n      format: phone\n", 5,
     "schema.fields[0].format", NULL},
    {"length constraint on an integer", "c.yaml",
     F1 "      type: integer\n      constraints: {maxLength: 3}\n", 5,
     "schema.fields[0].constraints.maxLength", NULL},
    {"bad exclusiveMinimum on a date", "c.yaml",
     F1 "      type: date\n      constraints:\n        minimum: \"2020-01-01\"\n"
        "        exclusiveMinimum: 2020\n",
     7, "schema.fields[0].constraints.exclusiveMinimum", NULL},
    {"document is a list", "c.yaml", "- a\n- b\n", 1, "(document)", "expected a mapping"},
    {"empty document", "c.yaml", "# nothing\n", 1, NULL, "empty"},
    /* the YAML layer */
    {"duplicate YAML key", "c.yaml", F1 "      type: string\n      type: integer\n", 5, NULL,
     "duplicate key \"type\""},
    {"YAML syntax error", "c.yaml", F1 "      type: [string\n  checks: {}\n", 5, NULL, "YAML"},
    {"YAML bad indentation", "c.yaml", "schema:\n  fields:\n    - name: a\n   bad: 1\n", 4, NULL,
     "YAML"},
    {"YAML alias", "c.yaml", "x: &a [1]\n" F1, 1, NULL, "anchors"},
    {"YAML alias use", "c.yaml", F1 "      title: *a\n", 4, NULL, "aliases"},
    {"two YAML documents", "c.yaml", F1 "---\n" F1, 4, NULL, "one YAML document"},
    {"non-string key", "c.yaml", F1 "checks:\n  severity:\n    1: error\n", 6, NULL,
     "keys must be strings"},
    {"list as key", "c.yaml", "? [a]\n: 1\n", 1, NULL, "keys must be strings"},
    {"NUL in a YAML string", "c.yaml", F1 "      title: \"a\\0b\"\n", 4, NULL, "NUL"},
    {"unknown YAML tag", "c.yaml", F1 "      title: !python/object x\n", 4, NULL,
     "unsupported YAML tag"},
    {"integer out of range", "c.yaml", F1 "      constraints: {minimum: 99999999999999999999}\n", 4,
     NULL, "out of range"},
    {"invalid UTF-8", "c.yaml", F1 "      title: \"\xff\"\n", 4, NULL, "YAML"},
    /* the JSON layer */
    {"JSON syntax error", "c.json",
     "{\n  \"schema\": {\n    \"fields\": [\n      {\"name\": \"a\",}\n", 4, NULL, "JSON"},
    {"JSON duplicate key", "c.json",
     "{\"schema\": {\"fields\": [{\"name\": \"a\"}]},\n \"schema\": 1}", 2, NULL, "duplicate"},
    {"JSON unknown key, with its line", "c.json",
     "{\n  \"schema\": {\n    \"fields\": [\n      {\"name\": \"a\",\n       \"tyep\": "
     "\"integer\"}\n"
     "    ]\n  }\n}\n",
     5, "schema.fields[0].tyep", "unknown key"},
    {"JSON wrong type, with its line", "c.json",
     "{\"schema\": {\"fields\": [{\"name\": \"a\"}]},\n\n \"checks\": {\"sampleCap\": \"10\"}}", 3,
     "checks.sampleCap", "expected an integer"},
    {"JSON NUL escape", "c.json",
     "{\"name\": \"a\\u0000b\", \"schema\": {\"fields\": [{\"name\": \"a\"}]}}", 1, NULL, "JSON"},
};

static void test_errors(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof ERR_CASES / sizeof ERR_CASES[0]; i++) {
    const err_case *t = &ERR_CASES[i];
    expect_error(t->name, t->text, t->hint, t->line, t->path, t->what);
  }
}

/* A field whose compile fails is reported at the constraint it is about even when several
 * constraints are present. */
static void test_compile_error_located(void **state) {
  (void)state;
  expect_error("bad pattern among others",
               "schema:\n  fields:\n    - name: a\n      constraints:\n        minLength: 1\n"
               "        pattern: \"(\"\n        maxLength: 9\n",
               "p.yaml", 6, "schema.fields[0].constraints.pattern", NULL);
}

/* "Billion laughs": refused at the first anchor, before any expansion. */
static void test_alias_bomb(void **state) {
  (void)state;
  const char *bomb =
      "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
      "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
      "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
      "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
      "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
      "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
      "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
      "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
      "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n";
  expect_error("billion laughs", bomb, "bomb.yaml", 1, NULL, "not supported");
}

static char *repeat(const char *head, const char *unit, size_t n, const char *tail) {
  size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
  char *s = malloc(hl + ul * n + tl + 1);
  assert_non_null(s);
  memcpy(s, head, hl);
  for (size_t i = 0; i < n; i++) memcpy(s + hl + i * ul, unit, ul);
  memcpy(s + hl + n * ul, tail, tl + 1);
  return s;
}

static void test_limits(void **state) {
  (void)state;
  /* too deep: YAML flow lists and JSON arrays */
  char *deep = repeat("x: ", "[", 100, "");
  expect_error("YAML too deep", deep, "deep.yaml", 1, NULL, "nested more than 64 levels");
  free(deep);
  deep = repeat("{\"x\": ", "[", 100, "");
  char *deep_json = repeat(deep, "]", 100, "}");
  expect_error("JSON too deep", deep_json, "deep.json", 1, NULL, "nested more than 64 levels");
  free(deep);
  free(deep_json);
  /* 63 levels under the root mapping are fine for the parser (the contract then fails on
   * the unknown key, not on depth) */
  char *ok = repeat("x: ", "[", 63, "");
  char *ok2 = repeat(ok, "]", 63, "\n");
  fp_diag d;
  fp_diag_clear(&d);
  fp_contract *c = NULL;
  assert_int_equal(fp_contract_load_text(ok2, strlen(ok2), "ok.yaml", &c, &d), FP_ERR_CONTRACT);
  assert_non_null(strstr(d.msg, "unknown key"));
  free(ok);
  free(ok2);
  /* too many nodes */
  char *wide = repeat("x: [", "1,", 100001, "1]\n");
  expect_error("YAML too many nodes", wide, "wide.yaml", 1, NULL, "more than 100000 nodes");
  free(wide);
  wide = repeat("{\"x\": [", "1,", 100001, "1]}");
  expect_error("JSON too many nodes", wide, "wide.json", 1, NULL, "more than 100000 nodes");
  free(wide);
  /* a mapping with many keys, one repeated at the end: found (sorted, not quadratic) */
  size_t nkeys = 20000;
  size_t cap = nkeys * 16 + 64, used = 0;
  char *many = malloc(cap);
  assert_non_null(many);
  used += (size_t)snprintf(many + used, cap - used, "x:\n");
  for (size_t i = 0; i < nkeys; i++)
    used += (size_t)snprintf(many + used, cap - used, "  k%zu: 1\n", i);
  snprintf(many + used, cap - used, "  k7: 2\n");
  expect_error("duplicate among many keys", many, "many.yaml", (int)nkeys + 2, NULL,
               "duplicate key \"k7\"");
  free(many);
  /* text over 4 MiB */
  size_t big = FP__CONTRACT_MAX_BYTES + 1;
  char *huge = malloc(big + 1);
  assert_non_null(huge);
  memset(huge, '#', big);
  huge[big] = '\0';
  fp_diag_clear(&d);
  c = NULL;
  assert_int_equal(fp_contract_load_text(huge, big, "huge.yaml", &c, &d), FP_ERR_CONTRACT);
  assert_null(c);
  assert_non_null(strstr(d.msg, "limited to"));
  free(huge);
}

static void test_load_file(void **state) {
  (void)state;
  char dir[64];
  fp_test_tmpdir(dir, sizeof dir);
  assert_true(dir[0]);
  write_file(dir, "people.yml", FULL_YAML);
  write_file(dir, "people.json", FULL_JSON);
  write_file(dir, "people.contract", FULL_JSON); /* unknown extension: sniffed */
  write_file(dir, "broken.yaml", F1 "      constraints: {pattern: 3}\n");
  char path[512];
  fp_contract *a = NULL, *b = NULL, *s = NULL;
  fp_diag d;
  fp_diag_clear(&d);
  snprintf(path, sizeof path, "%s/people.yml", dir);
  assert_int_equal(fp_contract_load_file(path, &a, &d), FP_OK);
  assert_string_equal(a->path, path);
  snprintf(path, sizeof path, "%s/people.json", dir);
  assert_int_equal(fp_contract_load_file(path, &b, &d), FP_OK);
  snprintf(path, sizeof path, "%s/people.contract", dir);
  assert_int_equal(fp_contract_load_file(path, &s, &d), FP_OK);
  assert_int_equal(d.code, FP_OK);
  assert_string_equal(d.key, ""); /* success leaves the diag untouched */
  assert_string_equal(a->name, "people");
  assert_int_equal(a->nfields, b->nfields);
  assert_int_equal(s->nfields, b->nfields);
  fp_contract_free(a);
  fp_contract_free(b);
  fp_contract_free(s);

  /* errors name the file in the diag key */
  snprintf(path, sizeof path, "%s/broken.yaml", dir);
  a = NULL;
  assert_int_equal(fp_contract_load_file(path, &a, &d), FP_ERR_CONTRACT);
  assert_null(a);
  assert_string_equal(d.key, path);
  check_error("broken file", d.code, &d, 4, "schema.fields[0].constraints.pattern",
              "expected a string");
  char fmt[FP_DIAG_MSG_MAX + FP_DIAG_KEY_MAX + 64];
  fp_diag_format(&d, fmt, sizeof fmt);
  assert_non_null(strstr(fmt, "broken.yaml"));

  /* missing file, directory, file over 4 MiB */
  fp_diag_clear(&d);
  snprintf(path, sizeof path, "%s/absent.yaml", dir);
  assert_int_equal(fp_contract_load_file(path, &a, &d), FP_ERR_NOT_FOUND);
  assert_string_equal(d.key, path);
  fp_diag_clear(&d);
  assert_int_equal(fp_contract_load_file(dir, &a, &d), FP_ERR_CONTRACT);
  snprintf(path, sizeof path, "%s/huge.yaml", dir);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fputs(F1, f) >= 0, 1);
  for (size_t i = 0; i <= FP__CONTRACT_MAX_BYTES / 32; i++)
    fputs("# padding padding padding padding padding padding padding pad\n", f);
  assert_int_equal(fclose(f), 0);
  fp_diag_clear(&d);
  assert_int_equal(fp_contract_load_file(path, &a, &d), FP_ERR_CONTRACT);
  assert_non_null(strstr(d.msg, "limited to"));
  assert_string_equal(d.key, path);
  fp_test_rmtree(dir);
}

/* ---- globs --------------------------------------------------------------------------- */

typedef struct glob_case {
  const char *glob, *key;
  bool match;
} glob_case;

static const glob_case GLOBS[] = {
    {"from_client/*/Officer_Detail*.csv", "from_client/nm_albuquerque/Officer_Detail.csv", true},
    {"from_client/*/Officer_Detail*.csv", "from_client/nm/Officer_Detail_2024-01.csv", true},
    {"from_client/*/Officer_Detail*.csv", "from_client/a/b/Officer_Detail.csv", false},
    {"from_client/*/Officer_Detail*.csv", "from_client/nm/Officer_Detail.csv.gz", false},
    {"from_client/*/Officer_Detail*.csv", "From_client/nm/Officer_Detail.csv", false},
    {"from_client/**/x.csv", "from_client/a/b/x.csv", true},
    {"from_client/**/x.csv", "from_client/a/x.csv", true},
    {"from_client/**/x.csv", "from_client/x.csv",
     true}, /* a double star before a slash spans zero segments */
    {"from_client/**/x.csv", "from_client/ax.csv", false},
    {"from_client/**", "from_client/a/b/c.csv", true},
    {"from_client/**", "other/a.csv", false},
    {"**", "any/thing/at/all", true},
    {"**", "", true},
    {"**/x.csv", "x.csv", true},
    {"**/x.csv", "a/b/x.csv", true},
    {"**/x.csv", "ax.csv", false},
    {"a**b", "a/x/y/b", true},
    {"a**b", "ab", true},
    {"a/**b", "a/x/b", true},
    {"*", "a/b", false},
    {"*", "", true},
    {"*/*", "a/b", true},
    {"*/*", "a/b/c", false},
    {"", "", true},
    {"", "a", false},
    {"a", "", false},
    {"abc", "abc", true},
    {"abc", "abcd", false},
    {"?", "a", true},
    {"?", "/", false},
    {"?", "", false},
    {"a?c", "abc", true},
    {"a?c", "ac", false},
    {"caf?.csv", "caf\xc3\xa9.csv", true}, /* one UTF-8 character */
    {"caf??.csv", "caf\xc3\xa9.csv", false},
    {"[abc].csv", "b.csv", true},
    {"[abc].csv", "d.csv", false},
    {"[a-c]x", "bx", true},
    {"[a-c]x", "dx", false},
    {"[!a-c]x", "dx", true},
    {"[!a-c]x", "bx", false},
    {"[^a-c]x", "bx", false},
    {"[^a-c]x", "zx", true},
    {"[]]", "]", true},
    {"[!]]", "]", false},
    {"[!]]", "a", true},
    {"[a-]", "-", true},
    {"[/]", "/", false},
    {"[!a]", "/", false},
    {"[\\]]", "]", true},
    {"[\\-a]", "-", true},
    {"[\xc3\xa0-\xc3\xbf]t\xc3\xa9", "\xc3\xa9t\xc3\xa9", true}, /* range by code point */
    {"[\xc3\xa0-\xc3\xbf]t\xc3\xa9", "et\xc3\xa9", false},
    {"\\*", "*", true},
    {"\\*", "a", false},
    {"a\\?", "a?", true},
    {"a\\?", "ab", false},
    {"\\[x]", "[x]", true},
    {"\\\\", "\\", true},
    {"x[", "x[", true}, /* an unterminated class is a literal '[' */
    {"*.csv", ".csv", true},
    {"data/*.csv", "data/.csv", true},
    {"a*b*c", "aXbYc", true},
    {"a*b*c", "aXbY/c", false},
    {"a*b*c", "abc", true},
    {"a*", "a/", false},
    {"*a", "aaaa", true},
    {"*/**/*.csv", "x/y.csv", true},
    {"*/**/*.csv", "x/y/z/w.csv", true},
    {"*/**/*.csv", "y.csv", false},
};

static void test_glob_cases(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof GLOBS / sizeof GLOBS[0]; i++) {
    const glob_case *t = &GLOBS[i];
    bool got = fp_glob_match(t->glob, t->key);
    if (got != t->match)
      fail_msg("glob \"%s\" vs \"%s\": expected %s", t->glob, t->key,
               t->match ? "a match" : "no match");
  }
  assert_false(fp_glob_match(NULL, "a"));
  assert_false(fp_glob_match("a", NULL));
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Patterns that make backtracking matchers exponential run in bounded time here. */
static void test_glob_no_blowup(void **state) {
  (void)state;
  char key[1025];
  memset(key, 'a', 1024);
  key[1024] = '\0';
  char slashes[1025];
  for (size_t i = 0; i < 1024; i++) slashes[i] = i % 2 ? '/' : 'a';
  slashes[1024] = '\0';
  char long_glob[2100];
  size_t n = 0;
  for (int i = 0; i < 500; i++) long_glob[n++] = 'a', long_glob[n++] = '*';
  long_glob[n++] = 'b';
  long_glob[n] = '\0';
  double t0 = now_s();
  for (int rep = 0; rep < 20; rep++) {
    assert_false(fp_glob_match("a*a*a*a*a*a*a*a*a*a*b", key));
    assert_false(fp_glob_match("**a**a**a**a**a**a**a**b", key));
    assert_false(fp_glob_match("*a*a*a*a*a*a*a*a*b", slashes));
    assert_false(fp_glob_match("**/a**/a**/a**/b", slashes));
    assert_false(fp_glob_match(long_glob, key));
    assert_true(fp_glob_match("a*a*a*a*a*a*a*a*a*a*a", key));
  }
  double dt = now_s() - t0;
  if (dt > 2.0) fail_msg("120 pathological glob matches took %.2f s", dt);
  /* keys longer than 1024 bytes never match */
  char longkey[1100];
  memset(longkey, 'a', sizeof longkey - 1);
  longkey[sizeof longkey - 1] = '\0';
  assert_false(fp_glob_match("**", longkey));
}

/* Reference matcher for the differential test: plain recursion over the same grammar
 * (ASCII, classes of the form [xy] / [!xy] only). Exponential in general, fine for the
 * short inputs it gets. */
static bool ref_match(const char *p, const char *s, bool seg_start) {
  if (!*p) return !*s;
  if (*p == '*') {
    size_t n = 0;
    while (p[n] == '*') n++;
    if (n == 1) {
      for (size_t k = 0;; k++) {
        if (ref_match(p + 1, s + k, false)) return true;
        if (!s[k] || s[k] == '/') return false;
      }
    }
    if (seg_start && p[n] == '/') { /* zero or more whole segments */
      if (ref_match(p + n + 1, s, true)) return true;
      for (size_t k = 1; s[k - 1]; k++)
        if (s[k - 1] == '/' && ref_match(p + n + 1, s + k, true)) return true;
      return false;
    }
    for (size_t k = 0;; k++) {
      if (ref_match(p + n, s + k, false)) return true;
      if (!s[k]) return false;
    }
  }
  if (!*s) return false;
  if (*p == '?') return *s != '/' && ref_match(p + 1, s + 1, false);
  if (*p == '[') {
    bool neg = p[1] == '!';
    const char *q = p + 1 + neg, *end = strchr(q, ']');
    bool in = memchr(q, *s, (size_t)(end - q)) != NULL;
    return *s != '/' && in != neg && ref_match(end + 1, s + 1, false);
  }
  if (*p == '\\') p++;
  return *p == *s && ref_match(p + 1, s + 1, *s == '/');
}

static void test_glob_differential(void **state) {
  (void)state;
  static const char *const ptoks[] = {"a", "b", "/", "*", "**", "?", "[ab]", "[!a]", "\\*", "**/"};
  static const char kchars[] = "ab/*";
  uint64_t x = 0x9E3779B97F4A7C15ull;
  for (int iter = 0; iter < 200000; iter++) {
    char glob[64] = "", key[16];
    size_t gl = 0;
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    int nt = (int)(x % 7);
    for (int t = 0; t < nt; t++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      const char *tk = ptoks[x % (sizeof ptoks / sizeof ptoks[0])];
      memcpy(glob + gl, tk, strlen(tk) + 1);
      gl += strlen(tk);
    }
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    size_t kl = (size_t)(x % 9);
    for (size_t i = 0; i < kl; i++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      key[i] = kchars[x % 4];
    }
    key[kl] = '\0';
    bool want = ref_match(glob, key, true), got = fp_glob_match(glob, key);
    if (want != got)
      fail_msg("glob \"%s\" vs \"%s\": reference says %d, fp_glob_match %d", glob, key, want, got);
  }
}

static void test_glob_literals_and_check(void **state) {
  (void)state;
  assert_int_equal(fp__glob_literals("from_client/*/Officer_Detail*.csv"), 31);
  assert_int_equal(fp__glob_literals("**"), 0);
  assert_int_equal(fp__glob_literals("a?[bc]\\*"), 2);   /* a and the escaped '*' */
  assert_int_equal(fp__glob_literals("**/x"), 1);        /* "**" + "/" is one wildcard */
  assert_int_equal(fp__glob_literals("caf\xc3\xa9"), 4); /* characters, not bytes */
  assert_null(fp__glob_check("a/[!b-d]/\\[x\\]/**"));
  assert_non_null(fp__glob_check(""));
  assert_non_null(fp__glob_check("a["));
  assert_non_null(fp__glob_check("a\\"));
  assert_non_null(fp__glob_check("[z-a]"));
}

/* ---- lookup by key ------------------------------------------------------------------- */

static const char *contract_text(const char *glob) {
  static char buf[512];
  snprintf(buf, sizeof buf, "match: [\"%s\"]\nschema: {fields: [{name: a}]}\n", glob);
  return buf;
}

static char *find(const char *dir, const char *key, fp_err *e, fp_diag *d) {
  char *path = (char *)1;
  fp_diag_clear(d);
  *e = fp_contract_find(dir, key, &path, d);
  return path;
}

static void test_find(void **state) {
  (void)state;
  char dir[64], want[512];
  fp_test_tmpdir(dir, sizeof dir);
  assert_true(dir[0]);
  write_file(dir, "catch_all.yaml", contract_text("from_client/**"));
  write_file(dir, "officers.yml", contract_text("from_client/*/Officer_Detail*.csv"));
  write_file(dir, "albuquerque.json",
             "{\"match\": [\"nowhere/*\", \"from_client/nm_albuquerque/*\"],"
             " \"schema\": {\"fields\": [{\"name\": \"a\"}]}}");
  write_file(dir, "README.md", "not a contract: {{{");
  write_file(dir, ".hidden.yaml", "broken: [");
  write_file(dir, "notes.txt", "broken: [");
  fp_diag d;
  fp_err e;

  /* most literal characters wins: 31 (officers) > 27 (albuquerque) > 12 (catch_all) */
  char *p = find(dir, "from_client/nm_albuquerque/Officer_Detail.csv", &e, &d);
  assert_int_equal(e, FP_OK);
  snprintf(want, sizeof want, "%s/officers.yml", dir);
  assert_string_equal(p, want);
  free(p);
  p = find(dir, "from_client/nm_albuquerque/Roster.csv", &e, &d);
  assert_int_equal(e, FP_OK);
  snprintf(want, sizeof want, "%s/albuquerque.json", dir);
  assert_string_equal(p, want);
  free(p);
  p = find(dir, "from_client/x/y/z.parquet", &e, &d);
  assert_int_equal(e, FP_OK);
  snprintf(want, sizeof want, "%s/catch_all.yaml", dir);
  assert_string_equal(p, want);
  free(p);

  /* no match: NULL and FP_OK */
  p = find(dir, "elsewhere/file.csv", &e, &d);
  assert_int_equal(e, FP_OK);
  assert_null(p);

  /* a tie between two files is an error naming both */
  write_file(dir, "officers_too.yaml", contract_text("from_client/*/Officer_Detail?.csv"));
  p = find(dir, "from_client/nm/Officer_DetailX.csv", &e, &d);
  assert_int_equal(e, FP_ERR_CONTRACT);
  assert_null(p);
  assert_non_null(strstr(d.msg, "officers.yml"));
  assert_non_null(strstr(d.msg, "officers_too.yaml"));
  /* ... unless something more specific wins */
  write_file(dir, "z_exact.yaml", contract_text("from_client/nm/Officer_DetailX.csv"));
  p = find(dir, "from_client/nm/Officer_DetailX.csv", &e, &d);
  assert_int_equal(e, FP_OK);
  snprintf(want, sizeof want, "%s/z_exact.yaml", dir);
  assert_string_equal(p, want);
  free(p);

  /* a broken contract is an error naming it, even when another one would match */
  write_file(dir, "broken.yaml", "match: [\"from_client/**\"]\nschema: {fields: [{nmae: a}]}\n");
  p = find(dir, "from_client/nm_albuquerque/Officer_Detail.csv", &e, &d);
  assert_int_equal(e, FP_ERR_CONTRACT);
  assert_null(p);
  snprintf(want, sizeof want, "%s/broken.yaml", dir);
  assert_string_equal(d.key, want);
  assert_non_null(strstr(d.msg, "schema.fields[0].nmae"));

  fp_test_rmtree(dir);
  p = find(dir, "a.csv", &e, &d); /* the directory is gone */
  assert_int_equal(e, FP_ERR_CONFIG);
  assert_null(p);
}

/* ---- severity overrides -------------------------------------------------------------- */

static void test_apply_overrides(void **state) {
  (void)state;
  fp_contract *c =
      load_ok(F1 "checks:\n  severity: {type-error: warning, blank-row: ignore}\n", "o.yaml");
  fp_findings *f = NULL;
  assert_int_equal(fp_findings_new(0, &f), FP_OK);
  assert_int_equal(fp_contract_apply_overrides(c, f), FP_OK);
  assert_int_equal(fp_findings_add(f, "type-error", FP_SEV_ERROR, 2, 1, "a", "x", 1, NULL), FP_OK);
  assert_int_equal(fp_findings_add(f, "blank-row", FP_SEV_ERROR, 3, 0, NULL, NULL, 0, NULL), FP_OK);
  assert_int_equal(fp_findings_add(f, "extra-cell", FP_SEV_ERROR, 4, 2, NULL, "y", 1, NULL), FP_OK);
  assert_int_equal(fp_findings_count_groups(f), 2);
  assert_string_equal(fp_findings_group(f, 0)->code, "type-error");
  assert_int_equal(fp_findings_group(f, 0)->severity, FP_SEV_WARNING);
  assert_string_equal(fp_findings_group(f, 1)->code, "extra-cell");
  assert_int_equal(fp_findings_group(f, 1)->severity, FP_SEV_ERROR);
  fp_findings_free(f);
  fp_contract_free(c);
  fp_contract_free(NULL);
}

/* ---- the shipped contract ------------------------------------------------------------ */

static void test_officer_contract(void **state) {
  (void)state;
  const char *pkg = getenv("FP_PKG_DIR");
  if (!pkg) {
    fprintf(stderr, "SKIP: FP_PKG_DIR is not set (CTest sets it)\n");
    skip();
  }
  char dir[512], path[600];
  snprintf(dir, sizeof dir, "%s/contracts", pkg);
  snprintf(path, sizeof path, "%s/officer_detail.yaml", dir);
  fp_diag d;
  fp_diag_clear(&d);
  fp_contract *c = NULL;
  fp_err e = fp_contract_load_file(path, &c, &d);
  if (e) fail_msg("%s: %s", path, d.msg);
  assert_string_equal(c->name, "officer_detail");
  assert_int_equal(c->nfields, 22);
  static const char *const cols[] = {"officer_id",
                                     "badge_number",
                                     "first_name",
                                     "last_name",
                                     "rank",
                                     "unit",
                                     "division",
                                     "hire_date",
                                     "separation_date",
                                     "birth_year",
                                     "sex",
                                     "race",
                                     "base_salary",
                                     "overtime_pay",
                                     "total_pay",
                                     "complaints_total",
                                     "complaints_sustained",
                                     "use_of_force_count",
                                     "email",
                                     "phone",
                                     "notes",
                                     "last_updated"};
  for (size_t i = 0; i < 22; i++) assert_string_equal(c->fields[i].name, cols[i]);
  assert_int_equal(c->npk, 1);
  assert_int_equal(c->primary_key[0], 0);
  assert_int_equal(c->fields[0].type, FP_FT_INTEGER);
  assert_true(c->fields[0].required && c->fields[0].unique);
  assert_int_equal(c->fields[7].type, FP_FT_DATE);
  assert_int_equal(c->fields[13].type, FP_FT_NUMBER);
  assert_string_equal(c->fields[13].minimum, "0");
  assert_int_equal(c->fields[21].type, FP_FT_DATETIME);
  assert_int_equal(c->rows_min, 1);
  assert_int_equal(c->sample_cap, 50);
  const char *key = "from_client/nm_albuquerque/Officer_Detail.csv";
  bool matched = false;
  for (size_t i = 0; i < c->nmatch; i++) matched |= fp_glob_match(c->match[i], key);
  assert_true(matched);
  fp_contract_free(c);

  char *found = NULL;
  assert_int_equal(fp_contract_find(dir, key, &found, &d), FP_OK);
  assert_non_null(found);
  assert_string_equal(found, path);
  free(found);
  assert_int_equal(fp_contract_find(dir, "from_client/nm_albuquerque/Payroll.csv", &found, &d),
                   FP_OK);
  assert_null(found);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_yaml_and_json_load_the_same),
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_scalar_resolution),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_drift_section),
      cmocka_unit_test(test_compile_error_located),
      cmocka_unit_test(test_alias_bomb),
      cmocka_unit_test(test_limits),
      cmocka_unit_test(test_load_file),
      cmocka_unit_test(test_glob_cases),
      cmocka_unit_test(test_glob_no_blowup),
      cmocka_unit_test(test_glob_differential),
      cmocka_unit_test(test_glob_literals_and_check),
      cmocka_unit_test(test_find),
      cmocka_unit_test(test_apply_overrides),
      cmocka_unit_test(test_officer_contract),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
