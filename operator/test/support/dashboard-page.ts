import { waitUntil } from '@reservations/testkit';
import type { Locator, Page } from 'playwright-core';

/**
 * The dashboard's page as the browser tests drive it (playwright-core): a cluster's section, what
 * it shows, its verbs. `page` is read at each call: the tests open it in their beforeAll.
 */
export function dashboardPage(page: () => Page, { showTimeoutMs = 15_000 } = {}) {
  const cluster = (context: string): Locator => page().locator(`section[data-context="${context}"]`);
  const notice = (context: string) => cluster(context).getByTestId('notice');

  /** Waits until `locator` shows `expected` (the whole text, or a match); the timeout's message says what it showed. */
  async function shows(what: string, locator: Locator, expected: string | RegExp, timeoutMs = showTimeoutMs): Promise<void> {
    await waitUntil(
      what,
      async () => {
        const text = (await locator.textContent({ timeout: 1000 })) ?? '';
        if (typeof expected === 'string' ? text === expected : expected.test(text)) return true;
        throw new Error(`it shows "${text}"`);
      },
      { timeoutMs },
    );
  }

  const confirm = () => page().locator('#confirm-yes').click();

  return {
    cluster,
    notice,
    shows,
    confirm,
    phaseIn: (context: string) => cluster(context).getByTestId('phase'),
    click: (context: string, verb: string) => cluster(context).locator(`button[data-verb="${verb}"]`).click(),

    /** Starts a cutover with `plan` (spec.traffic.cutover) from the page's form, confirmed, and waits for the notice. */
    async startCutoverFromPage(context: string, plan: unknown) {
      const section = cluster(context);
      // Opened, not toggled: a second cutover finds it open already.
      await section.locator('details.start').evaluate((details) => details.setAttribute('open', ''));
      await section.getByTestId('plan').fill(JSON.stringify(plan));
      await section.getByTestId('start').click();
      await confirm();
      await shows(`${context}'s notice`, notice(context), 'cutover asked for: the operator starts it');
    },

    /** The observed share the page shows for a cluster, as a number (NaN while there is none). */
    async observedShown(context: string): Promise<number> {
      return Number.parseFloat((await cluster(context).getByTestId('observed').locator('b').textContent()) ?? '');
    },
  };
}
