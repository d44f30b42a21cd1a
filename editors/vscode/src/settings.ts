// VS Code settings (`wingman.*`) → the server's initializationOptions, and the server command.
import * as fs from 'fs';
import * as path from 'path';
import { workspace, WorkspaceConfiguration } from 'vscode';

export const TRANSLATE_LANGUAGES = ['python', 'javascript', 'typescript', 'java', 'cpp', 'go', 'rust'];

/** The initializationOptions (and didChangeConfiguration settings) for the current settings. */
export function serverOptions(cfg: WorkspaceConfiguration = workspace.getConfiguration('wingman')): Record<string, unknown> {
  const get = <T>(key: string): T | undefined => cfg.get<T>(key);
  const orNull = (key: string): string | null => get<string>(key) || null;
  return {
    model: {
      backend: get('model.backend'),
      path: get<string>('model.path') || 'default',
      adapter: orNull('model.adapter'),
      device: get('model.device'),
      quantize: get('model.quantize'),
      remoteUrl: get('model.remoteUrl'),
      remoteModel: get('model.remoteModel'),
    },
    completion: {
      enabled: get('completion.enabled'),
      mode: get('completion.mode'),
      maxTokens: get('completion.maxTokens'),
      debounceMs: get('completion.debounceMs'),
      promptBudget: get('completion.promptBudget'),
      fallback: get('completion.fallback'),
      context: get('completion.context'),
      alternatives: get('completion.alternatives'),
      gateThreshold: get('completion.gateThreshold'),
    },
    diagnostics: {
      enabled: get('diagnostics.enabled'),
      threshold: get('diagnostics.threshold'),
      maxPerFile: get('diagnostics.maxPerFile'),
      maxFileBytes: get('diagnostics.maxFileBytes'),
      debounceMs: get('diagnostics.debounceMs'),
    },
    languages: get('languages'),
    ignore: get('ignore'),
    telemetry: { enabled: get('telemetry.enabled') },
    actions: {
      translateTarget: get('actions.translateTarget'),
      runGeneratedTests: get('actions.runGeneratedTests'),
      testTimeoutS: get('actions.testTimeoutS'),
    },
    fakeEngine: get('fakeEngine') ?? null,
  };
}

export interface ServerCommand {
  command?: string; // resolved executable, when found
  args: string[];
  tried: string; // what was looked for, for the error message
  problem?: string; // why it cannot start
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && isExecutable(path.join(dir, name))) {
      return path.join(dir, name);
    }
  }
  return undefined;
}

function expand(p: string): string {
  return p.replace(/^~(?=$|\/)/, process.env.HOME ?? '~').replace(/\$\{workspaceFolder\}/g, workspace.workspaceFolders?.[0]?.uri.fsPath ?? '');
}

/** Which `wingman` to run: `server.path`, else `<server.venv>/bin/wingman`, else `wingman` on PATH. */
export function serverCommand(cfg: WorkspaceConfiguration = workspace.getConfiguration('wingman')): ServerCommand {
  const args = ['serve', ...(cfg.get<string[]>('server.args') ?? [])];
  const explicit = expand(cfg.get<string>('server.path') ?? '');
  const venv = expand(cfg.get<string>('server.venv') ?? '');
  if (explicit) {
    return isExecutable(explicit)
      ? { command: explicit, args, tried: explicit }
      : { args, tried: explicit, problem: `\`wingman.server.path\` is "${explicit}", which does not exist or is not executable.` };
  }
  if (venv) {
    const exe = path.join(venv, 'bin', 'wingman');
    return isExecutable(exe)
      ? { command: exe, args, tried: exe }
      : { args, tried: exe, problem: `\`wingman.server.venv\` is "${venv}", but ${exe} does not exist (is Wingman installed there?).` };
  }
  const found = onPath('wingman');
  return found
    ? { command: found, args, tried: found }
    : { args, tried: 'wingman', problem: '`wingman` is not on PATH. Install it (pip install -e . in the Wingman repository) or set `wingman.server.path` / `wingman.server.venv`.' };
}
