// Renders the conversation. Every piece of data goes in with textContent, never as markup, so a
// transcript or an answer cannot inject HTML into the page.

import { t } from "./i18n.js";

const LEDGER_STEPS = [
  ["firstToken", "lat.firstToken"],
  ["firstSentence", "lat.firstSentence"],
  ["firstAudio", "lat.firstAudio"],
  ["done", "lat.done"],
];

function element(tag, className, text) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

/** One message bubble: a "who" label (re-labelled on a language switch) and its text. */
function bubble(kind) {
  const item = element("li", `msg ${kind}`);
  const who = element("span", "who");
  who.dataset.i18n = kind === "user" ? "you" : "bot";
  who.textContent = t(who.dataset.i18n);
  const text = element("p", "text");
  item.append(who, text);
  return { item, text };
}

export class TurnView {
  constructor(list, turnId) {
    const { item, text } = bubble("bot");
    this.item = item;
    this.text = text;
    this.status = element("span", "status");
    this.latency = element("p", "latency");
    this.errors = element("ul", "errors");
    item.append(this.status, this.errors, this.latency);
    item.dataset.turnId = turnId;
    item.dataset.sentences = "0";
    this.ledger = null;
    this.playedMs = null;
    this.setState("thinking");
    list.append(item);
  }

  appendText(piece) {
    if (this.item.dataset.state === "thinking") this.setState("streaming");
    this.text.textContent += piece;
  }

  /** The server's complete answer text replaces the streamed pieces (they should be equal). */
  setText(text) {
    this.text.textContent = text;
  }

  countSentence(index) {
    this.item.dataset.sentences = String(Math.max(Number(this.item.dataset.sentences), index + 1));
  }

  /** thinking | streaming | stopping | done | interrupted */
  setState(state) {
    this.item.dataset.state = state;
    const label = {
      thinking: "turn.thinking",
      stopping: "turn.stopping",
      interrupted: "turn.interrupted",
    }[state];
    this.status.textContent = label ? t(label) : "";
  }

  addError(message) {
    this.errors.append(element("li", "", message));
  }

  setLedger(ledger) {
    this.ledger = ledger;
    this.renderLatency();
  }

  setPlayedMs(ms) {
    this.playedMs = ms;
    this.renderLatency();
  }

  /** "first token 120 ms · first sentence 300 ms · …", each step counted from `received`. */
  renderLatency() {
    const parts = [];
    const received = this.ledger?.received;
    for (const [key, label] of LEDGER_STEPS) {
      const at = this.ledger?.[key];
      if (typeof at === "number" && typeof received === "number") {
        parts.push(`${t(label)} ${Math.round(at - received)} ms`);
      }
    }
    if (this.playedMs !== null) parts.push(`${t("lat.played")} ${Math.round(this.playedMs)} ms`);
    // One span per step so a narrow screen wraps between steps, not inside one.
    this.latency.replaceChildren(...parts.map((part) => element("span", "", part)));
  }

  relabel() {
    this.setState(this.item.dataset.state);
    this.renderLatency();
  }
}

export class ConversationView {
  constructor(list) {
    this.list = list;
    this.utterances = new Map(); // utteranceId → text element
    this.turns = [];
    document.addEventListener("voicebot:language", () =>
      this.turns.forEach((turn) => turn.relabel()),
    );
  }

  /** Shows a partial in place (one bubble per utterance) or keeps a final. */
  showTranscript({ utteranceId, seq, text, final }) {
    let node = this.utterances.get(utteranceId);
    if (!node) {
      const { item, text: textEl } = bubble("user");
      item.dataset.utteranceId = utteranceId;
      this.list.append(item);
      node = textEl;
      this.utterances.set(utteranceId, node);
    }
    node.textContent = text;
    node.parentElement.dataset.seq = String(seq);
    node.parentElement.dataset.final = String(final);
    this.follow();
  }

  addTyped(text) {
    const { item, text: textEl } = bubble("user");
    item.dataset.final = "true";
    textEl.textContent = text;
    this.list.append(item);
    this.follow();
  }

  startTurn(turnId) {
    const turn = new TurnView(this.list, turnId);
    this.turns.push(turn);
    this.follow();
    return turn;
  }

  // Keep the newest message in view, unless the reader scrolled up to read older ones.
  follow() {
    const scroller = document.scrollingElement;
    const nearBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 160;
    if (nearBottom) this.list.lastElementChild?.scrollIntoView({ block: "end" });
  }
}
