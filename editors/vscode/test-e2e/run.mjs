// End-to-end test of the Wingman extension in real VS Code (code-server 4.100.3) driven by
// Playwright through Debian's Chromium. Every wait is on something visible in the page (a status
// bar item, ghost text, a tab, a notification) or on the file on disk, never a fixed sleep.
//
//   node run.mjs --vsix ../wingman.vsix --wingman /path/to/.venv/bin/wingman [--real]
//                [--model-home DIR] [--screenshots DIR] [--busy-proxy EXE] [--keep]
//
// Without --real the server runs the fake engine (scripted through `wingman.fakeEngine`); with
// --real it runs the default model (`wingman model pull` first) and only checks that some ghost
// text appears and Tab inserts it. With --busy-proxy (a `wingman` that runs the server behind
// tests/editors/busy_proxy.py, which sends wingman/busy and holds the loading state until a file
// exists), the status bar's loading progress and busy spinner are checked last.
// Prints one `RESULT {...}` line; exits non-zero on failure.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : fallback;
};
const REAL = argv.includes('--real');
const KEEP = argv.includes('--keep');
const VSIX = path.resolve(opt('--vsix', path.join(here, '..', 'wingman.vsix')));
const WINGMAN = path.resolve(opt('--wingman', path.join(here, '..', '..', '..', '.venv', 'bin', 'wingman')));
const SHOTS = path.resolve(opt('--screenshots', path.join(here, 'screenshots')));
const CHROMIUM = opt('--chromium', '/usr/bin/chromium');
const BUSY_PROXY = opt('--busy-proxy') ? path.resolve(opt('--busy-proxy')) : undefined;
const CODE_SERVER = path.join(here, 'node_modules', '.bin', 'code-server');
const T = REAL ? 3 : 1; // the real model is slower in every step

const t0 = Date.now();
const result = { mode: REAL ? 'real' : 'fake', steps: [] };
function step(name, extra = {}) {
  const s = { name, s: +((Date.now() - t0) / 1000).toFixed(1), ...extra };
  result.steps.push(s);
  console.log(`[${s.s}s] ${name}${Object.keys(extra).length ? ' ' + JSON.stringify(extra) : ''}`);
}

for (const [what, p] of [['vsix', VSIX], ['wingman', WINGMAN], ['code-server', CODE_SERVER], ['chromium', CHROMIUM]]) {
  if (!fs.existsSync(p)) {
    console.error(`missing ${what}: ${p}`);
    process.exit(2);
  }
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wingman-vscode-'));
const dirs = Object.fromEntries(['user', 'extensions', 'ws', 'config', 'data'].map((d) => [d, path.join(tmp, d)]));
Object.values(dirs).forEach((d) => fs.mkdirSync(d, { recursive: true }));
fs.mkdirSync(SHOTS, { recursive: true });
const env = { ...process.env, XDG_CONFIG_HOME: dirs.config, XDG_DATA_HOME: dirs.data };
if (opt('--model-home')) env.WINGMAN_HOME = path.resolve(opt('--model-home')); // where `wingman model pull` put it

// The workspace: one Python file with a function to complete. With the fake engine, a method of
// a class too, whose body is where the Tab clash shows: typing `if amount` opens VS Code's
// word-based suggest widget (the file has `amount` and `amount_due`) with the ghost text.
const SOURCE = REAL ? 'def add(a, b):\n' : [
  'def add(a, b):',
  '    return a + b',
  '',
  '',
  'class Account:',
  '    def __init__(self, balance):',
  '        self.balance = balance',
  '        self.amount_due = 0',
  '',
  '    def withdraw(self, amount):',
  '            raise ValueError("insufficient funds")', // the body of the `if` typed above it
  '        self.balance -= amount',
].join('\n');
const METHOD_LINE_UP = 2; // from the last line, up to `def withdraw(...)`, where typing starts
const src = path.join(dirs.ws, 'calc.py');
fs.writeFileSync(src, SOURCE);

const FAKE = {
  completion: ' > self.balance:\n', // the model's continuation after the typed "if amount"
  reply: '```python\ndef test_add():\n    assert add(1, 2) == 3\n\n\ndef test_add_negative():\n    assert add(-1, -2) == -3\n```\n',
};
function writeSettings(serverPath, extra = {}) {
  const s = {
    ...extra,
    'wingman.server.path': serverPath,
    'wingman.completion.debounceMs': REAL ? 100 : 0,
    // The fake's scripted text is what the editor must see; the gate has its own tests.
    'wingman.completion.gateThreshold': REAL ? 0.0381 : 0, // real: the shipped default (model/gate_model.json)
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'workbench.enableExperiments': false,
    'security.workspace.trust.enabled': false,
    'telemetry.telemetryLevel': 'off',
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'update.mode': 'none',
    'editor.minimap.enabled': false,
    'files.autoSave': 'off',
    'chat.commandCenter.enabled': false,
    'window.commandCenter': false,
  };
  if (!REAL) {
    s['wingman.server.args'] = ['--engine', 'fake'];
    s['wingman.fakeEngine'] = FAKE;
  }
  Object.assign(s, extra);
  fs.mkdirSync(path.join(dirs.user, 'User'), { recursive: true });
  fs.writeFileSync(path.join(dirs.user, 'User', 'settings.json'), JSON.stringify(s, null, 2));
}

async function freePort() {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function until(what, fn, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100)); // the pace of polling, not a wait for time to pass
  }
  throw new Error(`timed out waiting for ${what} (last: ${last})`);
}

function findFile(dir, name) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isFile() && e.name === name) return p;
    if (e.isDirectory() && !e.name.startsWith('.')) {
      const found = findFile(p, name);
      if (found) return found;
    }
  }
  return false;
}

/** The first line of the extension's log (Wingman.log under the user data dir) containing `text`. */
function logLine(dir, text) {
  if (!fs.existsSync(dir)) return undefined;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      const found = logLine(p, text);
      if (found) return found;
    } else if (/Wingman/.test(e.name)) {
      const line = fs.readFileSync(p, 'utf8').split('\n').find((l) => l.includes(text));
      if (line) return line.replace(/^.*\[client\] /, '');
    }
  }
  return undefined;
}

let server;
let browser;
let page;
let failed = false;
try {
  // 1. Install the .vsix as a user would.
  const inst = spawnSync(CODE_SERVER, ['--user-data-dir', dirs.user, '--extensions-dir', dirs.extensions, '--install-extension', VSIX], { env, encoding: 'utf8' });
  if (inst.status !== 0) throw new Error(`--install-extension failed: ${inst.stdout}${inst.stderr}`);
  step('extension installed');

  // 2. Start broken, as users do: the extension must say what is wrong, not fail silently.
  //    fake: a wrong server path; real: a model that is not there.
  const noModel = path.join(tmp, 'no-model');
  writeSettings(REAL ? WINGMAN : path.join(tmp, 'no-such-venv', 'bin', 'wingman'), REAL ? { 'wingman.model.path': noModel } : {});
  const port = await freePort();
  server = spawn(CODE_SERVER, ['--bind-addr', `127.0.0.1:${port}`, '--auth', 'none', '--disable-workspace-trust', '--disable-telemetry',
    '--disable-update-check', '--disable-getting-started-override', '--user-data-dir', dirs.user, '--extensions-dir', dirs.extensions, dirs.ws], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let serverLog = '';
  server.stdout.on('data', (d) => (serverLog += d));
  server.stderr.on('data', (d) => (serverLog += d));
  await until('code-server to listen', async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok, 60000);
  step('code-server up');

  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
  await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(dirs.ws)}`);
  await page.locator('.monaco-workbench').waitFor({ timeout: 60000 });
  step('workbench loaded');

  // Open the file from the Explorer (activates the extension: onLanguage:python).
  const row = page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'calc.py' });
  await row.first().waitFor({ timeout: 30000 });
  await row.first().click();
  await page.locator('.tab.active', { hasText: 'calc.py' }).waitFor({ timeout: 30000 });
  step('calc.py open');

  const toastWith = (text) => page.locator('.notifications-toasts .notification-toast', { hasText: text }).first();
  const messageOf = async (toast) => (await toast.locator('.notification-list-item-message').innerText()).replace(/\s+/g, ' ');
  if (!REAL) {
    const toast = toastWith('cannot start the server');
    await toast.waitFor({ timeout: 30000 });
    result.wrongPathMessage = await messageOf(toast);
    await page.locator('.statusbar-item[aria-label="Wingman: error"]').waitFor({ timeout: 10000 });
    step('wrong path reported', { message: result.wrongPathMessage });
    await page.screenshot({ path: path.join(SHOTS, `${result.mode}-0-wrong-path.png`) });

    // 3. Fix it where the message points: its "Open Settings" button, then the Server: Path box
    //    (code-server is a remote window: machine-overridable settings sit in its Remote tab).
    //    First a `wingman` that crashes at start (an incomplete venv): its error must show.
    await toast.locator('.monaco-button', { hasText: 'Open Settings' }).first().click();
    await page.locator('.settings-editor .settings-tabs-widget .action-label', { hasText: 'Remote' }).first().click();
    const crasher = path.join(tmp, 'broken-venv-wingman');
    fs.writeFileSync(crasher, '#!/bin/sh\necho "Traceback (most recent call last):" >&2\necho "ModuleNotFoundError: No module named \'pygls\'" >&2\nexit 1\n', { mode: 0o755 });
    const box = page.locator('.settings-editor .setting-item-text:has-text("Server: Path") input').first();
    await box.waitFor({ timeout: 20000 });
    await box.fill(crasher);
    await box.press('Enter');
    const crash = toastWith('did not start');
    await crash.waitFor({ timeout: 30000 });
    result.crashMessage = await messageOf(crash);
    step('crash at start reported', { message: result.crashMessage });
    await page.screenshot({ path: path.join(SHOTS, `${result.mode}-0a-crash.png`) });
    await box.fill(WINGMAN);
    await box.press('Enter');
    step('server path set in the Settings editor');
  } else {
    const toast = toastWith('wingman model pull');
    await toast.waitFor({ timeout: 120000 });
    result.missingModelMessage = await messageOf(toast);
    await page.locator('.statusbar-item[aria-label="Wingman: error"]').waitFor({ timeout: 10000 });
    step('missing model reported', { message: result.missingModelMessage });
    await page.screenshot({ path: path.join(SHOTS, `${result.mode}-0-missing-model.png`) });
    // 3. Fix the model path in the Settings editor: the server reloads (no restart needed).
    await page.keyboard.press('F1');
    await page.locator('.quick-input-widget input').fill('>Preferences: Open Settings (UI)');
    await page.locator('.quick-input-list .monaco-list-row', { hasText: 'Open Settings (UI)' }).first().waitFor({ timeout: 10000 });
    await page.keyboard.press('Enter');
    await page.locator('.settings-editor').waitFor({ timeout: 20000 });
    await page.keyboard.type('wingman.model.path');
    const box = page.locator('.settings-editor .setting-item-text:has-text("Model: Path") input').first();
    await box.waitFor({ timeout: 20000 });
    await box.fill('default');
    await box.press('Enter');
    step('model path set in the Settings editor');
    // The real model takes a while: the status-bar item shows it loading (with $/progress).
    const loading = page.locator('.statusbar-item[aria-label^="Wingman: loading"]');
    await loading.first().waitFor({ timeout: 30000 });
    result.loadingLabel = await loading.first().getAttribute('aria-label');
    await page.screenshot({ path: path.join(SHOTS, `${result.mode}-0c-loading.png`) });
    step('model loading shown', { label: result.loadingLabel });
  }
  await page.locator('.statusbar-item[aria-label="Wingman: ready"]').waitFor({ timeout: 60000 * T });
  step('server ready after the settings change');
  await page.screenshot({ path: path.join(SHOTS, `${result.mode}-0b-settings-fixed.png`) });
  // Clear the error messages (they would cover the editor), back to calc.py.
  await page.keyboard.press('F1');
  await page.locator('.quick-input-widget input').fill('>Notifications: Clear All Notifications');
  await page.locator('.quick-input-list .monaco-list-row', { hasText: 'Clear All Notifications' }).first().waitFor({ timeout: 10000 });
  await page.keyboard.press('Enter');
  await until('the messages to be cleared', async () => (await page.locator('.notifications-toasts .notification-toast').count()) === 0, 10000);
  await page.locator('.tab', { hasText: 'calc.py' }).first().click();
  await page.locator('.tab.active', { hasText: 'calc.py' }).waitFor({ timeout: 10000 });
  step('back in calc.py');

  // 4. Type: a new line in the function body (real) or the method body (fake). Ghost text must
  //    come from the server.
  const editor = page.locator('.editor-instance .monaco-editor').first();
  // With the suggest widget open, VS Code draws the ghost text as a preview of its item.
  const ghost = editor.locator('.ghost-text-decoration, .ghost-text-decoration-preview, .ghost-text');
  const suggestWidget = editor.locator('.suggest-widget.visible');
  await editor.locator('.view-lines').click();
  await page.keyboard.press(REAL ? 'Control+Home' : 'Control+End');
  for (let i = 0; !REAL && i < METHOD_LINE_UP; i++) await page.keyboard.press('ArrowUp');
  await page.keyboard.press('End');
  await page.keyboard.press('Enter'); // Python's on-enter rule indents the body
  if (REAL) {
    await page.keyboard.type('return', { delay: 50 });
  } else {
    // Typed as a user does: the suggest widget opens on the first letter of `amount`.
    await page.keyboard.type('if amount', { delay: 60 });
    await suggestWidget.waitFor({ timeout: 10000 });
    result.suggestItems = (await suggestWidget.locator('.monaco-list-row').allInnerTexts()).map((t) => t.split('\n')[0].trim());
  }
  step('typed', REAL ? {} : { suggestItems: result.suggestItems });
  await ghost.first().waitFor({ timeout: 20000 * T });
  result.ghostText = (await ghost.allInnerTexts()).join('').replace(/\u00a0/g, ' ');
  step('ghost text shown', { ghost: result.ghostText });
  if (!REAL) {
    // Both at once: the situation in which VS Code's own Tab goes to the widget.
    result.suggestWidgetVisibleWithGhostText = await suggestWidget.isVisible();
    if (!result.suggestWidgetVisibleWithGhostText) throw new Error('the suggest widget closed before Tab: the test would prove nothing');
  }
  await page.screenshot({ path: path.join(SHOTS, `${result.mode}-1-ghost-text.png`) });
  if (!REAL && !result.ghostText.includes('> self.balance:')) throw new Error(`unexpected ghost text: ${result.ghostText}`);

  // 5. Accept with ONE Tab; save; the file on disk has it.
  await page.keyboard.press('Tab');
  if (!REAL) {
    result.lineAfterOneTab = await until('the ghost text to be accepted by one Tab', async () => {
      const lines = (await editor.locator('.view-lines .view-line').allInnerTexts()).map((t) => t.replace(/\u00a0/g, ' '));
      let line = lines.find((l) => l.trim().startsWith('if amount'));
      // The fake engine offers its text again at once, drawn inside the line: leave it out.
      const again = (await ghost.allInnerTexts()).join('').replace(/\u00a0/g, ' ');
      if (line && again && line.endsWith(again)) line = line.slice(0, -again.length);
      return line && line.trim() !== 'if amount' ? line : false;
    }, 10000);
    result.suggestWidgetVisibleAfterTab = await suggestWidget.isVisible();
    await page.screenshot({ path: path.join(SHOTS, `${result.mode}-1b-after-one-tab.png`) });
  } else {
    await until('the ghost text to be accepted', async () => (await ghost.count()) === 0 || !(await ghost.first().isVisible()), 10000);
  }
  await page.keyboard.press('Escape');
  await page.keyboard.press('Control+S');
  const saved = await until('calc.py to be saved with the suggestion', () => {
    const text = fs.readFileSync(src, 'utf8');
    return text !== SOURCE && text.length > SOURCE.length + 4 ? text : false;
  }, 10000);
  result.savedSource = saved;
  step('accepted with Tab and saved', { text: saved });
  if (!REAL && !saved.includes('        if amount > self.balance:')) throw new Error(`unexpected file after Tab: ${JSON.stringify(saved)}`);

  // 6. Generate Tests from the command palette, with the cursor in the function.
  if (!REAL) {
    await page.keyboard.press('Control+Home');
    await page.keyboard.press('F1');
    const input = page.locator('.quick-input-widget input');
    await input.waitFor({ timeout: 10000 });
    await input.fill('>Wingman: Generate Tests');
    const item = page.locator('.quick-input-list .monaco-list-row', { hasText: 'Wingman: Generate Tests' });
    await item.first().waitFor({ timeout: 10000 });
    await page.keyboard.press('Enter');
    await page.screenshot({ path: path.join(SHOTS, `${result.mode}-1c-generate-tests.png`) });
    const tab = page.locator('.tab.active', { hasText: 'test_calc.py' });
    await tab.first().waitFor({ timeout: 30000 });
    const testEditor = page.locator('.editor-group-container:has(.tab.active:has-text("test_calc.py")) .monaco-editor .view-lines').first();
    await until('the test file to show the generated tests', async () => (await testEditor.innerText()).replace(/\u00a0/g, ' ').includes('def test_add'), 15000);
    result.testTab = (await tab.first().innerText()).trim();
    result.testFileVisibleText = (await testEditor.innerText()).replace(/\u00a0/g, ' ');
    // Saved (on disk, the tab not dirty) and focused (the active editor group is the new file's).
    const testFile = await until('test_calc.py on disk', () => findFile(dirs.ws, 'test_calc.py'), 10000);
    result.testFileOnDisk = fs.readFileSync(testFile, 'utf8');
    await until('the test file tab to be saved', async () => (await page.locator('.tab.dirty', { hasText: 'test_calc.py' }).count()) === 0, 10000);
    result.testFileDirty = false;
    result.focusedTab = (await page.locator('.editor-group-container.active .tab.active').first().innerText()).trim();
    step('tests generated', { tab: result.testTab, file: path.relative(dirs.ws, testFile), focused: result.focusedTab });
    if (!result.testFileVisibleText.includes('assert add(1, 2) == 3')) throw new Error('generated tests not shown');
  }
  await page.screenshot({ path: path.join(SHOTS, `${result.mode}-2-final.png`) });

  if (!REAL) {
    const palette = async (title) => {
      await page.keyboard.press('F1');
      const input = page.locator('.quick-input-widget input');
      await input.waitFor({ timeout: 10000 });
      await input.fill(`>${title}`);
      await page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first().waitFor({ timeout: 10000 });
      await page.keyboard.press('Enter');
    };
    // 7. Translate Selection…: select calc.py's text, pick JavaScript; calc.js opens.
    await page.locator('.tab', { hasText: 'calc.py' }).first().click();
    await editor.locator('.view-lines').click();
    await page.keyboard.press('Control+A');
    await palette('Wingman: Translate Selection');
    const pick = page.locator('.quick-input-list .monaco-list-row', { hasText: 'JavaScript' });
    await pick.first().waitFor({ timeout: 10000 });
    result.translateChoices = (await page.locator('.quick-input-list .monaco-list-row').allInnerTexts()).map((t) => t.trim());
    await pick.first().click();
    await page.locator('.tab', { hasText: 'calc.js' }).first().waitFor({ timeout: 30000 });
    result.translatedTab = 'calc.js';
    const jsFile = await until('calc.js on disk', () => findFile(dirs.ws, 'calc.js'), 10000);
    result.translationOnDisk = fs.readFileSync(jsFile, 'utf8');
    await until('the translation tab to be saved', async () => (await page.locator('.tab.dirty', { hasText: 'calc.js' }).count()) === 0, 10000);
    await until('the translation to be focused', async () => (await page.locator('.editor-group-container.active .tab.active').first().innerText()).includes('calc.js'), 10000);
    result.translationFocused = true;
    step('translated', { choices: result.translateChoices });

    // 8. Toggle Inline Completion: off, then on again; the status bar says which.
    await palette('Wingman: Toggle Inline Completion');
    await page.locator('.statusbar-item[aria-label="Wingman: ready, inline completion off"]').waitFor({ timeout: 10000 });
    await palette('Wingman: Toggle Inline Completion');
    await page.locator('.statusbar-item[aria-label="Wingman: ready"]').waitFor({ timeout: 10000 });
    result.toggled = true;
    step('toggled off and on');
    await page.screenshot({ path: path.join(SHOTS, `${result.mode}-3-toggled.png`) });
  }

  // 9. Busy: the server (here busy_proxy.py in front of it) says a suggestion is slow to come.
  if (!REAL && BUSY_PROXY) {
    const released = path.join(tmp, 'release-ready');
    // The server settings are machine-overridable: the Settings editor's Remote tab (step 3) put
    // them in Machine/settings.json, which wins over the user's. Change them there.
    const machine = path.join(dirs.user, 'Machine', 'settings.json');
    const current = fs.existsSync(machine) ? JSON.parse(fs.readFileSync(machine, 'utf8') || '{}') : {};
    // One write, so that the server restarts once, with all of it (the fake engine answers in 2 s).
    fs.mkdirSync(path.dirname(machine), { recursive: true });
    fs.writeFileSync(machine, JSON.stringify({
      ...current,
      'wingman.server.path': BUSY_PROXY,
      'wingman.server.args': ['--engine', 'fake', '--hold-ready', released],
      'wingman.fakeEngine': { ...FAKE, delayS: 2 },
    }, null, 2));
    // The server restarts (a wingman.server change); loading shows the step and percentage.
    const loading = page.locator('.statusbar-item[aria-label="Wingman: loading 62% (loading model weights)"]');
    await loading.waitFor({ timeout: 30000 });
    result.loadingText = (await loading.innerText()).trim();
    await page.screenshot({ path: path.join(SHOTS, `${result.mode}-4-loading.png`) });
    step('loading progress shown', { text: result.loadingText });
    fs.writeFileSync(released, '');
    await page.locator('.statusbar-item[aria-label="Wingman: ready"]').waitFor({ timeout: 30000 });
    await page.locator('.tab', { hasText: 'calc.py' }).first().click();
    await page.locator('.tab.active', { hasText: 'calc.py' }).waitFor({ timeout: 10000 });
    await editor.locator('.view-lines').click();
    await page.keyboard.press('Control+End');
    await page.keyboard.press('End');
    await page.keyboard.press('Enter');
    await page.keyboard.type('if amount', { delay: 30 });
    const busyItem = page.locator('.statusbar-item[aria-label="Wingman: thinking…"]');
    await busyItem.waitFor({ timeout: 15000 });
    result.busyText = (await busyItem.innerText()).trim();
    result.busySpinner = (await busyItem.locator('.codicon-sync.codicon-modifier-spin').count()) > 0;
    await page.screenshot({ path: path.join(SHOTS, `${result.mode}-5-busy.png`) });
    step('busy shown', { text: result.busyText, spinner: result.busySpinner });
    await ghost.first().waitFor({ timeout: 20000 });
    await page.locator('.statusbar-item[aria-label="Wingman: ready"]').waitFor({ timeout: 10000 });
    result.busyRestored = true;
    step('busy over: ghost text shown, status restored');
  }
  result.editorSettings = logLine(dirs.user, 'editor.inlineSuggest.suppressSuggestions');
  step('done');
  result.ok = true;
} catch (err) {
  failed = true;
  result.ok = false;
  result.error = String(err && err.stack ? err.stack : err);
  console.error(result.error);
  if (page) await page.screenshot({ path: path.join(SHOTS, `${result.mode}-failure.png`) }).catch(() => {});
  // The extension's own log, for the reason.
  const logs = [];
  const walk = (d) => fs.existsSync(d) && fs.readdirSync(d, { withFileTypes: true }).forEach((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : /Wingman|exthost/.test(e.name) && logs.push(path.join(d, e.name))));
  walk(path.join(dirs.user, 'logs'));
  for (const l of logs) console.error(`--- ${l}\n${fs.readFileSync(l, 'utf8').slice(-3000)}`);
} finally {
  await browser?.close().catch(() => {});
  server?.kill('SIGTERM');
  if (!KEEP) fs.rmSync(tmp, { recursive: true, force: true });
  result.seconds = +((Date.now() - t0) / 1000).toFixed(1);
  console.log('RESULT ' + JSON.stringify(result));
  process.exit(failed ? 1 : 0);
}
