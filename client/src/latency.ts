/**
 * Latency bookkeeping from measured audio levels and RTVI events.
 *
 * Turn 0 is the greeting: it "ends" at the Connect click, so its voice-to-voice
 * time is click -> first audible bot audio. Every later turn starts at RTVI
 * user-stopped-speaking. Its bot audio is the first onset of audible bot sound
 * (after at least BOT_ONSET_QUIET_MS of quiet) once the turn has ended.
 */
import type { PipecatMetricsData } from "@pipecat-ai/client-js";
import { AUDIBLE_RMS } from "./levels";
import type { Turn, VoicebotState } from "./state";

const BOT_ONSET_QUIET_MS = 250;

type Stage = "sttTtfbMs" | "llmTtfbMs" | "ttsTtfbMs";

function stageOf(processor: string): Stage | null {
  // "WhisperSTTService#0" -> "whisperstt"; note "STTService" contains "TTS".
  const name = processor.replace(/#\d+$/, "").replace(/service$/i, "").toLowerCase();
  if (name.endsWith("stt") || name.includes("whisper")) return "sttTtfbMs";
  if (name.endsWith("tts")) return "ttsTtfbMs";
  if (name.endsWith("llm")) return "llmTtfbMs";
  return null;
}

function newTurn(index: number, endMs: number, speechEndMs: number | null): Turn {
  return {
    index,
    userSpeechEndMs: speechEndMs,
    userStoppedMs: endMs,
    botStartedMs: null,
    botAudioMs: null,
    voiceToVoiceMs: null,
    turnEndToBotMs: null,
    sttTtfbMs: null,
    llmTtfbMs: null,
    ttsTtfbMs: null,
  };
}

export class LatencyTracker {
  private lastBotLoudMs = -Infinity;
  private lastMicLoudMs: number | null = null;
  private lastTickMs: number | null = null;
  /** STT reports before the turn-end event, so it waits for the next turn. */
  private pendingSttMs: number | null = null;

  constructor(
    private readonly s: VoicebotState,
    private readonly onChange: () => void,
  ) {
    s.turns.push(newTurn(0, 0, 0));
  }

  private get current(): Turn {
    return this.s.turns[this.s.turns.length - 1];
  }

  /** Called every few ms with the current mic and bot RMS levels. */
  tick(t: number, micRms: number | null, botRms: number | null): void {
    const dt = this.lastTickMs == null ? 0 : t - this.lastTickMs;
    this.lastTickMs = t;
    if (micRms != null) {
      this.s.micLevelMax = Math.max(this.s.micLevelMax, micRms);
      if (micRms > AUDIBLE_RMS) {
        this.lastMicLoudMs = t;
        this.s.userSpeechStartMs ??= t;
      }
    }
    if (botRms != null) {
      this.s.botAudioLevelMax = Math.max(this.s.botAudioLevelMax, botRms);
      if (botRms > AUDIBLE_RMS) {
        this.s.botAudibleMs += dt;
        if (t - this.lastBotLoudMs >= BOT_ONSET_QUIET_MS) this.botOnset(t);
        this.lastBotLoudMs = t;
      }
    }
  }

  private botOnset(t: number): void {
    let changed = false;
    if (this.s.firstAudioMs == null) {
      this.s.firstAudioMs = t;
      changed = true;
    }
    const turn = this.current;
    if (turn.botAudioMs == null && t >= turn.userStoppedMs) {
      turn.botAudioMs = t;
      if (turn.userSpeechEndMs != null) turn.voiceToVoiceMs = t - turn.userSpeechEndMs;
      changed = true;
    }
    if (changed) this.onChange();
  }

  userStoppedSpeaking(t: number): void {
    const turn = newTurn(this.s.turns.length, t, this.lastMicLoudMs);
    turn.sttTtfbMs = this.pendingSttMs;
    this.pendingSttMs = null;
    this.s.turns.push(turn);
    this.onChange();
  }

  botStartedSpeaking(t: number): void {
    const turn = this.current;
    if (turn.botStartedMs != null) return;
    turn.botStartedMs = t;
    turn.turnEndToBotMs = t - turn.userStoppedMs;
    this.onChange();
  }

  metrics(data: PipecatMetricsData, t: number): void {
    for (const m of data.ttfb ?? []) {
      if (!(m.value > 0)) continue;
      const ms = m.value * 1000;
      const model = (m as { model?: string }).model;
      this.s.ttfb.push({ processor: m.processor, model, ms, atMs: t });
      const stage = stageOf(m.processor);
      const turn = this.current;
      const turnAnswered = turn.index === 0 || turn.botStartedMs != null || turn.botAudioMs != null;
      if (stage === "sttTtfbMs" && turnAnswered) {
        this.pendingSttMs ??= ms;
      } else if (stage && turn[stage] == null) {
        // A turn's first TTFB per stage is the one on the critical path.
        turn[stage] = ms;
      }
    }
    this.onChange();
  }
}
