/**
 * One call: a PipecatClient over SmallWebRTC, audio probes and latency tracking.
 *
 * WavMediaManager keeps the client fully offline (the default media manager
 * downloads a Daily bundle from the internet and hangs without it).
 */
import {
  PipecatClient,
  type BotOutputData,
  type PipecatMetricsData,
  type RTVIMessage,
  type TranscriptData,
  type TransportState,
} from "@pipecat-ai/client-js";
import { SmallWebRTCTransport, WavMediaManager } from "@pipecat-ai/small-webrtc-transport";
import { LatencyTracker } from "./latency";
import { LevelProbe, playRemoteAudio } from "./levels";
import type { VoicebotState } from "./state";
import { Transcript } from "./transcript";
import type { View } from "./ui";

/** Signalling endpoint; a deployment's access token rides along from the page's ?token=. */
function offerEndpoint(): string {
  const token = new URLSearchParams(window.location.search).get("token");
  return token ? `/api/offer?token=${encodeURIComponent(token)}` : "/api/offer";
}
const POLL_MS = 20;
const MAX_EVENTS = 500;

export class Call {
  private readonly client: PipecatClient;
  private readonly audioCtx = new AudioContext();
  private readonly latency: LatencyTracker;
  private readonly transcript: Transcript;
  private micProbe: LevelProbe | null = null;
  private botProbe: LevelProbe | null = null;
  private botAudioEl: HTMLAudioElement | null = null;
  private timer: number | undefined;

  constructor(
    private readonly s: VoicebotState,
    private readonly view: View,
  ) {
    s.clickAt = performance.now();
    this.latency = new LatencyTracker(s, () => view.showLatency(s));
    this.transcript = new Transcript(view.transcript, s.transcript, () => this.now());
    this.transcript.clear();
    view.showLatency(s);
    view.showError(null);

    const transport = new SmallWebRTCTransport({
      webrtcRequestParams: { endpoint: offerEndpoint() },
      mediaManager: new WavMediaManager(),
    });
    this.client = new PipecatClient({
      transport,
      enableMic: true,
      enableCam: false,
      callbacks: this.callbacks(),
    });
  }

  /** Milliseconds since the Connect click. */
  now(): number {
    return performance.now() - (this.s.clickAt ?? 0);
  }

  async start(): Promise<void> {
    await this.audioCtx.resume();
    this.timer = window.setInterval(() => this.poll(), POLL_MS);
    try {
      await this.client.connect();
    } catch (e) {
      this.fail(refusal(e) ?? `Could not connect: ${describe(e)}`, true);
      await this.stop();
    }
  }

  async stop(): Promise<void> {
    window.clearInterval(this.timer);
    try {
      await this.client.disconnect();
    } catch (e) {
      console.warn("disconnect failed", e);
    }
    this.micProbe?.close();
    this.botProbe?.close();
    this.botAudioEl?.remove();
    this.view.showLevels(0, 0);
    await this.audioCtx.close().catch(() => undefined);
  }

  /** Mutes or unmutes the microphone (the track keeps running, sending silence). */
  setMuted(muted: boolean): void {
    this.client.enableMic(!muted);
    this.s.micMuted = muted;
    this.event(muted ? "mic-muted" : "mic-unmuted");
    this.view.showMuted(muted);
  }

  private poll(): void {
    const mic = this.micProbe?.rms() ?? null;
    const bot = this.botProbe?.rms() ?? null;
    this.latency.tick(this.now(), mic, bot);
    this.view.showLevels(mic ?? 0, bot ?? 0);
  }

  private event(name: string): number {
    const t = this.now();
    if (this.s.events.length < MAX_EVENTS) this.s.events.push({ name, atMs: t });
    return t;
  }

  private fail(message: string, fatal: boolean): void {
    this.s.errors.push(message);
    this.s.fatal ||= fatal;
    this.view.showError(message);
  }

  private callbacks() {
    return {
      onTransportStateChanged: (state: TransportState) => {
        this.event(`transport-${state}`);
        this.s.state = state;
        this.view.showState(state);
      },
      onConnected: () => {
        this.s.connectedMs = this.event("connected");
      },
      onBotReady: () => {
        this.s.botReadyMs = this.event("bot-ready");
      },
      onDisconnected: () => {
        this.event("disconnected");
        window.clearInterval(this.timer);
      },
      onTrackStarted: (track: MediaStreamTrack, participant?: { local: boolean }) => {
        if (track.kind !== "audio") return;
        if (participant?.local) {
          this.s.micStartMs ??= this.event("mic-track-started");
          this.micProbe?.close();
          this.micProbe = new LevelProbe(this.audioCtx, track);
        } else {
          this.event("bot-track-started");
          this.botAudioEl?.remove();
          this.botAudioEl = playRemoteAudio(track);
          this.botProbe?.close();
          this.botProbe = new LevelProbe(this.audioCtx, track);
        }
      },
      onUserStartedSpeaking: () => void this.event("user-started-speaking"),
      onUserStoppedSpeaking: () => this.latency.userStoppedSpeaking(this.event("user-stopped-speaking")),
      onBotStartedSpeaking: () => this.latency.botStartedSpeaking(this.event("bot-started-speaking")),
      onBotStoppedSpeaking: () => void this.event("bot-stopped-speaking"),
      onUserTranscript: (data: TranscriptData) => {
        this.event(data.final ? "user-transcript" : "user-transcript-interim");
        this.transcript.addUser(data);
      },
      onBotOutput: (data: BotOutputData) => {
        this.event("bot-output");
        this.transcript.addBot(data);
      },
      onMetrics: (data: PipecatMetricsData) => this.latency.metrics(data, this.event("metrics")),
      onServerMessage: (data: { type?: string; stages?: Record<string, number> }) => {
        if (data?.type !== "turn-stages" || !data.stages) return;
        this.s.turnStages.push(data.stages);
        this.view.showStages(data.stages);
      },
      onError: (message: RTVIMessage) => {
        const data = message.data as { error?: string; fatal?: boolean } | undefined;
        this.fail(`Bot error: ${data?.error ?? describe(data)}`, data?.fatal ?? false);
      },
      onDeviceError: (error: unknown) => this.fail(`Microphone error: ${describe(error)}`, true),
    };
  }
}

/** What to tell a caller the server turned away (busy, rate-limited, token), or null. */
function refusal(e: unknown): string | null {
  const status = e instanceof Response ? e.status : (e as { status?: number } | null)?.status;
  if (status === 503) return "All lines are busy, try again shortly.";
  if (status === 429) return "Too many calls from here at once, try again shortly.";
  if (status === 401) return "This line needs an access token: open the page with ?token=… in its address.";
  return null;
}

function describe(e: unknown): string {
  if (e instanceof Response) return `HTTP ${e.status} ${e.statusText}`;
  if (e instanceof Error) {
    // Offer failures carry the HTTP status; their message may end in "[object Response]".
    const status = (e as Error & { status?: number }).status;
    const msg = e.message.replace(/:?\s*\[object Response\]$/, "");
    return status && !msg.includes(String(status)) ? `${msg} (HTTP ${status})` : msg;
  }
  if (typeof e === "object" && e && "message" in e) return String((e as { message: unknown }).message);
  return typeof e === "string" ? e : JSON.stringify(e);
}
