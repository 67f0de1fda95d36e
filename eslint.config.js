// ESLint flat config for the page's JavaScript: web/js holds ES modules loaded by
// <script type="module"> with no build step. Run it with `npm run lint:js` or scripts/lint-js.sh.
// This file itself is CommonJS (package.json has no "type": "module").
"use strict";

const js = require("@eslint/js");
const globals = require("globals");

const WORKLET = "web/js/pcm-worklet.js";
// Imported by both the page and the worklet, so it may use only what both scopes have.
const SHARED = "web/js/pcm.js";

const moduleCode = (files, envGlobals, ignores = []) => ({
  files,
  ignores,
  ...js.configs.recommended,
  languageOptions: { ecmaVersion: "latest", sourceType: "module", globals: envGlobals },
});

module.exports = [
  { ignores: ["node_modules/", "cdk.out/", "build/", ".venv/"] },
  { linterOptions: { reportUnusedDisableDirectives: "error" } },
  // The page: window, document, WebSocket, AudioContext, ...
  moduleCode(["web/js/**/*.js"], globals.browser, [WORKLET, SHARED]),
  // The AudioWorklet processor runs on the audio thread: registerProcessor, sampleRate,
  // AudioWorkletProcessor, and no window or document.
  moduleCode([WORKLET], globals.audioWorklet),
  // Plain ECMAScript only (Math, typed arrays): a browser-only name would break the worklet.
  moduleCode([SHARED], {}),
  {
    files: ["eslint.config.js"],
    ...js.configs.recommended,
    languageOptions: { ecmaVersion: "latest", sourceType: "commonjs", globals: globals.node },
  },
];
