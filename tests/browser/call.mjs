#!/usr/bin/env node
// Places one real call from headless Chromium to the voicebot and reports on it.
//
//   node tests/browser/call.mjs --url http://127.0.0.1:7860 --wav question.wav \
//        --screenshot artifacts/browser_call.png [--lead-silence 10] [--timeout 120]
//
// Chromium's fake microphone plays --wav (16-bit PCM) once, after --lead-silence
// seconds of silence, so the question comes after the greeting (fake_mic.mjs).
// The script clicks Connect and waits for: audible greeting audio at the browser,
// the user's transcript, then the bot's answer (text and audible audio). It saves
// a screenshot, prints exactly one JSON line on stdout and exits 0 when the call
// completed (1 when a stage timed out, 2 on bad usage).
//
// playwright-core comes from client/node_modules (`npm ci` in client/ first).
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { writeFakeMicWav } from "./fake_mic.mjs";

const require = createRequire(new URL("../../client/package.json", import.meta.url));
const { chromium } = require("playwright-core");

const { values: opt } = parseArgs({
  options: {
    url: { type: "string" },
    wav: { type: "string" },
    screenshot: { type: "string", default: "artifacts/browser_call.png" },
    "lead-silence": { type: "string", default: "10" },
    "tail-silence": { type: "string", default: "1" },
    timeout: { type: "string", default: "120" },
    settle: { type: "string", default: "8" },
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
  // "%noloop": play the file once (Chromium loops it by default).
  `--use-file-for-fake-audio-capture=${micWav}%noloop`,
  "--autoplay-policy=no-user-gesture-required",
  "--allow-loopback-in-peer-connection",
];

const started = Date.now();
const elapsed = () => (Date.now() - started) / 1000;
const deadline = started + Number(opt.timeout) * 1000;
const remaining = () => Math.max(1000, deadline - Date.now());

// Page-side predicates over window.voicebot (see client/src/state.ts).
const conditions = {
  greeting: () => window.voicebot?.firstAudioMs != null,
  userTranscript: () => window.voicebot.transcript.some((e) => e.role === "user" && e.final && e.text.trim()),
  botAnswer: () => {
    const t = window.voicebot.transcript;
    const u = t.findIndex((e) => e.role === "user" && e.final && e.text.trim());
    const answered = window.voicebot.turns.some((x) => x.index > 0 && x.botAudioMs != null);
    return u >= 0 && t.slice(u + 1).some((e) => e.role === "bot" && e.text.trim()) && answered;
  },
  // The answer finished playing: bot-stopped-speaking after the last bot-started-speaking.
  answerDone: () => {
    const ev = window.voicebot.events.map((e) => e.name);
    return ev.lastIndexOf("bot-stopped-speaking") > ev.lastIndexOf("bot-started-speaking");
  },
};

// Per-stage limits (seconds), so a dead stage fails fast; all capped by --timeout.
const stageLimitSecs = {
  greeting: 45,
  userTranscript: Number(opt["lead-silence"]) + 45,
  botAnswer: 60,
};

// Waits for a condition; gives up early when the client reports an error.
async function waitFor(page, name, stages, timeoutMs = (stageLimitSecs[name] ?? 60) * 1000) {
  const timeout = Math.min(timeoutMs, remaining());
  const done = `(${conditions[name]})()`;
  await page.waitForFunction(`${done} || window.voicebot.errors.length > 0`, null, { timeout, polling: 100 });
  if (!(await page.evaluate(done))) {
    throw new Error(`client error: ${(await page.evaluate(() => window.voicebot.errors)).join("; ")}`);
  }
  stages[name] = elapsed();
}

function summarize(vb) {
  const firstUser = vb.transcript.findIndex((e) => e.role === "user" && e.final);
  const greeting = vb.transcript.find((e, i) => e.role === "bot" && (firstUser < 0 || i < firstUser));
  const answer = firstUser < 0 ? undefined : vb.transcript.slice(firstUser + 1).find((e) => e.role === "bot");
  return {
    state: vb.state,
    greetingHeard: vb.firstAudioMs != null,
    firstAudioMs: vb.firstAudioMs,
    greetingText: greeting?.text ?? "",
    userTranscript: vb.transcript.filter((e) => e.role === "user" && e.final).map((e) => e.text).join(" "),
    botAnswer: answer?.text ?? "",
    botAudioLevelMax: vb.botAudioLevelMax,
    micLevelMax: vb.micLevelMax,
    botAudibleMs: Math.round(vb.botAudibleMs),
    micStartMs: vb.micStartMs,
    userSpeechStartMs: vb.userSpeechStartMs,
    turns: vb.turns,
    ttfb: vb.ttfb,
    // The caller started talking before the greeting finished (barge-in).
    questionOverlappedGreeting: overlapped(vb.events),
    transcript: vb.transcript,
    errors: vb.errors,
    events: vb.events,
  };
}

function overlapped(events) {
  const at = (name) => events.find((e) => e.name === name)?.atMs ?? Infinity;
  return at("user-started-speaking") < at("bot-stopped-speaking");
}

// Durations of the signalling requests (POST/PATCH /api/offer), from Resource Timing.
const offerTimings = () =>
  performance
    .getEntriesByType("resource")
    .filter((e) => e.name.includes("/api/offer"))
    .map((e) => ({ startMs: Math.round(e.startTime - window.voicebot.clickAt), ms: Math.round(e.duration) }));

async function main() {
  const tmp = mkdtempSync(join(tmpdir(), "voicebot-call-"));
  const micWav = join(tmp, "fake-mic.wav");
  const mic = writeFakeMicWav(resolve(opt.wav), micWav, {
    leadSecs: Number(opt["lead-silence"]),
    tailSecs: Number(opt["tail-silence"]),
  });
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

    await page.goto(opt.url, { waitUntil: "load", timeout: remaining() });
    await page.getByTestId("connect").click();
    result.stages.clicked = elapsed();

    let failedAt = null;
    for (const stage of ["greeting", "userTranscript", "botAnswer"]) {
      try {
        await waitFor(page, stage, result.stages);
      } catch (e) {
        failedAt = stage;
        result.error = `failed waiting for ${stage}: ${e.message.split("\n")[0]}`;
        break;
      }
    }
    if (!failedAt) {
      // Let the answer finish so the screenshot and metrics are complete.
      await waitFor(page, "answerDone", result.stages, Number(opt.settle) * 1000).catch(() => {});
    }
    result.failedAt = failedAt;

    await page.evaluate(() => document.querySelector("details.turns")?.setAttribute("open", ""));
    await page.screenshot({ path: screenshot, fullPage: true });
    Object.assign(result, summarize(await page.evaluate(() => window.voicebot)));
    result.offerRequests = await page.evaluate(offerTimings);
    result.ok = !failedAt;

    // Hang up cleanly so the server ends the session now, not ~40 s later.
    if (await page.getByTestId("connect").textContent() === "Disconnect") {
      await page.getByTestId("connect").click();
      await page.waitForFunction(() => window.voicebot.state === "disconnected", null, { timeout: 5000 }).catch(() => {});
    }
  } catch (e) {
    result.error = String(e?.message ?? e).split("\n")[0];
  } finally {
    await context?.close().catch(() => {});
    rmSync(tmp, { recursive: true, force: true });
  }
  result.seconds = elapsed();
  process.stdout.write(JSON.stringify(result) + "\n");
  process.exit(result.ok ? 0 : 1);
}

main();
