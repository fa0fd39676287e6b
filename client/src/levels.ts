/**
 * Audio level measurement with Web Audio AnalyserNodes.
 *
 * The bot's level is measured on the remote WebRTC track itself (what the caller
 * actually hears), not inferred from RTVI events, so "first bot audio" is the
 * moment sound reaches the browser.
 */

/** RMS above this (about -46 dBFS) counts as audible sound. */
export const AUDIBLE_RMS = 0.005;

export class LevelProbe {
  private readonly source: MediaStreamAudioSourceNode;
  private readonly analyser: AnalyserNode;
  private readonly buf: Float32Array<ArrayBuffer>;

  constructor(ctx: AudioContext, track: MediaStreamTrack) {
    this.source = ctx.createMediaStreamSource(new MediaStream([track]));
    this.analyser = ctx.createAnalyser();
    // ~21 ms at 48 kHz: a little longer than the polling period, so no gaps.
    this.analyser.fftSize = 1024;
    this.buf = new Float32Array(this.analyser.fftSize);
    this.source.connect(this.analyser);
  }

  /** Current RMS level, 0..1. */
  rms(): number {
    this.analyser.getFloatTimeDomainData(this.buf);
    let sum = 0;
    for (const x of this.buf) sum += x * x;
    return Math.sqrt(sum / this.buf.length);
  }

  close(): void {
    this.source.disconnect();
    this.analyser.disconnect();
  }
}

/** Map an RMS level to 0..1 on a -60..0 dBFS scale, for a meter bar. */
export function meterFraction(rms: number): number {
  if (rms <= 0) return 0;
  const db = 20 * Math.log10(rms);
  return Math.min(1, Math.max(0, (db + 60) / 60));
}

/**
 * Plays a remote track through a hidden <audio> element. Chrome also needs a
 * remote WebRTC stream attached to a media element before Web Audio sees its
 * samples, so this must exist for the bot's LevelProbe to work.
 */
export function playRemoteAudio(track: MediaStreamTrack): HTMLAudioElement {
  const el = document.createElement("audio");
  el.autoplay = true;
  el.hidden = true;
  el.srcObject = new MediaStream([track]);
  document.body.appendChild(el);
  el.play().catch((e) => console.warn("bot audio play() failed", e));
  return el;
}
