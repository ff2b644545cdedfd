// duckdb_summarize.mjs FILE THREADS — DuckDB's SUMMARIZE (per-column min, max, approx
// distinct, avg, std, quartiles, null %) over a CSV file, the closest peer to our profile.
// Prints the number of summarized columns; exit 1 on any error.
import { DuckDBInstance } from '@duckdb/node-api';

const [file, threads] = process.argv.slice(2);
if (!file || !threads) {
  console.error('usage: duckdb_summarize.mjs FILE THREADS');
  process.exit(2);
}
const inst = await DuckDBInstance.create(':memory:', { threads: String(threads) });
const conn = await inst.connect();
// The officer files carry deliberate defects (ragged rows, bad UTF-8): skip those rows
// instead of stopping at the first one (null_padding would keep them, but DuckDB's parallel
// reader refuses it together with quoted newlines).
const sql = `SUMMARIZE SELECT * FROM read_csv('${file.replace(/'/g, "''")}', ` +
  `ignore_errors = true, strict_mode = false)`;
const r = await conn.runAndReadAll(sql);
console.log(`${r.getRows().length} columns summarized`);
