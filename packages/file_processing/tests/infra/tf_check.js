#!/usr/bin/env node
// tf_check.js DIR... — parse every *.tf of each Terraform directory with @cdktf/hcl2json
// (HashiCorp's HCL parser compiled to WebAssembly) and check the parsed configuration:
//   - every var.X used is declared by a variable block;
//   - every local.X, module.X, data.T.N and resource T.N reference resolves;
//   - IAM policy documents (aws_iam_policy_document statements and jsonencode'd policies)
//     never give S3 actions a "*" resource;
//   - required_providers pins every provider used, and every variable has a description.
// Prints one line per problem and exits 1 when there is any; prints a summary otherwise.
// tf_check.js --json FILE... prints {FILE: parsed JSON} (for the Python checks).
"use strict";
const fs = require("fs");
const path = require("path");
const { parse } = require("@cdktf/hcl2json");

const ROOTS = new Set(["var", "local", "module", "data", "count", "each", "path", "self", "terraform"]);
const problems = [];
const problem = (where, msg) => problems.push(`${where}: ${msg}`);

// Every string in a parsed value, with its JSON path.
function* strings(v, at) {
  if (typeof v === "string") yield [v, at];
  else if (Array.isArray(v)) for (let i = 0; i < v.length; i++) yield* strings(v[i], `${at}[${i}]`);
  else if (v && typeof v === "object") for (const k of Object.keys(v)) {
    yield* strings(k, `${at}{key}`);
    yield* strings(v[k], `${at}.${k}`);
  }
}

// Expressions inside "${...}" (hcl2json renders every expression that way), brace-matched.
function expressions(s) {
  const out = [];
  let i = 0;
  while ((i = s.indexOf("${", i)) !== -1) {
    let depth = 0, j = i + 2, q = false;
    for (; j < s.length; j++) {
      const c = s[j];
      if (q) { if (c === "\\") j++; else if (c === '"') q = false; continue; }
      if (c === '"') q = true;
      else if (c === "{") depth++;
      else if (c === "}") { if (depth === 0) break; depth--; }
    }
    out.push(s.slice(i + 2, j));
    i = j + 1;
  }
  return out;
}

// Dotted references (a.b.c) in an expression, skipping string literals and attribute
// accesses (.x after a value).
function references(expr) {
  const noStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const refs = [];
  const re = /(^|[^\w.\]])([A-Za-z_][\w-]*)((?:\.[A-Za-z_][\w-]*|\[[^\]]*\])*)/g;
  let m;
  while ((m = re.exec(noStrings))) {
    const head = m[2];
    const rest = m[3].replace(/\[[^\]]*\]/g, "").split(".").filter(Boolean);
    refs.push([head, ...rest]);
  }
  return refs;
}

async function checkDir(dir) {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith(".tf")).sort();
  if (files.length === 0) { problem(dir, "no .tf files"); return; }
  const cfg = { variable: {}, locals: {}, module: {}, data: {}, resource: {}, output: {}, terraform: [], provider: {} };
  const parsed = [];
  for (const f of files) {
    const file = path.join(dir, f);
    let json;
    try {
      json = await parse(f, fs.readFileSync(file, "utf8"));
    } catch (e) {
      problem(file, `HCL parse error: ${String(e.message || e).split("\n")[0]}`);
      continue;
    }
    parsed.push([file, json]);
    for (const [k, v] of Object.entries(json)) {
      if (k === "locals") for (const l of v) Object.assign(cfg.locals, l);
      else if (k === "terraform") cfg.terraform.push(...v);
      else if (k === "resource" || k === "data") {
        for (const [t, byName] of Object.entries(v)) {
          cfg[k][t] = cfg[k][t] || {};
          for (const [n, body] of Object.entries(byName)) {
            if (cfg[k][t][n]) problem(file, `duplicate ${k} ${t}.${n}`);
            cfg[k][t][n] = body;
          }
        }
      } else if (k in cfg) {
        for (const [n, body] of Object.entries(v)) {
          if (k !== "provider" && cfg[k][n]) problem(file, `duplicate ${k} ${n}`);
          cfg[k][n] = body;
        }
      } else problem(file, `unexpected top-level block "${k}"`);
    }
  }

  // Names bound inside blocks: dynamic "X" iterators and for-expression variables.
  const dynamicIters = new Set();
  for (const [, json] of parsed)
    for (const [, at] of strings(json, ""))
      for (const m of at.matchAll(/\.dynamic\.([\w-]+)/g)) dynamicIters.add(m[1]);

  const used = { var: new Set(), provider: new Set() };
  for (const [file, json] of parsed) {
    for (const [s, at] of strings(json, "")) {
      if (/\.lifecycle\[\d+\]\.ignore_changes/.test(at)) continue; // attribute names, not references
      for (const expr of expressions(s)) {
        const forVars = new Set();
        for (const m of expr.matchAll(/\bfor\s+([\w-]+)(?:\s*,\s*([\w-]+))?\s+in\b/g)) {
          forVars.add(m[1]);
          if (m[2]) forVars.add(m[2]);
        }
        for (const ref of references(expr)) {
          const [head, a, b] = ref;
          const where = `${file} ${at}`;
          if (forVars.has(head) || dynamicIters.has(head)) continue;
          if (head === "var") {
            used.var.add(a);
            if (!(a in cfg.variable)) problem(where, `var.${a} is not declared`);
          } else if (head === "local") {
            if (!(a in cfg.locals)) problem(where, `local.${a} is not defined`);
          } else if (head === "module") {
            if (!(a in cfg.module)) problem(where, `module.${a} is not declared`);
          } else if (head === "data") {
            if (!(cfg.data[a] && b in cfg.data[a])) problem(where, `data.${a}.${b} is not declared`);
          } else if (/^[a-z0-9]+_[\w]+$/.test(head) && a !== undefined && !ROOTS.has(head)) {
            // TYPE.NAME of a resource (function calls like base64decode(...) have no ".")
            if (!(cfg.resource[head] && a in cfg.resource[head]))
              problem(where, `resource ${head}.${a} is not declared`);
          }
        }
      }
    }
  }

  // Providers used by resources/data must be pinned in required_providers.
  const required = {};
  for (const t of cfg.terraform) for (const rp of t.required_providers || []) Object.assign(required, rp);
  for (const kind of ["resource", "data"])
    for (const t of Object.keys(cfg[kind])) {
      const p = t.split("_")[0];
      if (!(p in required)) problem(dir, `provider "${p}" (for ${t}) is not in required_providers`);
      else if (!required[p].version) problem(dir, `provider "${p}" has no version constraint`);
    }
  for (const [n, body] of Object.entries(cfg.variable)) {
    const b = Array.isArray(body) ? body[0] : body;
    if (!b.description) problem(dir, `variable "${n}" has no description`);
  }
  for (const n of Object.keys(cfg.variable))
    if (!used.var.has(n)) problem(dir, `variable "${n}" is declared but never used`);

  // IAM: S3 actions never on "*".
  const s3Star = (actions, resources, where) => {
    const acts = [].concat(actions || []);
    const res = [].concat(resources || []);
    if (acts.some((x) => /^s3:/i.test(x) || x === "*") && res.some((r) => r === "*" || r === "arn:*:s3:::*"))
      problem(where, `S3 actions ${JSON.stringify(acts)} on resource "*"`);
  };
  for (const [n, docs] of Object.entries(cfg.data.aws_iam_policy_document || {}))
    for (const doc of [].concat(docs))
      for (const st of doc.statement || []) s3Star(st.actions, st.resources, `data.aws_iam_policy_document.${n}`);
  for (const [file, json] of parsed)
    for (const [s, at] of strings(json, ""))
      if (/jsonencode\(/.test(s) && /"?Action"?\s*=/.test(s) && /s3:/.test(s) && /Resource"?\s*=\s*(\[\s*)?"\*"/.test(s))
        problem(`${file} ${at}`, "jsonencode'd policy gives S3 actions a \"*\" resource");

  const count = (o) => Object.values(o).reduce((n, v) => n + Object.keys(v).length, 0);
  console.log(`ok ${dir}: ${files.length} files, ${Object.keys(cfg.variable).length} variables, ` +
    `${Object.keys(cfg.locals).length} locals, ${count(cfg.resource)} resources, ${count(cfg.data)} data sources`);
}

(async () => {
  if (process.argv[2] === "--json") { // tf_check.js --json FILE...: {file: hcl2json's JSON}
    const out = {};
    for (const f of process.argv.slice(3)) out[f] = await parse(path.basename(f), fs.readFileSync(f, "utf8"));
    console.log(JSON.stringify(out));
    return;
  }
  const dirs = process.argv.slice(2);
  if (dirs.length === 0) { console.error("usage: tf_check.js DIR..."); process.exit(2); }
  for (const d of dirs) await checkDir(d);
  for (const p of problems) console.log(`PROBLEM ${p}`);
  process.exit(problems.length ? 1 : 0);
})().catch((e) => { console.error(e); process.exit(1); });
