// staff-alerts.js — telling a person that something urgent arrived: a short tone (WebAudio, no file)
// and a browser notification (only with permission), both behind a switch the person can turn off.
// The switch is a preference of this browser (localStorage), not personal data.

import * as i18n from "./i18n.js";

const KEY = "mm.staff.alerts";
let audio = null;

export const enabled = () => localStorage.getItem(KEY) !== "off";

export function bindToggle(box) {
  box.checked = enabled();
  box.addEventListener("change", () => {
    localStorage.setItem(KEY, box.checked ? "on" : "off");
    if (!box.checked) return;
    unlock();
    // Asked only when the person turns alerts on: a click, as browsers require.
    if ("Notification" in window && Notification.permission === "default") Notification.requestPermission().catch(() => {});
  });
  // Browsers start audio only after a gesture: the first click anywhere readies it.
  document.addEventListener("pointerdown", unlock, { once: true });
  document.addEventListener("keydown", unlock, { once: true });
}

function unlock() {
  try {
    audio ??= new AudioContext();
    if (audio.state === "suspended") audio.resume().catch(() => {});
  } catch {
    audio = null;
  }
}

function tone() {
  if (!audio) return;
  const now = audio.currentTime;
  for (const [at, freq] of [[0, 880], [0.18, 660]]) {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.type = "sine";
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.0001, now + at);
    gain.gain.exponentialRampToValueAtTime(0.2, now + at + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, now + at + 0.16);
    osc.connect(gain).connect(audio.destination);
    osc.start(now + at);
    osc.stop(now + at + 0.17);
  }
}

// text: already translated, without any content of the conversation.
export function urgent(text) {
  if (!enabled()) return;
  tone();
  if ("Notification" in window && Notification.permission === "granted") {
    try {
      new Notification(i18n.t("staff.title"), { body: text, tag: "mm-urgent" });
    } catch {
      // some browsers allow notifications from a service worker only
    }
  }
}
