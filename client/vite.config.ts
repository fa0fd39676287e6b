import { defineConfig } from "vite";

// `npm run dev` proxies the signalling endpoints to a running voicebot server
// (VOICEBOT_URL, default http://127.0.0.1:7860). `npm run build` writes dist/,
// which the server serves at "/".
const target = process.env.VOICEBOT_URL ?? "http://127.0.0.1:7860";

export default defineConfig({
  base: "./",
  build: { outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 1500 },
  server: {
    proxy: {
      "/api": target,
      "/health": target,
    },
  },
});
