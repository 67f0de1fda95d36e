// UI strings in Korean and English. The bot's language is the deployment's; this is only the
// language of the page's own labels and messages.

const STRINGS = {
  ko: {
    title: "보이스봇",
    langToggle: "English",
    "conn.offline": "연결 안 됨",
    "conn.connecting": "연결 중…",
    "conn.connected": "연결됨",
    "conn.reconnecting": "다시 연결 중… ({seconds}초 후)",
    "conn.signingIn": "세션 시작 중…",
    placeholder: "메시지를 입력하세요",
    send: "보내기",
    stop: "멈춤",
    "mic.start": "마이크",
    "mic.stop": "듣는 중 (누르면 끝)",
    accessCode: "접속 코드",
    enter: "시작",
    you: "나",
    bot: "봇",
    listening: "듣는 중…",
    "turn.thinking": "생각 중…",
    "turn.interrupted": "중단됨",
    "turn.stopping": "멈추는 중…",
    "lat.firstToken": "첫 토큰",
    "lat.firstSentence": "첫 문장",
    "lat.firstAudio": "첫 음성",
    "lat.done": "완료",
    "lat.played": "재생 시작",
    "err.session": "세션을 시작할 수 없습니다: {message}",
    "err.accessCode": "접속 코드가 맞지 않습니다.",
    "err.config": "설정(config.json)을 불러올 수 없습니다.",
    "err.notConnected": "아직 연결되지 않았습니다. 잠시 후 다시 보내 주세요.",
    "err.mic": "마이크를 쓸 수 없습니다: {message}",
    "err.transcribe.refused":
      "음성 인식 서비스(Amazon Transcribe)가 연결을 거부했거나 닿지 않습니다(서명이 틀렸거나 만료됨, 또는 네트워크). 잠시 후 다시 말해 주세요.",
    "err.transcribe.failed": "음성 인식이 중간에 끊겼습니다: {message}",
    "err.transcribe.presign": "음성 인식 연결을 준비할 수 없습니다: {message}",
    "err.transcribe.quota": "음성 인식 사용 한도에 도달했습니다. {seconds}초 뒤에 다시 말해 주세요.",
    "err.audio": "음성을 재생할 수 없습니다: {message}",
    "audio.locked": "소리를 켜려면 화면을 한 번 눌러 주세요.",
    "err.server": "오류 ({code}): {message}",
    "err.quota": "사용 한도에 도달했습니다. {seconds}초 뒤에 다시 해 주세요.",
    dismiss: "닫기",
    "device.button": "기기 연결",
    "device.help":
      "마이크가 있는 기기(노트북, 라즈베리 파이)에서 이 명령을 실행하면 그 기기에서 들은 말이 이 페이지에 나타납니다. 토큰은 대화 내용을 보낼 수만 있고 읽을 수는 없습니다.",
    "device.copy": "복사",
    "device.copied": "복사됨",
  },
  en: {
    title: "Voicebot",
    langToggle: "한국어",
    "conn.offline": "Offline",
    "conn.connecting": "Connecting…",
    "conn.connected": "Connected",
    "conn.reconnecting": "Reconnecting… (in {seconds} s)",
    "conn.signingIn": "Starting a session…",
    placeholder: "Type a message",
    send: "Send",
    stop: "Stop",
    "mic.start": "Microphone",
    "mic.stop": "Listening (tap to end)",
    accessCode: "Access code",
    enter: "Start",
    you: "You",
    bot: "Bot",
    listening: "Listening…",
    "turn.thinking": "Thinking…",
    "turn.interrupted": "Interrupted",
    "turn.stopping": "Stopping…",
    "lat.firstToken": "first token",
    "lat.firstSentence": "first sentence",
    "lat.firstAudio": "first audio",
    "lat.done": "done",
    "lat.played": "playback began",
    "err.session": "Could not start a session: {message}",
    "err.accessCode": "That access code is not right.",
    "err.config": "Could not load the settings (config.json).",
    "err.notConnected": "Not connected yet. Please send again in a moment.",
    "err.mic": "Cannot use the microphone: {message}",
    "err.transcribe.refused":
      "The speech service (Amazon Transcribe) refused the connection or could not be reached (a wrong or expired signature, or the network). Please speak again in a moment.",
    "err.transcribe.failed": "Speech recognition was cut off: {message}",
    "err.transcribe.presign": "Could not prepare speech recognition: {message}",
    "err.transcribe.quota":
      "You have reached the speech recognition limit. Please speak again in {seconds} s.",
    "err.audio": "Cannot play the audio: {message}",
    "audio.locked": "Tap the page once to turn the sound on.",
    "err.server": "Error ({code}): {message}",
    "err.quota": "You have reached the usage limit. Please try again in {seconds} s.",
    dismiss: "Dismiss",
    "device.button": "Connect a device",
    "device.help":
      "Run this on a device with a microphone (a laptop, a Raspberry Pi): what it hears appears on this page. The token can only send transcripts; it cannot read anything.",
    "device.copy": "Copy",
    "device.copied": "Copied",
  },
};

const STORAGE_KEY = "voicebot.uiLanguage";
let current = "en";

/** A saved choice wins, then the browser's language, then the deployment's language. */
export function initialLanguage(configLanguage) {
  const saved = localStorage.getItem(STORAGE_KEY);
  if (saved in STRINGS) return saved;
  for (const tag of [...(navigator.languages || [navigator.language]), configLanguage]) {
    const base = String(tag || "")
      .slice(0, 2)
      .toLowerCase();
    if (base in STRINGS) return base;
  }
  return "en";
}

export function language() {
  return current;
}

export function t(key, vars = {}) {
  const template = STRINGS[current][key] ?? STRINGS.en[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
}

/** Switches the language and re-labels every element marked with data-i18n*. */
export function setLanguage(lang, { save = false } = {}) {
  current = lang in STRINGS ? lang : "en";
  if (save) localStorage.setItem(STORAGE_KEY, current);
  document.documentElement.lang = current;
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll("[data-i18n-placeholder]")) {
    el.placeholder = t(el.dataset.i18nPlaceholder);
  }
  for (const el of document.querySelectorAll("[data-i18n-label]")) {
    el.setAttribute("aria-label", t(el.dataset.i18nLabel));
  }
  document.dispatchEvent(new CustomEvent("voicebot:language"));
}

export function otherLanguage() {
  return current === "ko" ? "en" : "ko";
}
