// One WebSocket per page that keeps itself open: exponential backoff with jitter between
// attempts (so many pages do not reconnect in lock-step after an outage), a periodic ping (idle
// connections are dropped by proxies and by API Gateway after 10 minutes), and a fresh token on
// every attempt.

const PING_MS = 30_000;
const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 30_000;
// docs/PROTOCOL.md: the page closes with this code when the server no longer knows it.
export const RECONNECT_CLOSE_CODE = 4001;
const RECONNECT_GRACE_MS = 2_000;

export class Connection {
  /**
   * @param {object} options
   * @param {string} options.url the WebSocket URL without the token.
   * @param {(fresh: boolean) => Promise<string>} options.token a client token; fresh=true after
   *   handshakes kept failing (the token may have been refused).
   * @param {(event: object) => void} options.onEvent each parsed server event.
   * @param {(state: string, detail?: object) => void} options.onState
   *   "connecting" | "connected" | "reconnecting" (detail.delayMs).
   * @param {(reconnected: boolean) => void} options.onOpen after each successful handshake.
   */
  constructor({ url, token, onEvent, onState, onOpen }) {
    Object.assign(this, { url, tokenFor: token, onEvent, onState, onOpen });
    this.socket = null;
    this.failures = 0; // attempts in a row that never opened
    this.everOpened = false;
    this.pingTimer = 0;
    this.retryTimer = 0;
    this.reconnecting = null; // the socket reconnectSoon() is replacing
  }

  get open() {
    return this.socket?.readyState === WebSocket.OPEN;
  }

  async connect() {
    clearTimeout(this.retryTimer);
    this.onState("connecting");
    let token;
    try {
      token = await this.tokenFor(this.failures >= 2);
    } catch {
      this.failures += 1; // the API is unreachable or refused us; back off like a failed handshake
      this.#scheduleRetry();
      return;
    }
    const socket = new WebSocket(`${this.url}?token=${encodeURIComponent(token)}`);
    this.socket = socket;
    let opened = false;
    socket.onopen = () => {
      opened = true;
      this.failures = 0;
      const reconnected = this.everOpened;
      this.everOpened = true;
      this.onState("connected");
      this.pingTimer = setInterval(() => this.send({ action: "ping" }), PING_MS);
      this.onOpen(reconnected);
    };
    socket.onmessage = (message) => {
      if (typeof message.data !== "string") return;
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        return; // not ours to interpret
      }
      if (event && typeof event.type === "string") this.onEvent(event);
    };
    socket.onclose = () => {
      clearInterval(this.pingTimer);
      if (this.socket !== socket) return;
      if (!opened) this.failures += 1;
      this.#scheduleRetry();
    };
  }

  /**
   * For when the server no longer knows this connection (an `unauthorized` error event, e.g.
   * after its cache was lost): the server closes the socket itself once it has sent what
   * belongs with the error (a turn's `done`); if it has not within `graceMs`, the page closes
   * it (code 4001). Either way it connects again at once: the new connection registers again,
   * and onOpen(true) lets the page resume.
   */
  reconnectSoon(graceMs = RECONNECT_GRACE_MS) {
    const socket = this.socket;
    if (!socket || socket.readyState > WebSocket.OPEN || this.reconnecting === socket) return;
    this.reconnecting = socket;
    const again = () => {
      clearTimeout(timer);
      if (this.socket !== socket) return; // already replaced
      this.socket = null; // its onclose must not schedule a second attempt
      clearInterval(this.pingTimer);
      if (socket.readyState <= WebSocket.OPEN) socket.close(RECONNECT_CLOSE_CODE, "not registered");
      this.connect();
    };
    const timer = setTimeout(again, graceMs);
    socket.addEventListener("close", again, { once: true });
  }

  /** Sends one action; false when there is no open connection to carry it. */
  send(action) {
    if (!this.open) return false;
    this.socket.send(JSON.stringify(action));
    return true;
  }

  #scheduleRetry() {
    const attempt = Math.min(this.failures, 10);
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** attempt);
    // "Equal jitter": at least half the ceiling, so retries still back off.
    const delayMs = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
    this.onState("reconnecting", { delayMs });
    this.retryTimer = setTimeout(() => this.connect(), delayMs);
  }
}
