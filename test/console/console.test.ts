import { mintJwt, startCluster, type TestCluster } from '@authz/test-support';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFailed } from 'vitest';
import { CHROMIUM_ARGS, ensureChromium } from './chromium.js';
import { ConsolePage } from './console-page.js';

// Resolved while the file is collected, so a machine without a browser reports a named skip
// instead of a pass.
const browserFound = ensureChromium();

const INTROSPECTOR = `resourceType: TokenIntrospector
type: jwt
jwt:
  iss: https://auth.example.com
  secret: console-e2e-secret
`;

/** The policy as first written: valid, but it asks for POST where the request is a GET. */
const POLICY_WRONG_METHOD = `resourceType: AccessPolicy
engine: matcho
matcho:
  request-method: post
  uri: "#^/fhir/Patient"
  jwt:
    sub: alice
`;
const POLICY_FIXED = POLICY_WRONG_METHOD.replace('request-method: post', 'request-method: get');
/** Invalid: `$bogus` is no matcho operator, so the save is a 422 naming this field. */
const POLICY_INVALID = `resourceType: AccessPolicy
engine: matcho
matcho:
  uri:
    $bogus: 1
`;

if ('skip' in browserFound) {
  describe('console in a real browser', () => {
    it.skip(`skipped: ${browserFound.skip}`, () => {});
  });
} else {
  describe('console in a real browser (Debian chromium, real NATS, Redis, config, worker)', () => {
    let cluster: TestCluster;
    let browser: Browser;
    let page: Page;
    let ui: ConsolePage;
    let token: string;

    beforeAll(async () => {
      [cluster, browser] = await Promise.all([
        startCluster({ workers: 1, gateway: false }),
        chromium.launch({ executablePath: browserFound.path, args: CHROMIUM_ARGS }),
      ]);
      const served = await fetch(`${cluster.configUrl}/console/`);
      expect(served.status, 'the console is not built: run `pnpm exec turbo run build`').toBe(200);
      const res = await cluster.admin('PUT', '/TokenIntrospector/console-idp', INTROSPECTOR);
      expect(res.status).toBe(201);
      token = await mintJwt({
        key: 'console-e2e-secret',
        alg: 'HS256',
        claims: { iss: 'https://auth.example.com', sub: 'alice' },
      });
      page = await browser.newPage({ viewport: { width: 1366, height: 860 } });
      ui = new ConsolePage(page, cluster.configUrl);
    }, 120_000);

    beforeEach((ctx) => {
      // A failing step leaves a picture of what the page showed.
      onTestFailed(async () => {
        await ui?.shot(`FAILED-${ctx.task.name.replace(/\W+/g, '-').slice(0, 60)}`).catch(() => {});
      });
    });

    afterAll(async () => {
      await browser?.close();
      await cluster?.stop();
    });

    it('refuses a wrong password and signs in with the admin credentials', async () => {
      await ui.signIn('admin', 'not-the-password');
      await page.getByText('Wrong user name or password.').waitFor();
      await ui.shot('sign-in-refused');
      // By keyboard alone: the fields in order, Enter submits.
      await page.getByLabel('User', { exact: true }).focus();
      await page.keyboard.press('Control+A');
      await page.keyboard.type('admin');
      await page.keyboard.press('Tab');
      await page.keyboard.type(cluster.adminPassword);
      await page.keyboard.press('Enter');
      await page.getByText('signed in as').waitFor();
      const cookies = await page.context().cookies();
      expect(cookies).toEqual([
        expect.objectContaining({ name: 'authz_console', httpOnly: true, sameSite: 'Strict', path: '/' }),
      ]);
      // The page never holds the credentials: not in its markup, not in its URL.
      expect(await page.content()).not.toContain(cluster.adminPassword);
      expect(page.url()).not.toContain(cluster.adminPassword);
      await ui.shot('signed-in');
    });

    it('creates an AccessPolicy through the editor', async () => {
      await page.getByRole('button', { name: 'New AccessPolicy' }).click();
      await page.getByLabel('Id', { exact: true }).fill('patients-read');
      await ui.setEditorText('resource-yaml', POLICY_WRONG_METHOD);
      await page.getByRole('button', { name: 'Save' }).click();
      await page.getByRole('heading', { name: 'AccessPolicy/patients-read' }).waitFor();
      await page.getByRole('link', { name: 'patients-read' }).waitFor();
      // After a save the editor reloads the stored resource: wait for it rather than read mid-reload.
      await expect
        .poll(() => ui.editorText('resource-yaml'), { timeout: 5000 })
        .toContain('request-method: post');
      const stored = await cluster.admin('GET', '/AccessPolicy/patients-read');
      expect(stored.status).toBe(200);
      expect(await stored.json()).toMatchObject({ matcho: { 'request-method': 'post' } });
      await ui.shot('policy-created');
    });

    it('places the 422 of an invalid policy at the offending field', async () => {
      await page.getByRole('button', { name: 'New AccessPolicy' }).click();
      await page.getByLabel('Id', { exact: true }).fill('broken');
      await ui.setEditorText('resource-yaml', POLICY_INVALID);
      await page.getByRole('button', { name: 'Save' }).click();
      const issue = page.locator('.issue[data-expression="AccessPolicy.matcho.uri.$bogus"]');
      await issue.waitFor();
      expect(await issue.getByRole('button').textContent()).toBe('line 5');
      expect(await page.getByText('Not saved: the resource is invalid (422).').count()).toBe(1);
      // The editor marks the very field: the line of `$bogus` is highlighted and underlined.
      expect(await page.locator('.cm-issueLine').allInnerTexts()).toEqual(['    $bogus: 1']);
      expect(await page.locator('.cm-lintRange-error').allInnerTexts()).toEqual(['$bogus']);
      expect((await cluster.admin('GET', '/AccessPolicy/broken')).status).toBe(404);
      await ui.shot('invalid-policy-422');
    });

    it('tries a request that is denied and shows the failing path in explain', async () => {
      await ui.goto('Try a request');
      await page.getByLabel('Method').fill('GET');
      await page.getByLabel('URI (path and query)').fill('/fhir/Patient?name=smith');
      await page.getByLabel('Bearer token').fill(token);
      const entry = page.locator('.explain-entry[data-policy="patients-read"]');
      // The worker loads the new policy from its KV watch; check again until it is a candidate.
      await checkUntil(page, async () => (await entry.count()) > 0);
      expect(await page.locator('.decision').getAttribute('data-status')).toBe('403');
      expect(await page.locator('.fact-introspector').textContent()).toBe('console-idp');
      expect(await page.locator('.fact-user').textContent()).toBe('alice');
      expect(await entry.locator('mark.failing-path').textContent()).toBe('request-method');
      // biome-ignore lint/performance/useDomNodeTextContent: the layout's whitespace separates the values
      expect(await entry.locator('.values').innerText()).toMatch(/expected\s+"post"\s+actual\s+"get"/);
      await ui.shot('request-denied');
    });

    it('fixes the policy and sees the same request allowed', async () => {
      await ui.goto('Resources');
      await page.getByRole('link', { name: 'patients-read' }).click();
      await page.getByRole('heading', { name: 'AccessPolicy/patients-read' }).waitFor();
      await page.getByText(/^version \d+$/).waitFor();
      await ui.setEditorText('resource-yaml', POLICY_FIXED);
      await page.getByRole('button', { name: 'Save' }).click();
      await page.getByText(/^Saved AccessPolicy\/patients-read \(version \d+\)\.$/).waitFor();
      await ui.shot('policy-fixed');

      await ui.goto('Try a request');
      // The form kept the request (the token included) while on the other page.
      expect(await page.getByLabel('Bearer token').inputValue()).toBe(token);
      await checkUntil(
        page,
        async () => (await page.locator('.decision').getAttribute('data-status')) === '200',
      );
      expect(await page.locator('.fact-policy').textContent()).toBe('patients-read');
      expect(await page.locator('.reason').textContent()).toContain('patients-read');
      await ui.shot('request-allowed');
    });

    it('shows both decisions in the live table, and the whole event on click', async () => {
      await ui.goto('Decisions');
      const row = (status: number) =>
        page
          .locator('.decision-table tbody tr', { hasText: '/fhir/Patient' })
          .filter({ hasText: String(status) });
      await row(403).first().waitFor();
      await row(200).first().waitFor();
      await row(403).first().getByRole('button').click();
      expect(await row(403).first().getAttribute('class')).toContain('selected');
      const detail = page.getByRole('complementary', { name: 'Selected decision' });
      const event = JSON.parse((await detail.locator('pre').textContent()) ?? '') as Record<string, unknown>;
      expect(event).toMatchObject({
        status: 403,
        allow: false,
        method: 'GET',
        user: 'alice',
        introspector: 'console-idp',
      });
      expect(JSON.stringify(event)).not.toContain(token);
      await ui.shot('decisions');

      // Server-side filter: only denials stay.
      await page.getByLabel('Allowed').selectOption('false');
      await page.getByRole('button', { name: 'Apply filters' }).click();
      await page.getByText(/^live · \d+ shown$/).waitFor();
      expect(await row(200).count()).toBe(0);
      expect(await row(403).count()).toBeGreaterThan(0);
      await ui.shot('decisions-denied-only');
    });

    it('shows the decision history from the audit trail, filtered, with its chart', async () => {
      // DESIGN §14: GET /AuditEvent through the console's session; the live feed's rows above
      // came from the same decisions, which nats-server also wrote to AUTHZ_DECISIONS.
      await page.reload();
      await ui.goto('Decisions');
      const history = page.getByRole('region', { name: 'History' });
      const row = (status: number) =>
        history
          .locator('.history-table tbody tr', { hasText: '/fhir/Patient' })
          .filter({ hasText: String(status) });
      await row(403).first().waitFor();
      await row(200).first().waitFor();
      expect(await row(200).first().locator('td').nth(5).textContent()).toBe('patients-read');
      expect(await row(200).first().locator('td').nth(6).textContent()).toBe('alice');
      const caption = history.locator('.decision-chart figcaption');
      expect(await caption.textContent()).toMatch(/^\d+ decisions from /);
      // The chart drew something: some pixels of its canvas are not transparent.
      const painted = await history.locator('.decision-chart canvas').evaluate((el) => {
        const c = el as HTMLCanvasElement;
        const data = c.getContext('2d')?.getImageData(0, 0, c.width, c.height).data ?? [];
        let n = 0;
        for (let i = 3; i < data.length; i += 4) if ((data[i] ?? 0) > 0) n++;
        return n;
      });
      expect(painted).toBeGreaterThan(1000);
      await ui.shot('decisions-history');

      await history.getByLabel('Outcome').selectOption('4');
      await history.getByLabel('User').fill('alice');
      await history.getByRole('button', { name: 'Search history' }).click();
      await history.getByText(/^\d+ shown$/).waitFor();
      await page.waitForFunction(() =>
        Array.from(document.querySelectorAll('.history-table tbody tr td:nth-child(2)')).every(
          (td) => td.textContent === 'denied',
        ),
      );
      expect(await row(200).count()).toBe(0);
      expect(await row(403).count()).toBeGreaterThan(0);
      expect(await history.getByRole('button', { name: 'Older' }).isDisabled()).toBe(true);
      await ui.shot('decisions-history-denied');
    });

    it('tests a policy against a context without saving it', async () => {
      await ui.goto('Test a policy');
      await page.getByRole('button', { name: 'Test' }).click();
      await page.locator('.decision[data-result="true"]').waitFor();
      await ui.setEditorText(
        'test-context',
        'request-method: get\nuri: /fhir/Observation\njwt:\n  iss: https://auth.example.com\n',
      );
      await page.getByRole('button', { name: 'Test' }).click();
      const entry = page.locator('.decision[data-result="false"] .explain-entry');
      await entry.waitFor();
      expect(await entry.locator('mark.failing-path').textContent()).toBe('uri');
      expect((await cluster.admin('GET', '/AccessPolicy')).status).toBe(200);
      expect(await (await cluster.admin('GET', '/AccessPolicy')).json()).toMatchObject({ total: 1 });
      await ui.shot('test-policy');
    });

    it('deletes a policy only after the confirmation', async () => {
      await ui.goto('Resources');
      await page.getByRole('link', { name: 'patients-read' }).click();
      await page.getByText(/^version \d+$/).waitFor();
      await page.getByRole('button', { name: 'Delete…' }).click();
      const dialog = page.getByRole('dialog', { name: 'Delete AccessPolicy/patients-read?' });
      await dialog.waitFor();
      await ui.shot('delete-confirmation');
      await dialog.getByRole('button', { name: 'Cancel' }).click();
      expect((await cluster.admin('GET', '/AccessPolicy/patients-read')).status).toBe(200);
      await page.getByRole('button', { name: 'Delete…' }).click();
      await dialog.getByRole('button', { name: 'Delete', exact: true }).click();
      await page.getByText('0 resources').waitFor();
      expect((await cluster.admin('GET', '/AccessPolicy/patients-read')).status).toBe(404);
    });

    it('signs out, after which the API refuses the old session', async () => {
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByRole('button', { name: 'Sign in' }).waitFor();
      const status = await page.evaluate(async () => (await fetch('/console/api/AccessPolicy')).status);
      expect(status).toBe(401);
    });

    it('ran under the strict CSP without a violation or a page error', () => {
      expect(ui.cspViolations).toEqual([]);
      expect(ui.pageErrors).toEqual([]);
    });
  });
}

/** Clicks Check until `done` holds (the worker may not have loaded a just-saved policy yet). */
async function checkUntil(page: Page, done: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const answered = page.waitForResponse((r) => r.url().endsWith('/console/api/$check'));
    await page.getByRole('button', { name: 'Check' }).click();
    expect((await answered).status()).toBe(200);
    // The page clears the old decision when Check is pressed: this is the new one.
    await page.locator('.decision').waitFor();
    if (await done()) return;
    if (Date.now() > deadline) throw new Error('the decision did not change within 10 s');
    await page.waitForTimeout(200);
  }
}
