// The status-bar item: starting / loading (with progress) / ready / completion off / error.
import { StatusBarAlignment, StatusBarItem, ThemeColor, window } from 'vscode';

export type State = 'starting' | 'loading' | 'ready' | 'error' | 'stopped';

export class Status {
  readonly item: StatusBarItem;
  state: State = 'stopped';
  message = '';
  model = '';
  private percent: number | undefined;
  private completionOn = true;

  constructor() {
    this.item = window.createStatusBarItem('wingman.status', StatusBarAlignment.Right, 100);
    this.item.name = 'Wingman';
    this.item.command = 'wingman.vscode.showLog';
    this.render();
    this.item.show();
  }

  set(state: State, message = '', model?: string): void {
    this.state = state;
    this.message = message;
    if (model !== undefined) {
      this.model = model;
    }
    if (state !== 'loading') {
      this.percent = undefined;
    }
    this.render();
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
    switch (this.state) {
      case 'starting':
        it.text = '$(loading~spin) Wingman';
        label = 'Wingman: starting';
        break;
      case 'loading': {
        const pct = this.percent !== undefined ? ` ${Math.round(this.percent)}%` : '';
        it.text = `$(loading~spin) Wingman${pct}`;
        label = `Wingman: loading${pct}`;
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
