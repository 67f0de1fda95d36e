// The page's session: POST /api/sessions once, keep the tokens in sessionStorage (they die with
// the tab, and a reload keeps the same user), and refresh the client token before it expires.

const STORAGE_KEY = "voicebot.session";
// Refresh this long before expiry so a reconnect never presents a token that just ran out.
const REFRESH_MARGIN_MS = 120_000;

export class ApiError extends Error {
  constructor(status, code, message, retryAfter = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter; // seconds (quota_exceeded), when the server says
  }
}

export async function postJson(url, { body, token } = {}) {
  const headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(url, { method: "POST", headers, body: JSON.stringify(body ?? {}) });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = data.error ?? {};
    throw new ApiError(
      response.status,
      error.code ?? "http_error",
      error.message ?? response.statusText,
      error.retryAfter ?? null,
    );
  }
  return data;
}

export class Session {
  /**
   * @param {string} apiBase "" when the page and the API share an origin.
   * @param {boolean} accessCodeRequired ask for the code before the first attempt.
   * @param {(wrong: boolean) => Promise<string>} askAccessCode resolves to the code the user typed.
   */
  constructor(apiBase, accessCodeRequired, askAccessCode) {
    this.apiBase = apiBase;
    this.accessCodeRequired = accessCodeRequired;
    this.askAccessCode = askAccessCode;
    this.data = null;
    this.refreshTimer = 0;
    this.pending = null;
  }

  get userId() {
    return this.data?.userId;
  }

  get deviceToken() {
    return this.data?.deviceToken;
  }

  /** A client token good for at least the refresh margin; starts or refreshes the session. */
  async token() {
    if (!this.data) this.data = this.#load();
    if (!this.data) await this.#once(() => this.#create());
    else if (this.#expiresInMs() < REFRESH_MARGIN_MS) await this.#once(() => this.refresh());
    return this.data.token;
  }

  /** Trades the current token for a fresh one; an unusable token starts a new session. */
  async refresh() {
    // Near the session's maximum age a refresh only returns a token that ends with the session
    // (and the timer would ask again every few seconds): start a new session instead.
    const sessionEndsAt = this.data?.sessionExpiresAt;
    if (sessionEndsAt && sessionEndsAt * 1000 - Date.now() < REFRESH_MARGIN_MS) {
      this.data = null;
      await this.#create();
      return;
    }
    try {
      this.#store(
        await postJson(`${this.apiBase}/api/sessions/refresh`, { token: this.data?.token }),
      );
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 401) throw error;
      this.data = null;
      await this.#create();
    }
  }

  // Concurrent callers (reconnect, refresh timer) share one request instead of racing.
  async #once(work) {
    this.pending ??= work().finally(() => {
      this.pending = null;
    });
    return this.pending;
  }

  async #create() {
    let accessCode = this.accessCodeRequired ? await this.askAccessCode(false) : undefined;
    for (;;) {
      try {
        const body = accessCode === undefined ? {} : { accessCode };
        this.#store(await postJson(`${this.apiBase}/api/sessions`, { body }));
        return;
      } catch (error) {
        if (!(error instanceof ApiError) || error.status !== 401) throw error;
        accessCode = await this.askAccessCode(accessCode !== undefined);
      }
    }
  }

  #store(data) {
    this.data = data;
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify(data));
    clearTimeout(this.refreshTimer);
    const delay = Math.max(5_000, this.#expiresInMs() - REFRESH_MARGIN_MS);
    this.refreshTimer = setTimeout(() => this.#once(() => this.refresh()).catch(() => {}), delay);
  }

  #load() {
    try {
      const data = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? "null");
      if (data?.token && data.expiresAt * 1000 - Date.now() > REFRESH_MARGIN_MS) {
        this.#store(data);
        return data;
      }
    } catch {
      // A corrupt entry is simply replaced by a new session.
    }
    return null;
  }

  #expiresInMs() {
    return this.data ? this.data.expiresAt * 1000 - Date.now() : 0;
  }
}
