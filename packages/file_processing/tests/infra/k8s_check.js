#!/usr/bin/env node
// k8s_check.js FILE.yaml... — validate Kubernetes manifests with kubernetes-models:
//   - every YAML document parses (the `yaml` package, YAML 1.2) and names apiVersion/kind;
//   - its model class (kubernetes-models/<group>/<version>/<Kind>) exists and its JSON
//     Schema validation (required fields, types, enums) passes;
//   - no unknown fields: the models' schemas allow extra properties, so each object is
//     walked against the field lists of the model's TypeScript interfaces (.d.ts), which
//     are generated from the same OpenAPI schema.
// Prints one line per document and one per problem; exits 1 on any problem.
// k8s_check.js --json FILE prints the file's YAML documents as a JSON array.
"use strict";
const fs = require("fs");
const path = require("path");
const YAML = require("yaml");

const modelsRoot = path.dirname(require.resolve("kubernetes-models/package.json"));
const machineryRoot = path.dirname(require.resolve("@kubernetes-models/apimachinery/package.json", { paths: [modelsRoot] }));

// interface name -> { fields: {name: typeText} }, from every .d.ts of both packages.
const IFACES = {};
function indexDts(root) {
  const stack = [root];
  while (stack.length) {
    const d = stack.pop();
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) { if (e.name !== "node_modules") stack.push(p); continue; }
      if (!e.name.endsWith(".d.ts")) continue;
      const src = fs.readFileSync(p, "utf8").replace(/\/\*\*[\s\S]*?\*\//g, "");
      const local = {};
      for (const m of src.matchAll(/^export interface (\w+)(?: extends [^{]+)? \{\n([\s\S]*?)^\}/gm)) {
        const fields = {};
        for (const f of m[2].matchAll(/^ {4}"([^"]+)"\??: (.*?);?$/gm)) fields[f[1]] = f[2].trim();
        local[m[1]] = { fields };
        IFACES[m[1]] = IFACES[m[1]] || local[m[1]];
      }
      for (const m of src.matchAll(/^export \{([^}]*)\}/gm))
        for (const a of m[1].matchAll(/(\w+) as (\w+)/g)) if (local[a[1]]) IFACES[a[2]] = local[a[1]];
    }
  }
}
indexDts(modelsRoot);
indexDts(machineryRoot);

function unknownFields(obj, typeName, at, out) {
  const iface = IFACES[typeName];
  if (!iface || !obj || typeof obj !== "object" || Array.isArray(obj)) return;
  for (const [k, v] of Object.entries(obj)) {
    const t = iface.fields[k];
    if (t === undefined) { out.push(`${at}.${k}: unknown field (not in ${typeName})`); continue; }
    let m;
    if ((m = /^Array<(I\w+)>$/.exec(t)) && Array.isArray(v)) v.forEach((x, i) => unknownFields(x, m[1], `${at}.${k}[${i}]`, out));
    else if ((m = /^(I\w+)$/.exec(t))) unknownFields(v, m[1], `${at}.${k}`, out);
  }
}

function modelFor(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : [null, apiVersion];
  const rel = group ? `${group}/${version}/${kind}` : `${version}/${kind}`;
  let mod;
  try { mod = require(path.join(modelsRoot, rel)); } catch { return null; }
  const cls = mod[kind];
  if (!cls) return null;
  // the interface: I<Kind> in that module's .d.ts
  return { cls, iface: `I${kind}`, dts: path.join(modelsRoot, rel + ".d.ts") };
}

if (process.argv[2] === "--json") { // k8s_check.js --json FILE: the YAML documents as JSON
  const docs = YAML.parseAllDocuments(fs.readFileSync(process.argv[3], "utf8"));
  for (const d of docs) if (d.errors.length) { console.error(d.errors[0].message); process.exit(1); }
  console.log(JSON.stringify(docs.map((d) => d.toJS()).filter((d) => d != null)));
  process.exit(0);
}

let problems = 0;
const report = (where, msg) => { problems++; console.log(`PROBLEM ${where}: ${msg}`); };
const files = process.argv.slice(2);
if (files.length === 0) { console.error("usage: k8s_check.js FILE.yaml..."); process.exit(2); }
for (const file of files) {
  const docs = YAML.parseAllDocuments(fs.readFileSync(file, "utf8"), { prettyErrors: true });
  docs.forEach((doc, i) => {
    const where = `${file}#${i}`;
    if (doc.errors.length) { report(where, `YAML: ${doc.errors[0].message.split("\n")[0]}`); return; }
    const obj = doc.toJS();
    if (obj === null || obj === undefined) return; // empty document
    if (!obj.apiVersion || !obj.kind) { report(where, "no apiVersion/kind"); return; }
    const m = modelFor(obj.apiVersion, obj.kind);
    if (!m) { report(where, `no kubernetes-models model for ${obj.apiVersion} ${obj.kind}`); return; }
    try {
      new m.cls(obj).validate();
    } catch (e) {
      report(where, `${obj.kind} ${obj.metadata && (obj.metadata.name || obj.metadata.generateName)}: ${String(e.message).split("\n").slice(0, 3).join(" | ")}`);
      return;
    }
    // The model interface as named in its own .d.ts (I<Kind>, aliased IIoK8s...).
    const dtsSrc = fs.readFileSync(m.dts, "utf8");
    const alias = (dtsSrc.match(new RegExp(`\\b${m.iface} as (IIoK8s\\w+)`)) || [])[1];
    const out = [];
    unknownFields(obj, alias || m.iface, obj.kind, out);
    out.forEach((o) => report(where, o));
    if (!out.length) console.log(`ok ${where}: ${obj.apiVersion} ${obj.kind} ${obj.metadata && (obj.metadata.name || obj.metadata.generateName)}`);
  });
}
process.exit(problems ? 1 : 0);
