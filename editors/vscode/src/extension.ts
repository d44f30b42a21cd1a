// Wingman for VS Code: starts `wingman serve`, passes the settings, and adds commands and a
// status-bar item. Ghost text comes from vscode-languageclient 11, which registers the server's
// textDocument/inlineCompletion with VS Code's inline completion API by itself.
import * as readline from 'readline';
import * as vscode from 'vscode';
import {
  CloseAction,
  CloseHandlerResult,
  DidChangeConfigurationNotification,
  ErrorAction,
  ErrorHandlerResult,
  ExecuteCommandRequest,
  LanguageClient,
  LanguageClientOptions,
  ResponseError,
  RevealOutputChannelOn,
  ServerOptions,
  State as ClientState,
  TransportKind,
} from 'vscode-languageclient/node';
import { serverCommand, serverOptions, TRANSLATE_LANGUAGES } from './settings';
import { Busy, Progress, Status } from './status';

const LANGUAGE_NAMES: Record<string, string> = {
  python: 'Python', javascript: 'JavaScript', typescript: 'TypeScript', java: 'Java', cpp: 'C++', go: 'Go', rust: 'Rust',
};

let client: LanguageClient | undefined;
let status: Status;
let output: vscode.LogOutputChannel;
let acceptCommand: vscode.Disposable | undefined;
// Files the server created through workspace/applyEdit while a command ran.
let createdFiles: vscode.Uri[] = [];
// The server's last stderr lines, to say why it stopped, and when its stderr closed.
let stderrTail: string[] = [];
let stderrClosed: Promise<void> = Promise.resolve();

function lines(input: NodeJS.ReadableStream, each: (line: string) => void): void {
  readline.createInterface({ input, crlfDelay: Infinity, terminal: false, historySize: 0 }).on('line', each);
}

/** The most telling stderr line (the exception, for a Python traceback), or ''. */
function lastError(): string {
  const telling = [...stderrTail].reverse().find((l) => /error|exception|not found|no such|cannot/i.test(l));
  return (telling ?? stderrTail[stderrTail.length - 1] ?? '').trim();
}

function log(line: string): void {
  output.info(`[client] ${line}`);
}

async function showProblem(message: string): Promise<void> {
  log(message);
  const choice = await vscode.window.showErrorMessage(`Wingman: ${message}`, 'Open Settings', 'Show Log');
  if (choice === 'Open Settings') {
    await vscode.commands.executeCommand('workbench.action.openSettings', 'wingman.server');
  } else if (choice === 'Show Log') {
    output.show(true);
  }
}

function completionEnabled(): boolean {
  return vscode.workspace.getConfiguration('wingman').get<boolean>('completion.enabled', true);
}

async function startClient(context: vscode.ExtensionContext): Promise<void> {
  const cfg = vscode.workspace.getConfiguration('wingman');
  const cmd = serverCommand(cfg);
  if (!cmd.command) {
    status.set('error', cmd.problem ?? 'cannot find the server');
    void showProblem(`cannot start the server: ${cmd.problem}`);
    return;
  }
  log(`starting ${cmd.command} ${cmd.args.join(' ')}`);
  status.set('starting', `${cmd.command} ${cmd.args.join(' ')}`);

  const run = { command: cmd.command, args: cmd.args, transport: TransportKind.stdio };
  const server: ServerOptions = { run, debug: run };
  const languages = cfg.get<string[]>('languages') ?? ['python'];
  let restarts = 0;
  let started = false; // a server that dies before answering `initialize` is not restarted
  const options: LanguageClientOptions = {
    documentSelector: languages.flatMap((language) => [
      { scheme: 'file', language },
      { scheme: 'untitled', language },
    ]),
    initializationOptions: serverOptions(cfg),
    outputChannel: output,
    revealOutputChannelOn: RevealOutputChannelOn.Never, // our own messages say what went wrong
    stdioOptions: {
      stdout: (input, channel) => lines(input, (l) => channel.info(l)),
      stderr: (input, channel) => {
        stderrClosed = new Promise((resolve) => input.once('close', () => resolve()));
        lines(input, (l) => {
          channel.error(l);
          stderrTail.push(l);
          stderrTail = stderrTail.slice(-30);
        });
      },
    },
    errorHandler: {
      error: (): ErrorHandlerResult => ({ action: ErrorAction.Continue, handled: true }),
      closed: (): CloseHandlerResult => {
        if (!started) {
          return { action: CloseAction.DoNotRestart, handled: true }; // start() below reports it
        }
        restarts += 1;
        if (restarts <= 3) {
          status.set('starting', `the server stopped; restarting (${restarts}/3)`);
          return { action: CloseAction.Restart, handled: true };
        }
        const why = lastError();
        status.set('error', `the server keeps stopping${why ? ': ' + why : ''}`);
        void showProblem(`the server stopped 4 times and will not be restarted${why ? ' (' + why + ')' : ''}. Its output is in the log (Wingman: Show Log).`);
        return { action: CloseAction.DoNotRestart, handled: true };
      },
    },
    middleware: {
      provideInlineCompletionItems: (document, position, ctx, token, next) =>
        completionEnabled() ? next(document, position, ctx, token) : null,
      handleWorkDoneProgress: (token, params, next) => {
        if (params.kind === 'begin') {
          status.progress(params.message ?? params.title, params.percentage);
        } else if (params.kind === 'report') {
          status.progress(params.message, params.percentage);
        }
        next(token, params);
      },
      window: {
        // Files the server shows (generated tests, translations) open beside the source.
        showDocument: async (params, token, next) => {
          if (params.external) {
            return next(params, token);
          }
          const uri = vscode.Uri.parse(params.uri);
          const shown = vscode.window.visibleTextEditors.find((e) => e.document.uri.toString() === uri.toString());
          const selection = params.selection
            ? new vscode.Range(params.selection.start.line, params.selection.start.character, params.selection.end.line, params.selection.end.character)
            : undefined;
          // A file the server just created is where the user goes next: focus it, beside the source.
          const created = createdFiles.some((u) => u.toString() === uri.toString());
          await vscode.window.showTextDocument(uri, {
            viewColumn: shown?.viewColumn ?? vscode.ViewColumn.Beside,
            preserveFocus: params.takeFocus === false && !created,
            preview: false,
            selection,
          });
          return { success: true };
        },
      },
      workspace: {
        handleApplyEdit: async (params, next) => {
          const created: vscode.Uri[] = [];
          for (const change of params.edit.documentChanges ?? []) {
            if ('kind' in change && change.kind === 'create') {
              created.push(vscode.Uri.parse(change.uri));
            }
          }
          createdFiles.push(...created);
          const result = await next(params, undefined as never);
          // A file the server created (generated tests, a translation) is saved at once: left
          // dirty it is lost on close, and test runners and git only see what is on disk.
          if (!(result instanceof ResponseError) && result.applied) {
            for (const uri of created) {
              try {
                const doc = await vscode.workspace.openTextDocument(uri);
                if (doc.isDirty && !(await doc.save())) {
                  log(`could not save ${uri.fsPath}`);
                }
              } catch (err) {
                log(`could not save ${uri.toString()}: ${err}`);
              }
            }
          }
          return result;
        },
      },
    },
  };

  const c = new LanguageClient('wingman', 'Wingman', server, options);
  client = c;
  c.onNotification('wingman/status', (p: { state?: string; message?: string; model?: string; progress?: Progress }) => {
    const state = p.state === 'loading' || p.state === 'ready' || p.state === 'error' ? p.state : 'starting';
    status.set(state, p.message ?? '', p.model, p.progress);
    log(`status: ${p.state}${p.model ? ' · ' + p.model : ''}${p.message ? ' · ' + p.message : ''}`);
  });
  c.onNotification('wingman/busy', (p: Busy) => {
    status.busy(p);
    log(`busy: ${p.busy ? 'yes' : 'no'} · ${p.reason ?? ''} · ${p.message ?? ''} · ${p.elapsedMs ?? '?'} ms · ${p.uri}`);
  });
  c.onDidChangeState((e) => {
    if (e.newState === ClientState.Stopped && status.state !== 'error') {
      status.set('stopped', 'the server stopped');
    }
  });
  stderrTail = [];
  try {
    await c.start();
    started = true;
  } catch (err) {
    // The write to a dead server fails before its last words are read: wait for them (briefly).
    await Promise.race([stderrClosed, new Promise((r) => setTimeout(r, 3000))]);
    const why = lastError() || (err instanceof Error ? err.message : String(err));
    status.set('error', why);
    void showProblem(`the server did not start (${cmd.command} ${cmd.args.join(' ')}): ${why}. See the log.`);
    return;
  }
  if (status.state === 'starting') {
    status.set('loading', 'waiting for the model');
  }
  // The server's completions carry `wingman.accept`; languageclient registers it when the server
  // lists it among its commands. Otherwise forward it here.
  const serverCommands = c.initializeResult?.capabilities.executeCommandProvider?.commands ?? [];
  if (!serverCommands.includes('wingman.accept') && !acceptCommand) {
    acceptCommand = vscode.commands.registerCommand('wingman.accept', (...args: unknown[]) =>
      client?.sendRequest(ExecuteCommandRequest.type, { command: 'wingman.accept', arguments: args }),
    );
    context.subscriptions.push(acceptCommand);
  }
}

async function stopClient(): Promise<void> {
  const c = client;
  client = undefined;
  if (c && c.state !== ClientState.Stopped) {
    try {
      await c.stop(5000);
    } catch (err) {
      log(`stop: ${err}`);
    }
  }
  await c?.dispose();
}

/** Runs a server command with a progress notification, then shows any file it created. */
async function runServerCommand(command: string, args: unknown[], title: string): Promise<void> {
  if (!client || client.state !== ClientState.Running) {
    void showProblem(`the server is not running (${status.message || status.state}).`);
    return;
  }
  const c = client;
  createdFiles = [];
  log(`${command} ${JSON.stringify(args)}`);
  try {
    await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Wingman: ${title}…`, cancellable: true },
      (_progress, token) => c.sendRequest(ExecuteCommandRequest.type, { command, arguments: args }, token),
    );
  } catch (err) {
    void vscode.window.showErrorMessage(`Wingman: ${title} failed: ${err instanceof Error ? err.message : err}`);
    return;
  }
  log(`${command} done; created: ${createdFiles.map((u) => u.fsPath).join(', ') || 'nothing'}`);
  // The server shows what it created (window/showDocument); show anything it did not, and focus
  // the first new file (beside the source).
  for (const [i, uri] of createdFiles.entries()) {
    const visible = vscode.window.visibleTextEditors.find((e) => e.document.uri.toString() === uri.toString());
    if (visible && (i > 0 || vscode.window.activeTextEditor === visible)) {
      continue;
    }
    const doc = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(doc, { viewColumn: visible?.viewColumn ?? vscode.ViewColumn.Beside, preview: false, preserveFocus: i > 0 });
  }
}

function toPosition(p: vscode.Position): { line: number; character: number } {
  return { line: p.line, character: p.character };
}

async function generateTests(): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  if (!editor) {
    void vscode.window.showInformationMessage('Wingman: open a file and put the cursor in a function first.');
    return;
  }
  await runServerCommand('wingman.generateTests', [editor.document.uri.toString(), toPosition(editor.selection.active)], 'generating tests');
}

async function translateSelection(): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  if (!editor) {
    void vscode.window.showInformationMessage('Wingman: select some code to translate first.');
    return;
  }
  const own = editor.document.languageId;
  const picks = TRANSLATE_LANGUAGES.filter((l) => l !== own).map((l) => ({ label: LANGUAGE_NAMES[l], id: l }));
  const choice = await vscode.window.showQuickPick(picks, { placeHolder: 'Translate the selection to…' });
  if (!choice) {
    return;
  }
  const doc = editor.document;
  const sel = editor.selection.isEmpty ? new vscode.Range(0, 0, doc.lineCount, 0) : editor.selection;
  const range = doc.validateRange(sel);
  await runServerCommand(
    'wingman.translate',
    [doc.uri.toString(), { start: toPosition(range.start), end: toPosition(range.end) }, choice.id],
    `translating to ${choice.label}`,
  );
}

async function toggleInlineCompletion(): Promise<void> {
  const cfg = vscode.workspace.getConfiguration('wingman');
  const on = !cfg.get<boolean>('completion.enabled', true);
  await cfg.update('completion.enabled', on, vscode.ConfigurationTarget.Global);
  void vscode.window.setStatusBarMessage(`Wingman: inline completion ${on ? 'on' : 'off'}`, 3000);
}

/** Where Tab should take the ghost text even with the suggest widget open (see package.json). */
function publishLanguages(): void {
  const languages = vscode.workspace.getConfiguration('wingman').get<string[]>('languages') ?? [];
  void vscode.commands.executeCommand('setContext', 'wingman.languageIds', languages);
}

/** Tab with both ghost text and the suggest widget showing: take the ghost text, close the widget. */
async function acceptInlineSuggestion(): Promise<void> {
  await vscode.commands.executeCommand('editor.action.inlineSuggest.commit');
  await vscode.commands.executeCommand('hideSuggestWidget');
}

// "Learn this repository": the server runs `wingman learn` and reports through $/progress (its
// own cancellable notification); the result says whether the new adapter now serves.
async function learnRepository(): Promise<void> {
  if (!client) {
    void vscode.window.showInformationMessage('Wingman: the server is not running.');
    return;
  }
  const root = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  const result = await client.sendRequest(ExecuteCommandRequest.type,
    { command: 'wingman.learn', arguments: root ? [{ root }] : [] }) as { ok?: boolean; table?: string; error?: string };
  log(`wingman.learn ${JSON.stringify(result)}`);
  if (result?.table) {
    output.appendLine(result.table);
  }
}

async function deleteAcceptanceLog(): Promise<void> {
  const result = await client?.sendRequest(ExecuteCommandRequest.type, { command: 'wingman.deleteAcceptanceLog', arguments: [] }) as
    { deleted?: boolean; path?: string } | undefined;
  void vscode.window.showInformationMessage(result?.deleted ? `Wingman: deleted ${result.path}` : 'Wingman: there was no acceptance log.');
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  output = vscode.window.createOutputChannel('Wingman', { log: true });
  publishLanguages();
  const editorCfg = vscode.workspace.getConfiguration('editor', { languageId: 'python' });
  log(`python: editor.inlineSuggest.suppressSuggestions = ${editorCfg.get('inlineSuggest.suppressSuggestions')}, editor.inlineSuggest.enabled = ${editorCfg.get('inlineSuggest.enabled')}`);
  status = new Status();
  status.setCompletion(completionEnabled());
  context.subscriptions.push(
    output,
    status,
    vscode.commands.registerCommand('wingman.vscode.generateTests', generateTests),
    vscode.commands.registerCommand('wingman.vscode.translateSelection', translateSelection),
    vscode.commands.registerCommand('wingman.vscode.toggleInlineCompletion', toggleInlineCompletion),
    vscode.commands.registerCommand('wingman.vscode.showLog', () => output.show(true)),
    vscode.commands.registerCommand('wingman.vscode.learnRepository', learnRepository),
    vscode.commands.registerCommand('wingman.vscode.deleteAcceptanceLog', deleteAcceptanceLog),
    vscode.commands.registerCommand('wingman.vscode.acceptInlineSuggestion', acceptInlineSuggestion),
    // The server answers an explicit request with its alternatives; VS Code's own cycling asks
    // explicitly, so these only name the standard commands in Wingman's palette.
    vscode.commands.registerCommand('wingman.vscode.nextSuggestion',
      () => vscode.commands.executeCommand('editor.action.inlineSuggest.showNext')),
    vscode.commands.registerCommand('wingman.vscode.previousSuggestion',
      () => vscode.commands.executeCommand('editor.action.inlineSuggest.showPrevious')),
    vscode.commands.registerCommand('wingman.vscode.restart', async () => {
      await stopClient();
      await startClient(context);
    }),
    vscode.workspace.onDidChangeConfiguration(async (e) => {
      if (!e.affectsConfiguration('wingman')) {
        return;
      }
      status.setCompletion(completionEnabled());
      publishLanguages();
      if (e.affectsConfiguration('wingman.server') || e.affectsConfiguration('wingman.languages')) {
        log('server settings changed; restarting');
        await stopClient();
        await startClient(context);
      } else if (client?.state === ClientState.Running) {
        await client.sendNotification(DidChangeConfigurationNotification.type, { settings: serverOptions() });
      }
    }),
  );
  await startClient(context);
}

export async function deactivate(): Promise<void> {
  await stopClient();
}
