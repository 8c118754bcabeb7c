import { connect, NatsConnection } from '@nats-io/transport-node';
import { Actor, DomainError, SimDeploymentCommand, SimulationSpec, command } from '@simdeploy/domain';
import { JetStreamEventStore } from '@simdeploy/event-store';
import { waitFor } from '@simdeploy/testing';
import { DeploymentCommandHandler } from '@simdeploy/workflows';
import * as axe from 'axe-core';
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Browser, BrowserContext, ConsoleMessage, Page, chromium } from 'playwright-core';
import { Api, RunningSystem, api, startSystem } from './support/system';

/** Saved by every run for a person to look at (tmp/ is not committed). */
const SCREENSHOTS = resolve(__dirname, '../../tmp/dashboard-screenshots');
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const LAPTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

interface Problem {
  text: string;
  url: string;
}

/** A page whose console errors and uncaught exceptions are kept for the test to judge. */
async function openPage(context: BrowserContext): Promise<{ page: Page; problems: Problem[] }> {
  const page = await context.newPage();
  const problems: Problem[] = [];
  page.on('console', (message: ConsoleMessage) => {
    if (message.type() === 'error') problems.push({ text: message.text(), url: message.location().url });
  });
  page.on('pageerror', (error) => problems.push({ text: `uncaught: ${error.message}`, url: page.url() }));
  return { page, problems };
}

/** WCAG A/AA rules (labels, names, contrast, landmarks) checked by axe-core in the page itself. */
async function accessibilityViolations(page: Page): Promise<string[]> {
  // Evaluated through the DevTools protocol: the page's CSP does not apply to it.
  await page.evaluate(axe.source);
  const result = await page.evaluate(() =>
    (globalThis as unknown as { axe: { run(context: Document, options: object): Promise<{ violations: { id: string; nodes: { target: string[] }[] }[] }> } }).axe.run(
      document,
      { runOnly: ['wcag2a', 'wcag2aa', 'wcag21aa'] },
    ),
  );
  return result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

const shot = (page: Page, name: string) => page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });

const SPEC: SimulationSpec = { world: 'worlds/review.sdf', simulatorImage: 'gz:1', robots: [], nodeInstanceType: 'g4dn.xlarge', labels: {} };
const SERVICE: Actor = { subject: 'service:e2e', roles: ['service'] };

describe('the dashboard in a real browser, against the real system', () => {
  let system: RunningSystem;
  let browser: Browser;
  let alice: Api;
  let bob: Api;
  let aliceToken: string;

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    system = await startSystem();
    aliceToken = await system.token('alice');
    alice = api(system.url, aliceToken);
    bob = api(system.url, await system.token('bob'));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await system?.stop();
  }, 60_000);

  it('signs in with a pasted token, launches from the form, sees Running without reloading, the timeline, stops it and sees Terminated', async () => {
    const context = await browser.newContext({ viewport: LAPTOP });
    const { page, problems } = await openPage(context);
    await page.goto(`${system.url}/`);
    await page.getByRole('heading', { name: 'Sign in to simdeploy' }).waitFor();
    // npm start's tokens are offered on this machine; the test pastes its own instead.
    await page.getByRole('button', { name: 'Sign in as user' }).waitFor();
    expect(await accessibilityViolations(page)).toEqual([]);
    await shot(page, '1-sign-in');

    await page.getByLabel('Bearer token').fill(aliceToken);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'Simulations', level: 1 }).waitFor();
    await page.getByText('Signed in as alice').waitFor();
    // Kept across client-side navigation, lost by a reload: proves the page never reloads.
    await page.evaluate(() => ((globalThis as unknown as { notReloaded: boolean }).notReloaded = true));

    await page.getByRole('link', { name: 'Launch a simulation' }).click();
    await page.getByRole('heading', { name: 'Launch a simulation', level: 1 }).waitFor();
    await page.getByRole('button', { name: "Fill in the API's examples" }).click();
    const robotName = page.getByLabel('Name of robot 1');
    await robotName.fill('Bad Name!');
    await page.getByRole('button', { name: 'Launch', exact: true }).click();

    // The server's own message, next to the field it names, and the focus on that field.
    const message = page.locator('[data-field-error="robots.0.name"]');
    await message.waitFor();
    expect(await message.textContent()).toContain('robots.0.name must be a lower-case DNS label');
    expect(await robotName.getAttribute('aria-invalid')).toBe('true');
    expect(await robotName.getAttribute('aria-describedby')).toContain((await message.getAttribute('id')) as string);
    expect(await page.evaluate(() => document.activeElement?.getAttribute('name'))).toBe('robots.0.name');
    expect(await accessibilityViolations(page)).toEqual([]);
    await shot(page, '2-launch-form-server-message');

    await robotName.fill('x1');
    await page.getByRole('button', { name: 'Launch', exact: true }).click();
    await page.waitForURL(/\/simulation\/[a-z0-9-]+$/);
    const id = new URL(page.url()).pathname.split('/').pop() as string;
    const status = page.getByTestId('status');
    await status.getByText('Running', { exact: true }).waitFor({ timeout: 60_000 });
    await page.getByTestId('timeline').getByText('Simulation Running').waitFor();
    expect(await page.getByRole('table').filter({ hasText: 'Time spent' }).getByText('Running', { exact: true }).count()).toBe(1);
    expect(await accessibilityViolations(page)).toEqual([]);
    await shot(page, '3-simulation-running');
    await page.setViewportSize(PHONE);
    await shot(page, '3-simulation-running-phone');
    await page.setViewportSize(LAPTOP);

    await page.getByRole('button', { name: 'Stop simulation' }).click();
    await status.getByText('Terminated', { exact: true }).waitFor({ timeout: 60_000 });
    const timeline = await page.getByTestId('timeline').innerText();
    for (const step of ['Simulation Requested', 'Simulation Running', 'Stop Requested', 'Simulation Terminated']) expect(timeline).toContain(step);
    expect((await alice('GET', `/simulations/${id}`)).json).toMatchObject({ status: 'Terminated', errorStatus: null });
    await shot(page, '4-simulation-terminated');

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Simulations' }).click();
    const row = page.locator(`tr[data-simulation="${id}"]`);
    await row.getByText('Terminated', { exact: true }).waitFor();
    expect(await accessibilityViolations(page)).toEqual([]);
    await shot(page, '5-list');
    await page.setViewportSize(PHONE);
    await shot(page, '5-list-phone');

    expect(await page.evaluate(() => (globalThis as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
    // The one console error is the browser's note of the 400 the bad form value got.
    expect(problems.filter((p) => !(p.text.includes('status of 400') && p.url.endsWith('/simulations')))).toEqual([]);
    await context.close();
  }, 120_000);

  it("does not show another owner's simulation, in the list or live", async () => {
    const bobsFirst = (await bob('POST', '/simulations', { world: 'w.sdf', image: 'gz:1', robots: [], nodeInstanceType: 'g4dn.xlarge' })).json.id as string;
    const context = await browser.newContext({ viewport: LAPTOP });
    const { page, problems } = await openPage(context);
    await page.goto(`${system.url}/`);
    await page.getByLabel('Bearer token').fill(aliceToken);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'Simulations', level: 1 }).waitFor();
    await page.getByText('Live', { exact: true }).waitFor();

    // Bob launches while Alice watches, then Alice: hers appears live, after Bob's in the stream.
    const bobsLive = (await bob('POST', '/simulations', { world: 'w.sdf', image: 'gz:1', robots: [], nodeInstanceType: 'g4dn.xlarge' })).json.id as string;
    const alicesLive = (await alice('POST', '/simulations', { world: 'w.sdf', image: 'gz:1', robots: [], nodeInstanceType: 'g4dn.xlarge' })).json.id as string;
    await page.locator(`tr[data-simulation="${alicesLive}"]`).waitFor();
    expect(await page.locator(`tr[data-simulation="${bobsFirst}"], tr[data-simulation="${bobsLive}"]`).count()).toBe(0);
    expect(await page.locator('tbody tr td[data-label="Owner"]').allInnerTexts()).toEqual(expect.arrayContaining(['alice']));
    expect(new Set(await page.locator('tbody tr td[data-label="Owner"]').allInnerTexts())).toEqual(new Set(['alice']));
    await shot(page, '6-list-own-only');

    await page.goto(`${system.url}/simulation/${bobsLive}`);
    await page.getByRole('heading', { name: 'Simulation not found' }).waitFor();
    // The browser notes the gateway's 404s for Bob's simulation; nothing else may go wrong.
    expect(problems.filter((p) => !(p.text.includes('status of 404') && p.url.includes(bobsLive)))).toEqual([]);
    await Promise.all([bob('POST', `/simulations/${bobsFirst}/stop`), bob('POST', `/simulations/${bobsLive}/stop`), alice('POST', `/simulations/${alicesLive}/stop`)]);
    await context.close();
  }, 60_000);

  describe('for an admin', () => {
    let nc: NatsConnection;
    let handler: DeploymentCommandHandler;

    /** A deployment the error handler gave up on, made of the facts the workers would have recorded. */
    const inReview = async (withInstance: boolean): Promise<string> => {
      const id = randomUUID();
      const step = async <T extends SimDeploymentCommand['type']>(type: T, data: Extract<SimDeploymentCommand, { type: T }>['data'], by = SERVICE) => {
        const result = await handler.handle(id, command(type, data as never, { now: new Date().toISOString(), by }));
        if (result instanceof DomainError) throw result;
        return result.state;
      };
      await step('RequestLaunch', { deploymentId: id, owner: 'carol', spec: SPEC, provider: 'local' }, { subject: 'carol', roles: [] });
      const launching = await step('StartLaunchingNodes', {});
      if (withInstance) {
        const node = launching?.nodes[0];
        if (!node) throw new Error('no node planned');
        await step('RecordInstance', { role: node.role, index: node.index, instanceId: `i-e2e${id.slice(0, 8)}`, nodeName: `node-e2e-${id.slice(0, 8)}` });
      }
      const failure = { code: 'InsufficientInstanceCapacity', message: 'no capacity in the zone', transient: false };
      await step('RecordFailure', { source: 'worker', stage: 'LaunchingNodes', step: 'launchInstances', error: failure, attempt: 3 });
      await step('RecordFailure', { source: 'error-handler', stage: 'LaunchingNodes', step: 'rollback', error: { ...failure, code: 'RollbackFailed' }, attempt: 1 });
      return id;
    };

    beforeAll(async () => {
      nc = await connect({ servers: system.natsUrl });
      const store = await JetStreamEventStore.create(nc, {
        streamName: system.streams.EVENTS_STREAM,
        subjectPrefix: system.streams.EVENTS_SUBJECT_PREFIX,
      });
      handler = new DeploymentCommandHandler(store);
    });

    afterAll(async () => {
      await nc?.close();
    });

    it('lists the reviews with what each may still hold, and retries or resolves them', async () => {
      const [toRetry, toResolve] = [await inReview(false), await inReview(true)];
      const context = await browser.newContext({ viewport: LAPTOP });
      const { page, problems } = await openPage(context);
      await page.goto(`${system.url}/`);
      // The admin token npm start printed, offered on this machine.
      await page.getByRole('button', { name: 'Sign in as admin' }).click();
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Reviews' }).click();
      await page.getByRole('heading', { name: 'Reviews', level: 1 }).waitFor();

      const retryCard = page.getByRole('article').filter({ hasText: toRetry.slice(0, 8) });
      const resolveCard = page.getByRole('article').filter({ hasText: toResolve.slice(0, 8) });
      await resolveCard.getByText(`i-e2e${toResolve.slice(0, 8)}`).waitFor();
      expect(await resolveCard.innerText()).toContain('RollbackFailed');
      expect(await retryCard.innerText()).toContain('Nothing recorded.');
      expect(await accessibilityViolations(page)).toEqual([]);
      await shot(page, '7-reviews');

      await retryCard.getByRole('button', { name: 'Retry the cleanup' }).click();
      await retryCard.waitFor({ state: 'detached' });
      await resolveCard.getByLabel('What was done by hand (closes the review)').fill('terminated the instance by hand');
      await resolveCard.getByRole('button', { name: 'Resolve' }).click();
      await resolveCard.waitFor({ state: 'detached' });
      await page.getByText('Nothing to review.').waitFor();

      const admin = api(system.url, await system.token('root', ['admin']));
      expect((await admin('GET', `/simulations/${toResolve}`)).json).toMatchObject({ status: 'Terminated', resolution: { comment: 'terminated the instance by hand' } });
      // The retried cleanup runs in the error handler, which takes it to the end.
      await waitFor(async () => (await admin('GET', `/simulations/${toRetry}`)).json.status === 'Terminated', {
        timeoutMs: 30_000,
        description: 'the retried cleanup finishes',
      });
      expect(problems).toEqual([]);
      await context.close();
    }, 90_000);
  });
});
