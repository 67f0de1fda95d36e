// Wires the page together: config → session → WebSocket → conversation, audio and microphone.
//
// Tests (and curious developers) can watch the page through `window.voicebot`: the events it
// received, the actions it sent, the sentences it played (per turn, with times) and its turns.

import { Connection } from "./connection.js";
import { initialLanguage, otherLanguage, setLanguage, t } from "./i18n.js";
import { InterruptionPolicy } from "./interruption.js";
import { Microphone, hearTranscript, readsComplete } from "./mic.js";
import { SentencePlayer } from "./player.js";
import { Session, postJson } from "./session.js";
import { TranscribeTransport, TranscriptSender } from "./transcribe.js";
import { ConversationView } from "./view.js";

const $ = (id) => document.getElementById(id);

const ui = {
  connection: $("connection"),
  alert: $("alert"),
  alertText: $("alert-text"),
  chat: $("chat"),
  chatText: $("chat-text"),
  stop: $("stop"),
  mic: $("mic"),
  access: $("access"),
  accessCode: $("access-code"),
  accessError: $("access-error"),
};

const view = new ConversationView($("conversation"));
const player = new SentencePlayer({
  onError: (error) => showAlert(t("err.audio", { message: error.message || error.name })),
  onScheduled: (turnId, entry) => {
    const turn = turns.get(turnId);
    if (turn && turn.firstPlayedAt === null) {
      turn.firstPlayedAt = entry.start;
      turn.view.setPlayedMs(entry.start - turn.sentAt);
    }
  },
});

const turns = new Map(); // turnId → {id, sentAt, done, cut, firstPlayedAt, view}
let current = null; // the turn whose answer is streaming or playing
// utteranceId → {seq, final} of what is shown, so stale, repeated or replayed events are ignored.
const utterances = new Map();
let lastTranscriptId = null; // where `resume` picks up after a reconnect
let connection = null;
let session = null;
let connectionState = "offline";
let connectionDetail;

// `skipped`: sentences the player skipped for want of audio (player.js).
const observed = {
  events: [],
  sent: [],
  played: player.log,
  skipped: player.skipped,
  turns: {},
  interruptions: [],
};

// What the person says while the bot answers: a backchannel (네, uh-huh) lets it go on, other
// speech ducks it at once and stops it once the policy is sure (config.json `interruption`).
const interruptions = new InterruptionPolicy({
  busy: () => answering(),
  duck: (volume) => player.duck(volume),
  restore: () => player.restore(),
  interrupt: () => bargeIn(),
  log: (entry) => record(observed.interruptions, entry),
});
window.voicebot = {
  ...observed,
  get connection() {
    return connectionState;
  },
  get speaking() {
    return player.speaking;
  },
  get volume() {
    return player.volume;
  },
  get userId() {
    return session?.userId;
  },
};

function showAlert(message) {
  ui.alertText.textContent = message;
  ui.alert.hidden = false;
}

function send(action) {
  const ok = connection?.send(action) ?? false;
  if (ok) record(observed.sent, { ...action, at: Date.now() });
  return ok;
}

// getRandomValues, unlike randomUUID, also works on a plain-http LAN address (no secure context).
function newId() {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return `t-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

// The observation log is for tests and debugging; bound it so a long session does not grow it.
function record(list, item) {
  list.push(item);
  if (list.length > 1000) list.splice(0, list.length - 1000);
}

// --- turns --------------------------------------------------------------------------------

// A spoken question's turn id comes from its transcript event id, the same on every open page
// of this user: the server answers the first page that asks and tells the others
// `duplicate_turn`, so two tabs do not answer one question twice.
function startTurn(text, transcriptId) {
  interruptions.reset();
  bargeIn(); // a new question supersedes an answer that is still playing
  const id = transcriptId ? `v-${transcriptId.replace(/[^A-Za-z0-9_-]/g, "_")}` : newId();
  player.begin(id);
  if (!send({ action: "chat", turnId: id, text })) {
    showAlert(t("err.notConnected"));
    return;
  }
  const sentAt = Date.now();
  current = { id, sentAt, done: false, cut: false, firstPlayedAt: null, view: view.startTurn(id) };
  turns.set(id, current);
  observed.turns[id] = { sentAt, text: "", done: false, interrupted: false };
}

/**
 * Stops the bot's answer at once (an interruption, a new question or the Stop button) and tells
 * the server what was heard. Also after `done`: playback outlasts generation, and the server
 * then cuts the stored turn to the `heard` segments, so history holds what was played.
 */
function bargeIn() {
  const turn = current;
  if (!answering()) return;
  turn.cut = true;
  const heard = player.stop();
  send({ action: "cancel", turnId: turn.id, heard });
  if (turn.done) {
    // No second `done` comes for a finished turn; the server only corrects the stored one.
    turn.view.setState("interrupted");
    observed.turns[turn.id].interrupted = true;
  } else {
    turn.view.setState("stopping");
  }
  updateSpeaking();
}

/** The bot is answering: its turn is still being written, or its audio still plays. */
function answering() {
  return Boolean(current && !current.cut && (!current.done || player.speaking));
}

function updateSpeaking() {
  document.body.dataset.speaking = String(player.speaking);
  ui.stop.disabled = !answering();
}

// --- server events ------------------------------------------------------------------------

// The words of a transcript, as the server compares them (case, spacing, punctuation aside).
const words = (text) => text.normalize("NFC").toLowerCase().replace(/[^\p{L}\p{N}]+/gu, "");

/**
 * A partial the recognizer will not change (every character stable) that reads as a finished
 * question: the turn is confirmed without waiting about a second for the final. The server may
 * already hold the answer to exactly these words (docs/PROTOCOL.md, Preemptive answers).
 */
function settled(event) {
  const eot = pageConfig?.endOfTurn;
  return (
    Boolean(pageConfig?.preemptiveAnswers) &&
    !event.final &&
    typeof event.stableChars === "number" &&
    event.stableChars >= event.text.trim().length &&
    readsComplete(eot, event.lang || pageConfig?.language, event.text)
  );
}

const handlers = {
  transcript(event) {
    lastTranscriptId = event.id;
    transcriptSender.heard(event); // this page's own post came back: the next one may go
    const shown = utterances.get(event.utteranceId);
    if (shown !== undefined && (shown.final || event.seq <= shown.seq)) return;
    hearTranscript(event); // the microphone's pause follows the words heard (its own mic- ones)
    const asked = shown?.asked; // the words already asked on a settled partial
    utterances.set(event.utteranceId, { seq: event.seq, final: event.final, asked });
    view.showTranscript(event);
    if (asked !== undefined) {
      if (words(event.text) === words(asked)) return; // the final of what was asked: nothing new
      if (!event.final) interruptions.partial(event); // they say more: as any other speech
      else if (interruptions.final(event)) startTurn(event.text, event.id);
      return;
    }
    // While the bot answers, the interruption policy judges speech; a new question settles early.
    const confirmed = event.final || (!answering() && settled(event));
    if (!confirmed) interruptions.partial(event);
    else if (interruptions.final(event)) {
      startTurn(event.text, event.id);
      if (!event.final) utterances.get(event.utteranceId).asked = event.text;
    } else if (event.final) markBackchannel(event.utteranceId);
    else interruptions.partial(event);
  },
  delta(event) {
    const turn = turns.get(event.turnId);
    if (!turn) return;
    turn.view.appendText(event.text);
    observed.turns[event.turnId].text += event.text;
    view.follow();
  },
  sentence(event) {
    turns.get(event.turnId)?.view.countSentence(event.index);
  },
  audio(event) {
    if (event.turnId !== current?.id || current.cut) return;
    player.add(event);
    // A page that had no tap yet cannot start audio; say so instead of staying silent.
    if (event.index === 0 && (event.last || event.pieceLast)) {
      setTimeout(() => player.locked && showAlert(t("audio.locked")), 500);
    }
  },
  done(event) {
    const turn = turns.get(event.turnId);
    if (!turn) return;
    turn.done = true;
    player.finish(event.turnId); // audio still missing now will not come: skip it when due
    turn.view.setText(event.text);
    turn.view.setState(event.interrupted || turn.cut ? "interrupted" : "done");
    turn.view.setLedger(event.ledger ?? {});
    Object.assign(observed.turns[event.turnId], {
      text: event.text,
      done: true,
      interrupted: Boolean(event.interrupted || turn.cut),
      ledger: event.ledger,
    });
    updateSpeaking();
  },
  error(event) {
    if (event.code === "unauthorized") {
      // The server lost this connection (its cache was restarted or replaced): connect again,
      // which registers it anew, and resume what was missed (onOpen). A turn it refused still
      // gets its `done` first.
      connection?.reconnectSoon();
      return;
    }
    if (event.code === "duplicate_turn") {
      dropTurn(event.turnId); // another page of ours is answering this question
      return;
    }
    // Over a quota the server says when it resets; the user reads that, not the code.
    const message =
      event.code === "quota_exceeded"
        ? t("err.quota", { seconds: event.retryAfter ?? 60 })
        : t("err.server", { code: event.code, message: event.message });
    const turn = event.turnId && turns.get(event.turnId);
    if (turn) turn.view.addError(message);
    showAlert(message);
  },
  pong() {},
};

// A backchannel stays in the conversation as the person's words, shown as such; it asked nothing.
function markBackchannel(utteranceId) {
  const bubble = document.querySelector(`.msg.user[data-utterance-id="${CSS.escape(utteranceId)}"]`);
  if (bubble) bubble.dataset.backchannel = "true";
}

function dropTurn(turnId) {
  const turn = turns.get(turnId);
  if (!turn) return;
  turn.view.item.remove();
  turns.delete(turnId);
  delete observed.turns[turnId];
  if (current?.id === turnId) current = null;
  updateSpeaking();
}

function onEvent(event) {
  // Audio payloads are large; the log keeps everything but the bytes.
  // eslint-disable-next-line no-unused-vars -- `data` is named only to keep it out of `logged`
  const { data, ...logged } = event;
  record(observed.events, { ...(event.type === "audio" ? logged : event), receivedAt: Date.now() });
  handlers[event.type]?.(event);
}

function onConnectionState(state, detail) {
  connectionState = state;
  connectionDetail = detail;
  document.body.dataset.connection = state;
  const seconds = detail ? Math.ceil(detail.delayMs / 1000) : 0;
  ui.connection.textContent = t(`conn.${state}`, { seconds });
}

function onOpen(reconnected) {
  // Transcripts published while this page was away are replayed from the retained stream.
  if (reconnected && lastTranscriptId) send({ action: "resume", after: lastTranscriptId });
}

// --- access code --------------------------------------------------------------------------

function askAccessCode(wrong) {
  ui.access.hidden = false;
  ui.accessError.hidden = !wrong;
  ui.accessCode.value = "";
  ui.accessCode.focus();
  return new Promise((resolve) => {
    ui.access.onsubmit = (e) => {
      e.preventDefault();
      ui.access.hidden = true;
      resolve(ui.accessCode.value);
    };
  });
}

// --- controls -----------------------------------------------------------------------------

function bindControls(config) {
  $("language").addEventListener("click", () => setLanguage(otherLanguage(), { save: true }));
  $("alert-dismiss").addEventListener("click", () => {
    ui.alert.hidden = true;
  });
  // Browsers start audio only after a gesture; any tap or key on the page unlocks playback.
  for (const type of ["pointerdown", "keydown"]) {
    document.addEventListener(type, () => player.unlock(), { capture: true });
  }
  ui.chat.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = ui.chatText.value.trim();
    if (!text) return;
    if (!connection?.open) {
      showAlert(t("err.notConnected")); // keep the text in the box to send again
      return;
    }
    view.addTyped(text);
    ui.chatText.value = "";
    startTurn(text);
  });
  ui.stop.addEventListener("click", () => {
    interruptions.reset();
    bargeIn();
  });
  bindDevicePanel(config);
  setInterval(updateSpeaking, 200); // playback ends on the audio clock, not on an event we get

  // Amazon Transcribe from the page (AWS, or a stack started with --transcribe), else /mic.
  const transcribe = Boolean(config.transcribeUrl);
  if (!(transcribe || config.micUrl)) return;
  if (!navigator.mediaDevices?.getUserMedia || !window.AudioWorkletNode) return;
  const mic = new Microphone({
    url: config.micUrl,
    token: () => session.token(),
    transport: transcribe ? () => transcribeTransport(config) : undefined,
    onState: (state) => {
      ui.mic.dataset.state = state;
      ui.mic.setAttribute("aria-pressed", String(state !== "off"));
      ui.mic.dataset.i18nLabel = state === "off" ? "mic.start" : "mic.stop";
      ui.mic.setAttribute("aria-label", t(ui.mic.dataset.i18nLabel));
    },
    onError: (error) => showAlert(t("err.mic", { message: error.message || error.name })),
  });
  ui.mic.hidden = false;
  ui.mic.addEventListener("click", () => (mic.active ? mic.stop() : mic.start()));
}

// The page's transcripts go to its own socket as `transcript` actions: the same relay, and the
// same events, as a device's (docs/PROTOCOL.md, "The page's microphone on AWS").
const transcriptSender = new TranscriptSender((post) => send({ action: "transcript", ...post }));

function transcribeTransport(config) {
  const language = config.language || "ko-KR";
  return new TranscribeTransport({
    language,
    presign: async () =>
      postJson(`${config.apiBase ?? ""}${config.transcribeUrl}`, {
        body: { lang: language },
        token: await session.token(),
      }),
    publish: (post) => transcriptSender.publish(post),
    onError: (error) =>
      showAlert(
        t(`err.transcribe.${error.reason}`, { message: error.message, seconds: error.retryAfter }),
      ),
  });
}

// --- connect a device (the interpreter) ------------------------------------------------------

// Shows the command that runs the interpreter for this user. The device token only publishes
// transcripts, so showing it on the user's own page gives away nothing the page could not do.
function bindDevicePanel(config) {
  const button = $("device");
  const panel = $("device-panel");
  const command = $("device-command");
  const copy = $("device-copy");
  button.addEventListener("click", async () => {
    panel.hidden = !panel.hidden;
    button.setAttribute("aria-expanded", String(!panel.hidden));
    if (panel.hidden) return;
    await session.token(); // make sure there is a session (and so a device token)
    const api = config.apiBase || location.origin;
    command.textContent = `python -m interpreter --api ${api} --token ${session.deviceToken}`;
  });
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(command.textContent);
      copy.textContent = t("device.copied");
    } catch {
      getSelection()?.selectAllChildren(command); // no clipboard access: select it for the user
    }
  });
}

let pageConfig = null; // config.json, once loaded

async function loadConfig() {
  const response = await fetch("config.json", { cache: "no-store" });
  if (!response.ok) throw new Error(response.statusText);
  return response.json();
}

async function main() {
  let config;
  try {
    config = pageConfig = await loadConfig();
  } catch {
    setLanguage(initialLanguage());
    onConnectionState("offline");
    showAlert(t("err.config"));
    return;
  }
  setLanguage(initialLanguage(config.language));
  interruptions.configure(config.interruption);
  document.addEventListener("voicebot:language", () =>
    onConnectionState(connectionState, connectionDetail),
  );
  bindControls(config);

  session = new Session(config.apiBase ?? "", Boolean(config.accessCodeRequired), askAccessCode);
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  connection = new Connection({
    url: config.wsUrl || `${scheme}://${location.host}/ws`,
    token: async (fresh) => {
      if (fresh && session.userId) await session.refresh();
      return session.token();
    },
    onEvent,
    onState: onConnectionState,
    onOpen,
  });
  onConnectionState("signingIn");
  try {
    await session.token(); // sign in before the first attempt so errors are about the session
  } catch (error) {
    showAlert(t("err.session", { message: error.message }));
  }
  connection.connect();
}

main();
