/** Entry point: one Connect/Disconnect button driving one call at a time. */
import { Call } from "./call";
import { freshState } from "./state";
import "./style.css";
import { View } from "./ui";

const view = new View();
let call: Call | null = null;
window.voicebot = freshState();

const isLive = (state: string) => state !== "disconnected" && state !== "error";

view.connect.addEventListener("click", async () => {
  const previous = call;
  call = null;
  if (previous) {
    const hangUp = isLive(window.voicebot.state);
    await previous.stop();
    if (hangUp) {
      window.voicebot.state = "disconnected";
      view.showState("disconnected");
      return;
    }
  }
  window.voicebot = freshState();
  call = new Call(window.voicebot, view);
  await call.start();
});

/** Name the line after the business the server answers for (from /health). */
async function showCompany(): Promise<void> {
  try {
    const health = await (await fetch("/health")).json();
    const name: string | undefined = health?.company?.name;
    if (name) {
      document.querySelector('[data-testid="company"]')!.textContent = name;
      document.title = `Voicebot · ${name}`;
    }
  } catch {
    // The page still works without it.
  }
}
void showCompany();

view.mute.addEventListener("click", () => call?.setMuted(!window.voicebot.micMuted));
