/** DOM access and rendering. Elements are found by their data-testid. */
import { meterFraction } from "./levels";
import type { Turn, VoicebotState } from "./state";

export function byTestId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.querySelector<T>(`[data-testid="${id}"]`);
  if (!el) throw new Error(`missing element data-testid=${id}`);
  return el;
}

const fmtMs = (ms: number | null | undefined): string =>
  ms == null ? "–" : ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;

export class View {
  readonly connect = byTestId<HTMLButtonElement>("connect");
  readonly mute = byTestId<HTMLButtonElement>("mute");
  readonly transcript = byTestId("transcript");
  private readonly state = byTestId("state");
  private readonly error = byTestId("error");
  private readonly micFill = byTestId("mic-level").querySelector("i")!;
  private readonly botFill = byTestId("bot-level").querySelector("i")!;
  private readonly firstAudio = byTestId("first-audio");
  private readonly turnLatency = byTestId("turn-latency");
  private readonly llmTtfb = byTestId("llm-ttfb");
  private readonly ttsTtfb = byTestId("tts-ttfb");
  private readonly turnRows = byTestId("turns").querySelector("tbody")!;
  private readonly stages = byTestId("turn-stages");

  showState(state: string): void {
    this.state.textContent = state;
    this.state.dataset.state = state;
    const busy = state !== "disconnected" && state !== "error";
    this.connect.textContent = busy ? "Disconnect" : "Connect";
    this.connect.classList.toggle("hangup", busy);
    this.connect.disabled = state === "disconnecting";
    this.mute.disabled = !busy;
    if (!busy) this.showMuted(false);
  }

  showMuted(muted: boolean): void {
    this.mute.textContent = muted ? "Unmute" : "Mute";
    this.mute.setAttribute("aria-pressed", String(muted));
  }

  showError(message: string | null): void {
    this.error.hidden = !message;
    this.error.textContent = message ?? "";
  }

  showLevels(micRms: number, botRms: number): void {
    this.micFill.style.width = `${(meterFraction(micRms) * 100).toFixed(1)}%`;
    this.botFill.style.width = `${(meterFraction(botRms) * 100).toFixed(1)}%`;
  }

  /** Where the last answer's time went, as the server measured it. */
  showStages(stages: Record<string, number>): void {
    const labels: Record<string, string> = {
      vad_stop: "VAD", smart_turn: "Smart Turn", transcript: "transcript", turn_end: "turn end",
      llm_first_token: "LLM", tts_request: "to TTS", first_tts_audio: "TTS audio", bot_audio_out: "sent",
    };
    // Times are seconds after the caller's voice ended; llm_* are llama.cpp's own counts.
    const times = Object.entries(stages).filter(([k]) => !k.startsWith("llm_"));
    let text = times.map(([k, v]) => `${labels[k] ?? k} ${v.toFixed(2)} s`).join(" → ");
    if (stages.llm_prompt_n != null) {
      text += ` (LLM read ${stages.llm_prompt_n} new tokens in ${Math.round(stages.llm_prompt_ms ?? 0)} ms,`
        + ` ${stages.llm_cache_n ?? 0} cached)`;
    }
    this.stages.textContent = text;
  }

  showLatency(s: VoicebotState): void {
    this.firstAudio.textContent = fmtMs(s.firstAudioMs);
    const answered = s.turns.filter((t) => t.index > 0 && t.voiceToVoiceMs != null);
    this.turnLatency.textContent = fmtMs(answered.at(-1)?.voiceToVoiceMs);
    const latest = (k: "llmTtfbMs" | "ttsTtfbMs") => [...s.turns].reverse().find((t) => t[k] != null)?.[k];
    this.llmTtfb.textContent = fmtMs(latest("llmTtfbMs"));
    this.ttsTtfb.textContent = fmtMs(latest("ttsTtfbMs"));
    this.turnRows.replaceChildren(...s.turns.map(turnRow));
  }
}

function turnRow(t: Turn): HTMLTableRowElement {
  const row = document.createElement("tr");
  const cells = [
    t.index === 0 ? "greeting" : String(t.index),
    fmtMs(t.voiceToVoiceMs),
    t.index === 0 ? "–" : fmtMs(t.turnEndToBotMs),
    fmtMs(t.sttTtfbMs),
    fmtMs(t.llmTtfbMs),
    fmtMs(t.ttsTtfbMs),
  ];
  for (const text of cells) {
    const td = document.createElement("td");
    td.textContent = text;
    row.appendChild(td);
  }
  return row;
}
