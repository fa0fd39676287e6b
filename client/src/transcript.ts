/**
 * Live transcript of both sides: user transcriptions and the bot's output text.
 *
 * Consecutive pieces from the same side join into one bubble. Bot text arrives as
 * RTVI `bot-output` segments; a segment can be reported more than once (before
 * and after it is spoken), so segments are keyed by `segment_id`.
 */
import type { BotOutputData, TranscriptData } from "@pipecat-ai/client-js";
import type { Role, TranscriptEntry } from "./state";

interface Bubble {
  entry: TranscriptEntry;
  el: HTMLElement;
  segments: Map<string, string>;
}

export class Transcript {
  private last: Bubble | null = null;
  private anonymousSegments = 0;

  constructor(
    private readonly root: HTMLElement,
    private readonly entries: TranscriptEntry[],
    private readonly now: () => number,
  ) {}

  clear(): void {
    this.root.replaceChildren();
    this.last = null;
  }

  addUser(data: TranscriptData): void {
    const text = data.text.trim();
    if (!text) return;
    const bubble = this.bubbleFor("user");
    // One interim transcription at a time; a final one replaces it.
    bubble.segments.delete("interim");
    bubble.segments.set(data.final ? `final-${bubble.segments.size}` : "interim", text);
    bubble.entry.final = data.final;
    this.render(bubble);
  }

  addBot(data: BotOutputData): void {
    const text = data.text.trim();
    if (!text || data.will_be_spoken === false) return;
    const bubble = this.bubbleFor("bot");
    const key = data.segment_id != null ? `seg-${data.segment_id}` : `anon-${this.anonymousSegments++}`;
    const known = bubble.segments.get(key);
    if (data.spoken_status === "in-progress") {
      // Word-level progress: show the whole segment as soon as it is known.
      if (known === undefined && data.spoken_progress) {
        const p = data.spoken_progress;
        bubble.segments.set(key, `${p.accumulated_text} ${p.remaining_text}`.trim());
      }
    } else {
      bubble.segments.set(key, text);
    }
    this.render(bubble);
  }

  private bubbleFor(role: Role): Bubble {
    if (this.last && this.last.entry.role === role) return this.last;
    this.root.querySelector(".empty")?.remove();
    const entry: TranscriptEntry = { role, text: "", final: true, atMs: this.now() };
    this.entries.push(entry);
    const el = document.createElement("div");
    el.className = `bubble ${role}`;
    el.dataset.testid = `${role}-message`;
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = role === "user" ? "You" : "Bot";
    const body = document.createElement("p");
    el.append(who, body);
    this.root.appendChild(el);
    this.last = { entry, el, segments: new Map() };
    return this.last;
  }

  private render(bubble: Bubble): void {
    bubble.entry.text = [...bubble.segments.values()].join(" ");
    bubble.el.classList.toggle("interim", !bubble.entry.final);
    bubble.el.querySelector("p")!.textContent = bubble.entry.text;
    this.root.scrollTop = this.root.scrollHeight;
  }
}
