// The status-bar item: starting / loading (with progress) / ready / completion off / error, and a
// spinner while the server says a suggestion is slow to come (wingman/busy).
import { StatusBarAlignment, StatusBarItem, ThemeColor, window } from 'vscode';

export type State = 'starting' | 'loading' | 'ready' | 'error' | 'stopped';

/** `wingman/busy` (server/PROTOCOL.md). */
export interface Busy {
  uri: string;
  busy: boolean;
  reason?: 'loading' | 'busy' | 'computing';
  message?: string;
  elapsedMs?: number;
}

/** The optional `progress` of `wingman/status` while loading. */
export interface Progress {
  step?: string;
  percentage?: number;
}

const BUSY_TEXT: Record<string, string> = { loading: 'waiting for the model to load', busy: 'the machine is busy', computing: 'thinking…' };

export class Status {
  readonly item: StatusBarItem;
  state: State = 'stopped';
  message = '';
  model = '';
  private percent: number | undefined;
  private step: string | undefined;
  private completionOn = true;
  private readonly busyByUri = new Map<string, Busy>();

  constructor() {
    this.item = window.createStatusBarItem('wingman.status', StatusBarAlignment.Right, 100);
    this.item.name = 'Wingman';
    this.item.command = 'wingman.vscode.showLog';
    this.render();
    this.item.show();
  }

  set(state: State, message = '', model?: string, progress?: Progress): void {
    this.state = state;
    this.message = message;
    if (model !== undefined) {
      this.model = model;
    }
    if (state !== 'loading') {
      this.percent = undefined;
      this.step = undefined;
    } else if (progress) {
      this.percent = typeof progress.percentage === 'number' ? progress.percentage : this.percent;
      this.step = progress.step || this.step;
    }
    if (state === 'error' || state === 'stopped' || state === 'starting') {
      this.busyByUri.clear();
    }
    this.render();
  }

  /** wingman/busy: a spinner with the server's message while any request waits; restored after. */
  busy(p: Busy): void {
    if (!p || typeof p.uri !== 'string') {
      return;
    }
    if (p.busy) {
      this.busyByUri.set(p.uri, p);
    } else {
      this.busyByUri.delete(p.uri);
    }
    this.render();
  }

  /** The busy request to show: the active editor's, else the latest. */
  private currentBusy(): Busy | undefined {
    const active = window.activeTextEditor?.document.uri.toString();
    return (active && this.busyByUri.get(active)) || [...this.busyByUri.values()].pop();
  }

  /** A $/progress report while the model loads. */
  progress(message: string | undefined, percent: number | undefined): void {
    if (this.state === 'ready' || this.state === 'error') {
      return;
    }
    this.state = 'loading';
    if (message) {
      this.message = message;
    }
    if (percent !== undefined) {
      this.percent = percent;
    }
    this.render();
  }

  setCompletion(on: boolean): void {
    this.completionOn = on;
    this.render();
  }

  private render(): void {
    const it = this.item;
    it.backgroundColor = undefined;
    let label: string;
    const busy = this.state === 'ready' || this.state === 'loading' ? this.currentBusy() : undefined;
    if (busy) {
      const text = busy.message || BUSY_TEXT[busy.reason ?? 'computing'] || 'thinking…';
      it.text = `$(sync~spin) Wingman: ${text}`;
      label = `Wingman: ${text}`;
      const secs = typeof busy.elapsedMs === 'number' ? ` (waiting ${(busy.elapsedMs / 1000).toFixed(1)} s)` : '';
      it.tooltip = `${label}${secs}\nA suggestion is on its way.${this.model ? '\nmodel: ' + this.model : ''}\nClick for the log.`;
      it.accessibilityInformation = { label, role: 'button' };
      return;
    }
    switch (this.state) {
      case 'starting':
        it.text = '$(loading~spin) Wingman';
        label = 'Wingman: starting';
        break;
      case 'loading': {
        const pct = this.percent !== undefined ? ` ${Math.round(this.percent)}%` : '';
        it.text = `$(loading~spin) Wingman${this.step ? ': ' + this.step : ''}${pct}`;
        label = `Wingman: loading${pct}${this.step ? ' (' + this.step + ')' : ''}`;
        break;
      }
      case 'ready':
        it.text = this.completionOn ? '$(sparkle) Wingman' : '$(circle-slash) Wingman';
        label = this.completionOn ? 'Wingman: ready' : 'Wingman: ready, inline completion off';
        break;
      case 'error':
        it.text = '$(error) Wingman';
        it.backgroundColor = new ThemeColor('statusBarItem.errorBackground');
        label = 'Wingman: error';
        break;
      default:
        it.text = '$(debug-disconnect) Wingman';
        label = 'Wingman: stopped';
    }
    const details = [this.model && `model: ${this.model}`, this.message].filter(Boolean).join('\n');
    it.tooltip = `${label}${details ? '\n' + details : ''}\nClick for the log.`;
    it.accessibilityInformation = { label, role: 'button' };
  }

  dispose(): void {
    this.item.dispose();
  }
}
