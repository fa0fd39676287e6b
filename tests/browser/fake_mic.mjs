// Builds the WAV that Chromium plays as its fake microphone.
//
// Chromium's --use-file-for-fake-audio-capture=FILE reads a WAV (16-bit PCM; any
// sample rate, Chromium resamples) and starts playing it in real time when the
// page opens the microphone (getUserMedia: at Connect, in our client). By default
// it LOOPS the file forever; "FILE.wav%noloop" plays it once and then delivers
// silence with the track still live (both verified with Chromium 156).
// call.mjs uses the loop [lead silence][question] and gates it with the client's
// Mute button, so exactly one question goes out when it wants.
import { readFileSync, writeFileSync } from "node:fs";

/** Parses a RIFF/WAVE file of 16-bit PCM (or 32-bit float, converted to 16-bit). */
export function readPcm16Wav(path) {
  const buf = readFileSync(path);
  if (buf.toString("ascii", 0, 4) !== "RIFF" || buf.toString("ascii", 8, 12) !== "WAVE") {
    throw new Error(`${path}: not a RIFF/WAVE file`);
  }
  let fmt = null;
  let data = null;
  for (let off = 12; off + 8 <= buf.length; ) {
    const id = buf.toString("ascii", off, off + 4);
    const size = buf.readUInt32LE(off + 4);
    const body = off + 8;
    if (id === "fmt ") {
      fmt = {
        format: buf.readUInt16LE(body),
        channels: buf.readUInt16LE(body + 2),
        sampleRate: buf.readUInt32LE(body + 4),
        bits: buf.readUInt16LE(body + 14),
      };
    } else if (id === "data") {
      // Streamed WAVs (e.g. espeak-ng --stdout) may carry a bogus data size.
      data = buf.subarray(body, Math.min(body + size, buf.length));
    }
    off = body + size + (size % 2);
  }
  if (!fmt || !data) throw new Error(`${path}: missing fmt or data chunk`);
  const format = fmt.format === 0xfffe ? null : fmt.format; // extensible: trust bits
  if ((format === 1 || format === null) && fmt.bits === 16) return { ...fmt, data };
  if ((format === 3 || format === null) && fmt.bits === 32) return { ...fmt, data: float32ToPcm16(data) };
  throw new Error(`${path}: need 16-bit PCM or 32-bit float WAV, got format ${fmt.format}/${fmt.bits} bits`);
}

function float32ToPcm16(data) {
  const out = Buffer.alloc((data.length >> 2) * 2);
  for (let i = 0; i < data.length >> 2; i++) {
    const x = Math.max(-1, Math.min(1, data.readFloatLE(i * 4)));
    out.writeInt16LE(Math.round(x * 32767), i * 2);
  }
  return out;
}

export function pcm16WavBytes({ channels, sampleRate, data }) {
  const header = Buffer.alloc(44);
  header.write("RIFF", 0, "ascii");
  header.writeUInt32LE(36 + data.length, 4);
  header.write("WAVEfmt ", 8, "ascii");
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(channels, 22);
  header.writeUInt32LE(sampleRate, 24);
  header.writeUInt32LE(sampleRate * channels * 2, 28);
  header.writeUInt16LE(channels * 2, 32);
  header.writeUInt16LE(16, 34);
  header.write("data", 36, "ascii");
  header.writeUInt32LE(data.length, 40);
  return Buffer.concat([header, data]);
}

/**
 * Writes `out`: `leadSecs` of silence, the question from `questionPath`, then
 * `tailSecs` of silence. Returns the question's start and duration in seconds.
 * Accepts 16-bit PCM or 32-bit float WAVs (written as 16-bit PCM).
 */
export function writeFakeMicWav(questionPath, out, { leadSecs, tailSecs }) {
  const wav = readPcm16Wav(questionPath);
  const bytesPerSec = wav.sampleRate * wav.channels * 2;
  const silence = (secs) => Buffer.alloc(Math.round(secs * wav.sampleRate) * wav.channels * 2);
  const data = Buffer.concat([silence(leadSecs), wav.data, silence(tailSecs)]);
  writeFileSync(out, pcm16WavBytes({ ...wav, data }));
  return { questionStartSecs: leadSecs, questionSecs: wav.data.length / bytesPerSec };
}
