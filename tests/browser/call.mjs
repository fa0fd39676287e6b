#!/usr/bin/env node
// Places one real call from headless Chromium to the voicebot and reports on it.
//
//   node tests/browser/call.mjs --url http://127.0.0.1:7860 --wav question.wav \
//        --screenshot artifacts/browser_call.png [--gap 4] [--timeout 180]
//
// Chromium's fake microphone loops [--gap s of silence][the question] from --wav
// (16-bit PCM; see fake_mic.mjs). The script clicks Connect and mutes the mic at
// once, waits until the bot's greeting has been heard and has finished, then
// unmutes in a silent stretch of the loop so that exactly one full question goes
// out, and mutes again (a muted track still sends silence, so the server's turn
// detection works as usual). So the question never overlaps the greeting, however
// slow the greeting is. Then it waits for the user's transcript and the bot's
// answer (text and audible audio), saves a screenshot, prints exactly one JSON
// line on stdout and exits 0 when the call completed (1 if not, 2 on bad usage).
//
// playwright-core comes from client/node_modules (`npm ci` in client/ first).
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { writeFakeMicWav } from "./fake_mic.mjs";
import { conditions, snapshot } from "./page_state.mjs";

const require = createRequire(new URL("../../client/package.json", import.meta.url));
const { chromium } = require("playwright-core");

const { values: opt } = parseArgs({
  options: {
    url: { type: "string" },
    wav: { type: "string" },
    screenshot: { type: "string", default: "artifacts/browser_call.png" },
    gap: { type: "string", default: "4" },
    timeout: { type: "string", default: "180" },
    settle: { type: "string", default: "10" },
    chromium: { type: "string", default: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium" },
    headed: { type: "boolean", default: false },
  },
});
if (!opt.url || !opt.wav) {
  console.error("usage: call.mjs --url URL --wav QUESTION.wav [--screenshot PNG]");
  process.exit(2);
}

const chromeArgs = (micWav) => [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--use-fake-ui-for-media-stream",
  "--use-fake-device-for-media-stream",
  // Looped (Chromium's default; append "%noloop" to the path to play it once).
  `--use-file-for-fake-audio-capture=${micWav}`,
  "--autoplay-policy=no-user-gesture-required",
  "--allow-loopback-in-peer-connection",
];

// Per-stage limits in seconds, so a dead stage fails fast; all capped by --timeout.
const STAGE_LIMIT_SECS = {
  micOpen: 30,
  greeting: 60,
  greetingDone: 60,
  userTranscript: 45,
  botAnswer: 60,
};

const started = Date.now();
const elapsed = () => (Date.now() - started) / 1000;
const deadline = started + Number(opt.timeout) * 1000;
const remaining = () => Math.max(1000, deadline - Date.now());
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The call is over: a fatal client error, or the connection dropped.
const CALL_OVER = `window.voicebot.fatal ||
  (window.voicebot.connectedMs != null && ["disconnected", "error"].includes(window.voicebot.state))`;

// Waits for a page condition; gives up early when the call is over.
async function waitFor(page, name, stages, limitSecs = STAGE_LIMIT_SECS[name] ?? 60) {
  const timeout = Math.min(limitSecs * 1000, remaining());
  const done = `(${conditions[name]})()`;
  try {
    await page.waitForFunction(`${done} || ${CALL_OVER}`, null, { timeout, polling: 100 });
    if (!(await page.evaluate(done))) {
      const { state, errors } = await page.evaluate(() => window.voicebot);
      throw new Error(`call over (state ${state}): ${errors.join("; ") || "no error reported"}`);
    }
  } catch (e) {
    const err = new Error(`${name}: ${String(e?.message ?? e).split("\n")[0]}`);
    err.stage = name;
    throw err;
  }
  stages[name] = elapsed();
}

// Unmutes for exactly one pass of the question through the looping fake mic.
// The loop is [gap][question], starting when the mic track started (micStartMs).
async function askQuestion(page, mic, stages) {
  const gapMs = mic.questionStartSecs * 1000;
  const questionMs = mic.questionSecs * 1000;
  const periodMs = gapMs + questionMs;
  const phase = async () =>
    page.evaluate((p) => (performance.now() - window.voicebot.clickAt - window.voicebot.micStartMs) % p, periodMs);
  // Unmute inside the gap, at least 0.3 s after the last question and 1 s before the next.
  const [from, to] = [300, gapMs - 1000];
  const p = await phase();
  if (p < from || p > to) await sleep((periodMs - p + from) % periodMs);
  await page.getByTestId("mute").click();
  stages.unmuted = elapsed();
  const untilQuestion = gapMs - (await phase());
  stages.questionStarts = elapsed() + untilQuestion / 1000;
  await sleep(untilQuestion + questionMs + 300);
  await page.getByTestId("mute").click();
  stages.mutedAgain = elapsed();
}

// Durations of the signalling requests (POST/PATCH /api/offer), from Resource Timing.
const offerTimings = () =>
  performance
    .getEntriesByType("resource")
    .filter((e) => e.name.includes("/api/offer"))
    .map((e) => ({ startMs: Math.round(e.startTime - window.voicebot.clickAt), ms: Math.round(e.duration) }));

async function placeCall(page, mic, result) {
  const { stages } = result;
  await page.goto(opt.url, { waitUntil: "load", timeout: remaining() });
  await page.getByTestId("connect").click();
  stages.clicked = elapsed();
  await waitFor(page, "micOpen", stages);
  await page.getByTestId("mute").click();
  stages.muted = elapsed();
  await waitFor(page, "greeting", stages);
  // A greeting that never reports its end must not block the call.
  await waitFor(page, "greetingDone", stages).catch(() => (result.greetingDoneTimedOut = true));
  await askQuestion(page, mic, stages);
  await waitFor(page, "userTranscript", stages);
  await waitFor(page, "botAnswer", stages);
  // Let the answer finish so the screenshot and metrics are complete.
  await waitFor(page, "answerDone", stages, Number(opt.settle)).catch(() => {});
}

async function main() {
  const tmp = mkdtempSync(join(tmpdir(), "voicebot-call-"));
  const micWav = join(tmp, "fake-mic.wav");
  const mic = writeFakeMicWav(resolve(opt.wav), micWav, { leadSecs: Number(opt.gap), tailSecs: 0 });
  const screenshot = resolve(opt.screenshot);
  mkdirSync(dirname(screenshot), { recursive: true });

  const result = { ok: false, url: opt.url, screenshot, fakeMic: mic, stages: {}, console: [], externalRequests: [] };
  let context;
  try {
    context = await chromium.launchPersistentContext(join(tmp, "profile"), {
      executablePath: opt.chromium,
      headless: !opt.headed,
      args: chromeArgs(micWav),
      viewport: { width: 900, height: 900 },
    });
    const page = context.pages()[0] ?? (await context.newPage());
    page.on("console", (m) => {
      if (m.type() === "error" || m.type() === "warning") result.console.push(`${m.type()}: ${m.text()}`.slice(0, 300));
    });
    page.on("pageerror", (e) => result.console.push(`pageerror: ${e.message}`));
    // The client must work offline: record any request that leaves the app's origin.
    const origin = new URL(opt.url).origin;
    page.on("request", (r) => {
      const u = r.url();
      if (/^https?:/.test(u) && new URL(u).origin !== origin) result.externalRequests.push(u.slice(0, 200));
    });

    try {
      await placeCall(page, mic, result);
      result.ok = true;
    } catch (e) {
      result.failedAt = e?.stage ?? null;
      result.error = String(e?.message ?? e).split("\n")[0];
    }

    await page.evaluate(() => document.querySelector("details.turns")?.setAttribute("open", ""));
    await page.screenshot({ path: screenshot, fullPage: true });
    Object.assign(result, snapshot(await page.evaluate(() => window.voicebot)));
    result.offerRequests = await page.evaluate(offerTimings);

    // Hang up cleanly so the server ends the session now, not ~40 s later.
    if ((await page.getByTestId("connect").textContent()) === "Disconnect") {
      await page.getByTestId("connect").click();
      await page.waitForFunction(() => window.voicebot.state === "disconnected", null, { timeout: 5000 }).catch(() => {});
    }
  } catch (e) {
    result.ok = false;
    result.error ??= String(e?.message ?? e).split("\n")[0];
  } finally {
    await context?.close().catch(() => {});
    rmSync(tmp, { recursive: true, force: true });
  }
  result.seconds = elapsed();
  process.stdout.write(JSON.stringify(result) + "\n");
  process.exit(result.ok ? 0 : 1);
}

main();
