// What the call script reads from the client's window.voicebot (client/src/state.ts).

// Page-side predicates, run in the browser (so they must be self-contained).
export const conditions = {
  micOpen: () => window.voicebot?.micStartMs != null,
  greeting: () => window.voicebot.firstAudioMs != null,
  // The greeting has played: the bot stopped speaking after it started.
  greetingDone: () => {
    const ev = window.voicebot.events.map((e) => e.name);
    return window.voicebot.firstAudioMs != null && ev.lastIndexOf("bot-stopped-speaking") > ev.indexOf("bot-started-speaking");
  },
  userTranscript: () => window.voicebot.transcript.some((e) => e.role === "user" && e.final && e.text.trim()),
  // Bot text after the user's words, and audible bot audio after the turn ended.
  botAnswer: () => {
    const t = window.voicebot.transcript;
    const u = t.findIndex((e) => e.role === "user" && e.final && e.text.trim());
    const heard = window.voicebot.turns.some((x) => x.index > 0 && x.botAudioMs != null);
    return u >= 0 && heard && t.slice(u + 1).some((e) => e.role === "bot" && e.text.trim());
  },
  // The answer finished playing: bot-stopped-speaking after the last bot-started-speaking.
  answerDone: () => {
    const ev = window.voicebot.events.map((e) => e.name);
    return ev.lastIndexOf("bot-stopped-speaking") > ev.lastIndexOf("bot-started-speaking");
  },
};

const eventAt = (events, name) => events.find((e) => e.name === name)?.atMs ?? Infinity;

/** The call's outcome, from a copy of window.voicebot. */
export function snapshot(vb) {
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
    // The caller started talking before the greeting finished (barge-in).
    questionOverlappedGreeting:
      eventAt(vb.events, "user-started-speaking") < eventAt(vb.events, "bot-stopped-speaking"),
    turns: vb.turns,
    ttfb: vb.ttfb,
    transcript: vb.transcript,
    errors: vb.errors,
    events: vb.events,
  };
}
