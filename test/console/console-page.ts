import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';

/** Screenshots of the end-to-end run (git-ignored). */
export const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/console/', import.meta.url));

/**
 * Drives the console the way a person does — labels, buttons, the keyboard — and keeps a
 * numbered screenshot of every step.
 */
export class ConsolePage {
  private step = 0;
  /** Content-Security-Policy violations the browser reported. */
  readonly cspViolations: string[] = [];
  /** Uncaught exceptions in the page. */
  readonly pageErrors: string[] = [];

  constructor(
    readonly page: Page,
    readonly baseUrl: string,
  ) {
    mkdirSync(ARTIFACTS, { recursive: true });
    page.on('console', (msg) => {
      if (msg.text().includes('Content Security Policy')) this.cspViolations.push(msg.text());
    });
    page.on('pageerror', (err) => this.pageErrors.push(err.message));
  }

  /** Saves `NN-name.png` under {@link ARTIFACTS}; returns its path. */
  async shot(name: string): Promise<string> {
    const path = join(ARTIFACTS, `${String(++this.step).padStart(2, '0')}-${name}.png`);
    await this.page.screenshot({ path, fullPage: true });
    return path;
  }

  async signIn(user: string, password: string): Promise<void> {
    await this.page.goto(`${this.baseUrl}/console/`);
    await this.page.getByLabel('User', { exact: true }).fill(user);
    await this.page.getByLabel('Password').fill(password);
    await this.page.getByRole('button', { name: 'Sign in' }).click();
  }

  async goto(pageName: 'Resources' | 'Try a request' | 'Test a policy' | 'Decisions'): Promise<void> {
    await this.page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: pageName }).click();
  }

  /** Replaces the whole text of the CodeMirror editor whose editable element has `id`. */
  async setEditorText(id: string, text: string): Promise<void> {
    const editor = this.page.locator(`#${id}`);
    await editor.click();
    await this.page.keyboard.press('Control+A');
    await this.page.keyboard.press('Delete');
    // insertText: one input, so the editor's auto-indent and bracket closing stay out of the way.
    await this.page.keyboard.insertText(text);
  }

  async editorText(id: string): Promise<string> {
    // biome-ignore lint/performance/useDomNodeTextContent: CodeMirror's lines are divs; innerText keeps the line breaks
    return this.page.locator(`#${id}`).evaluate((el) => (el as HTMLElement).innerText);
  }
}
