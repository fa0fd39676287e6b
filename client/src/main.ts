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

view.mute.addEventListener("click", () => call?.setMuted(!window.voicebot.micMuted));
