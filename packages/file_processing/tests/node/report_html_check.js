// report_html_check.js — opens an HTML report in headless chromium (Debian's, through
// playwright-core: no browser download) at desktop and phone size, saves screenshots and
// prints what it measured as one JSON object on stdout for the Python test to assert on.
//
// usage: node report_html_check.js CHROMIUM REPORT.html OUTDIR
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const [chromiumPath, htmlPath, outDir] = process.argv.slice(2);
if (!chromiumPath || !htmlPath || !outDir) {
  console.error('usage: node report_html_check.js CHROMIUM REPORT.html OUTDIR');
  process.exit(2);
}

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const VIEWPORTS = [
  { name: 'desktop', width: 1366, height: 768 },
  { name: 'phone', width: 390, height: 844 },
];

async function measure(page) {
  return page.evaluate(() => {
    const ids = Array.from(document.querySelectorAll('[id]')).map((e) => e.id);
    const doc = document.documentElement;
    // Every wide table must sit inside a box that scrolls on its own.
    const unboxed = Array.from(document.querySelectorAll('table')).filter((t) => {
      const box = t.closest('.scroll');
      return !box || getComputedStyle(box).overflowX !== 'auto';
    }).length;
    const verdict = document.getElementById('verdict');
    return {
      ids,
      title: document.title,
      scrollWidth: doc.scrollWidth,
      clientWidth: doc.clientWidth,
      innerWidth: window.innerWidth,
      histograms: document.querySelectorAll('#columns svg.hist').length,
      topValues: document.querySelectorAll('#columns svg.topv').length,
      columnRows: document.querySelectorAll('#columns tbody tr').length,
      findingCodes: Array.from(document.querySelectorAll('#findings article.fcode')).map((a) => a.id),
      sampleRows: document.querySelectorAll('#findings table.samples tbody tr').length,
      verdictText: verdict ? verdict.innerText : null,
      verdictBg: verdict ? getComputedStyle(verdict).backgroundColor : null,
      contractText: (document.getElementById('contract') || {}).innerText || null,
      unboxedTables: unboxed,
      scripts: document.querySelectorAll('script').length,
      fontSize: getComputedStyle(document.body).fontSize,
    };
  });
}

async function main() {
  fs.mkdirSync(outDir, { recursive: true });
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'fp-chromium-'));
  const result = { consoleErrors: [], pageErrors: [], requests: [], views: {} };
  let ctx;
  try {
    ctx = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath, headless: true, args: ARGS,
      viewport: VIEWPORTS[0], offline: true,
    });
    for (const vp of VIEWPORTS) {
      const page = await ctx.newPage();
      await page.setViewportSize({ width: vp.width, height: vp.height });
      page.on('console', (m) => { if (m.type() === 'error') result.consoleErrors.push(`${vp.name}: ${m.text()}`); });
      page.on('pageerror', (e) => result.pageErrors.push(`${vp.name}: ${e.message}`));
      page.on('request', (r) => { if (!r.url().startsWith('file:')) result.requests.push(r.url()); });
      await page.goto('file://' + path.resolve(htmlPath), { waitUntil: 'load' });
      result.views[vp.name] = await measure(page);
      await page.screenshot({ path: path.join(outDir, `report-${vp.name}.png`) });
      await page.screenshot({ path: path.join(outDir, `report-${vp.name}-full.png`), fullPage: true });
      await page.close();
    }
  } finally {
    if (ctx) await ctx.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
