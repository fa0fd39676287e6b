/**
 * Observable call state, also exposed as `window.voicebot` for tests.
 *
 * All times are milliseconds since the Connect click of the current call
 * (performance.now() based), so they can be compared directly.
 */

export type Role = "user" | "bot";

export interface TranscriptEntry {
  role: Role;
  text: string;
  /** False while a user transcription is still interim. */
  final: boolean;
  atMs: number;
}

export interface Turn {
  index: number;
  /** Last audible mic sample before the turn ended (the caller's speech end). */
  userSpeechEndMs: number | null;
  /** RTVI user-stopped-speaking (the server decided the turn is over). */
  userStoppedMs: number;
  /** RTVI bot-started-speaking. */
  botStartedMs: number | null;
  /** First audible bot audio at the browser after the turn ended. */
  botAudioMs: number | null;
  /** botAudioMs - userSpeechEndMs: what the caller experiences. */
  voiceToVoiceMs: number | null;
  /** botStartedMs - userStoppedMs: server-side turn end to speech start. */
  turnEndToBotMs: number | null;
  sttTtfbMs: number | null;
  llmTtfbMs: number | null;
  ttsTtfbMs: number | null;
}

export interface TtfbSample {
  processor: string;
  model?: string;
  ms: number;
  atMs: number;
}

export interface VoicebotState {
  state: string;
  micMuted: boolean;
  /** performance.now() of the Connect click (absolute, for reference). */
  clickAt: number | null;
  connectedMs: number | null;
  botReadyMs: number | null;
  /** Connect click -> first audible bot audio at the browser. */
  firstAudioMs: number | null;
  /** Mic track started (Chrome's fake capture file starts playing about now). */
  micStartMs: number | null;
  userSpeechStartMs: number | null;
  botAudioLevelMax: number;
  micLevelMax: number;
  /** Total time the bot's audio was audible. */
  botAudibleMs: number;
  transcript: TranscriptEntry[];
  turns: Turn[];
  /** The server's stages of each caller turn, seconds after the caller's voice ended. */
  turnStages: Record<string, number>[];
  ttfb: TtfbSample[];
  /** RTVI event names with their times, in order (bounded). */
  events: { name: string; atMs: number }[];
  errors: string[];
  /** A fatal error ended (or prevented) the call. */
  fatal: boolean;
}

export function freshState(): VoicebotState {
  return {
    state: "disconnected",
    micMuted: false,
    clickAt: null,
    connectedMs: null,
    botReadyMs: null,
    firstAudioMs: null,
    micStartMs: null,
    userSpeechStartMs: null,
    botAudioLevelMax: 0,
    micLevelMax: 0,
    botAudibleMs: 0,
    transcript: [],
    turns: [],
    turnStages: [],
    ttfb: [],
    events: [],
    errors: [],
    fatal: false,
  };
}

declare global {
  interface Window {
    voicebot: VoicebotState;
  }
}
