// Load a candor HTML report in headless Chromium and check what a reader relies on: no console
// errors, no network request but the file itself, the charts and the sample browser present
// (and the browser's filters working), then write a screenshot.
//
// usage: node check_report.mjs REPORT.html SCREENSHOT.png [selector ...]
// Prints one JSON line of findings; exits 1 on a failed check, 2 on bad usage.
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const [page_path, shot, ...selectors] = process.argv.slice(2);
if (!page_path || !shot) {
  console.error("usage: node check_report.mjs REPORT.html SCREENSHOT.png [selector ...]");
  process.exit(2);
}
const url = pathToFileURL(resolve(page_path)).href;
const profile = mkdtempSync(join(tmpdir(), "candor-chromium-"));
const failures = [];
const findings = { url, console_errors: [], requests: [], counts: {} };

const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("console", (m) => {
    if (m.type() === "error") findings.console_errors.push(m.text());
  });
  page.on("pageerror", (e) => findings.console_errors.push(`uncaught: ${e.message}`));
  page.on("request", (r) => findings.requests.push(r.url()));

  // A laptop first, for the counts and the filter check.
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(url, { waitUntil: "load" });
  for (const sel of ["svg", ...selectors]) {
    findings.counts[sel] = await page.locator(sel).count();
    if (findings.counts[sel] === 0) failures.push(`no element matches ${sel}`);
  }
  // The sample browser lists samples, and a search for nonsense empties the list.
  const cards = page.locator("#samples .sample");
  const listed = await cards.count();
  findings.counts["#samples .sample"] = listed;
  if (listed === 0) failures.push("the sample browser lists no sample");
  await page.fill("#q", "zzqx-no-sample-has-this-zzqx");
  const filtered = await cards.count();
  if (filtered !== 0) failures.push(`a search for nonsense still lists ${filtered} samples`);
  await page.fill("#q", "");
  if ((await cards.count()) !== listed) failures.push("clearing the search does not restore the list");

  // A phone: nothing may be wider than the screen.
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(
    () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
  );
  findings.counts.phone_overflow_px = overflow;
  if (overflow > 1) failures.push(`on a 390 px screen the page is ${overflow} px too wide`);

  // The top of the page on a laptop: the headline numbers and the first charts.
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: shot, fullPage: false });
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}

const foreign = findings.requests.filter((r) => r !== url);
if (foreign.length) failures.push(`network requests besides the file: ${foreign.join(", ")}`);
if (findings.console_errors.length) failures.push(`console errors: ${findings.console_errors.join(" | ")}`);
findings.failures = failures;
console.log(JSON.stringify(findings));
process.exit(failures.length ? 1 : 0);
