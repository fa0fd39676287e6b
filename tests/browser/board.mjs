#!/usr/bin/env node
// The owner's board open in headless Chromium while something else places an order.
//
//   node tests/browser/board.mjs --url http://127.0.0.1:7860 --token OWNER_TOKEN \
//        --screenshot artifacts/owner_board.png [--timeout 240]
//
// Signs in through the form, waits until the board's event stream is live, prints
// {"ready": true} on stdout, then waits for an order row that was not there before and
// prints one JSON line: {"ok", "appearedAtMs" (epoch ms, taken in the page the moment the row
// was added), "row" (its text), "highlighted", "events" (the stream's messages)}; exit 0 when
// the row came, 1 if not, 2 on bad usage.
//
// playwright-core comes from client/node_modules (`npm ci` in client/ first).
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import { parseArgs } from "node:util";

const require = createRequire(new URL("../../client/package.json", import.meta.url));
const { chromium } = require("playwright-core");

const { values: opt } = parseArgs({
  options: {
    url: { type: "string" },
    token: { type: "string" },
    screenshot: { type: "string", default: "artifacts/owner_board.png" },
    timeout: { type: "string", default: "240" },
    chromium: { type: "string", default: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium" },
  },
});
if (!opt.url || !opt.token) {
  console.error("usage: board.mjs --url URL --token OWNER_TOKEN [--screenshot PNG]");
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: opt.chromium,
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--autoplay-policy=no-user-gesture-required"],
});
const result = { ok: false };
try {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  await page.goto(`${opt.url}/owner`);
  await page.fill("#token", opt.token);
  await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
  await page.waitForSelector("#live.on", { timeout: 30000 });
  errors.length = 0;  // the sign-in form itself answers 401 before the credential is given
  await page.click("#sound");
  // Note when each new order row is added, in the page's own clock (epoch ms).
  await page.evaluate(() => {
    const body = document.querySelector('table[data-kind="order"] tbody');
    window.known = new Set([...body.querySelectorAll("tr[data-id]")].map((tr) => tr.dataset.id));
    window.appeared = [];
    window.streamed = [];
    new MutationObserver(() => {
      for (const tr of body.querySelectorAll("tr[data-id]")) {
        if (!window.known.has(tr.dataset.id)) {
          window.known.add(tr.dataset.id);
          window.appeared.push({ id: tr.dataset.id, at: Date.now(), text: tr.innerText,
                                 highlighted: tr.classList.contains("fresh") });
        }
      }
    }).observe(body, { childList: true });
  });
  console.log(JSON.stringify({ ready: true }));
  await page.waitForFunction(() => window.appeared.length > 0, null,
                             { timeout: Number(opt.timeout) * 1000, polling: 50 });
  const [row] = await page.evaluate(() => window.appeared);
  await page.waitForTimeout(300);  // the highlight at its brightest is in the screenshot
  if (opt.screenshot) {
    mkdirSync(dirname(opt.screenshot), { recursive: true });
    await page.screenshot({ path: opt.screenshot, fullPage: true });
  }
  Object.assign(result, { ok: true, appearedAtMs: row.at, row: row.text, rowId: row.id,
                          highlighted: row.highlighted, live: await page.textContent("#live"), errors });
} catch (e) {
  result.error = String(e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
