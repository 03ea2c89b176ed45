// GraphiQL in headless Chromium against a running gateway, with every request to a host
// other than 127.0.0.1 or localhost blocked: the page must render, load the schema and run a
// query with nothing but the gateway's own files.
//
//   node graphiql.mjs <gateway base URL, e.g. http://127.0.0.1:8000> [screenshot.png]
//
// Environment:
//   ORDERGATE_CHROMIUM           the browser (default /usr/bin/chromium, Debian's package)
//   ORDERGATE_BROWSER_KEY        an API key: the page is opened with it in GraphiQL's headers
//                                (`?headers=`). Unset: the headers editor must already hold the
//                                demo key, as a gateway with its simulators fills it (`make run`).
//   ORDERGATE_BROWSER_SCREENSHOT where to save a screenshot (the second argument wins)
//
// Prints a JSON summary (every check, what was blocked, console errors); exits 1 if a check
// failed, 2 on a usage error.
import { Buffer } from 'node:buffer';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { chromium } from 'playwright-core';

const DEMO_KEY = 'og_demo_key_for_local_use_only';
const QUERY = '{ orders(first: 2) { edges { node { id status } } } }';
const WAIT_MS = 60_000; // generous: a slow CI machine is not a failure
// Chromium as root on a closed network: no sandbox, and none of its own background traffic.
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost']);

const base = process.argv[2];
if (!base) {
  console.error('usage: node graphiql.mjs <gateway base URL> [screenshot.png]');
  process.exit(2);
}
const screenshot = process.argv[3] || process.env.ORDERGATE_BROWSER_SCREENSHOT || '';
const executablePath = process.env.ORDERGATE_CHROMIUM || '/usr/bin/chromium';
const key = process.env.ORDERGATE_BROWSER_KEY || DEMO_KEY;
const authorization = `Bearer ${key}`;

const pageUrl = new URL('/graphql', base);
if (process.env.ORDERGATE_BROWSER_KEY) {
  // GraphiQL's own share-a-link parameter: the headers editor opens with it. (The page reads
  // it with decodeURIComponent: no `+` for a space, as URLSearchParams would write.)
  const headers = JSON.stringify({ Authorization: authorization });
  pageUrl.search = `?headers=${encodeURIComponent(headers)}`;
}

const isLocal = (url) => {
  const { protocol, hostname } = new URL(url);
  if (protocol === 'data:' || protocol === 'blob:' || protocol === 'about:') return true;
  return LOCAL_HOSTS.has(hostname);
};

const checks = {};
const check = (name, ok, detail = undefined) => {
  checks[name] = detail === undefined ? { ok: Boolean(ok) } : { ok: Boolean(ok), detail };
};
const blocked = [];
const consoleErrors = [];
const pageErrors = [];
const failedRequests = [];
const introspections = []; // what GraphiQL asked for its schema, and the answers
const pending = []; // the answers still being read
let fatal = null;

/** The `query` a request sent (none: not a GraphQL POST). */
const sentQuery = (request) => {
  try {
    return String(request.postDataJSON()?.query ?? '');
  } catch {
    return '';
  }
};

/** The text of the CodeMirror editor that ``selector`` finds (GraphiQL 3: CodeMirror 5). */
const editorValue = (page, selector) => page.$eval(selector, (el) => el.CodeMirror.getValue());

const userDataDir = mkdtempSync(join(tmpdir(), 'ordergate-chromium-'));
let context;
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    chromiumSandbox: false,
    args: FLAGS,
  });
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (isLocal(url)) return route.continue();
    blocked.push(url);
    return route.abort('blockedbyclient');
  });
  await context.routeWebSocket(
    (url) => !isLocal(url.href.replace(/^ws/, 'http')),
    (ws) => {
      blocked.push(ws.url());
      return ws.close();
    },
  );
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => pageErrors.push(String(error?.stack ?? error)));
  page.on('requestfailed', (request) => {
    if (isLocal(request.url())) {
      failedRequests.push(`${request.url()}: ${request.failure()?.errorText}`);
    }
  });
  page.on('response', (response) => {
    const request = response.request();
    if (response.status() >= 400) {
      failedRequests.push(`${request.url()}: HTTP ${response.status()}`);
    }
    if (sentQuery(request).includes('__schema')) {
      const read = response.json().catch((error) => ({ unreadable: String(error) }));
      pending.push(read.then((body) => introspections.push(body)));
    }
  });

  const opened = await page.goto(pageUrl.href, { waitUntil: 'load', timeout: WAIT_MS });
  check('page', opened?.status() === 200, { status: opened?.status() });

  // Rendered: GraphiQL's container with its query editor, holding the gateway's examples.
  const queryEditor = '.graphiql-container .graphiql-query-editor .CodeMirror';
  await page.waitForSelector(queryEditor, { state: 'visible', timeout: WAIT_MS });
  check('rendered', true);
  const examples = await editorValue(page, queryEditor);
  check('examples', examples.includes('query NewestOrders'), { start: examples.slice(0, 80) });

  // The headers editor holds the credential the queries are sent with.
  const tools = await page.$$eval('.graphiql-editor-tool .CodeMirror', (els) =>
    els.map((el) => el.CodeMirror.getValue()),
  );
  const headerEditor = tools.find((text) => {
    try {
      return JSON.parse(text).Authorization === authorization;
    } catch {
      return false;
    }
  });
  check('headers', headerEditor !== undefined, { editors: tools });

  // A query typed into the editor, run by the play button.
  await page.click(queryEditor);
  await page.keyboard.press('Control+A');
  await page.keyboard.insertText(QUERY);
  const typed = await editorValue(page, queryEditor);
  check('typed', typed === QUERY, { typed });
  // GraphiQL reads the operations from the editor a moment later: until it has, the button
  // is still the menu of the examples' operations (a Radix menu trigger, `aria-haspopup`).
  const runButton = '.graphiql-execute-button:not([aria-haspopup])';
  await page.waitForSelector(runButton, { state: 'visible', timeout: WAIT_MS });
  const resultEditor = '.graphiql-response .result-window .CodeMirror';
  const prior = await editorValue(page, resultEditor); // a schema error may be shown already
  const answered = page.waitForResponse((response) => sentQuery(response.request()) === QUERY, {
    timeout: WAIT_MS,
  });
  await page.click(runButton, { timeout: WAIT_MS });
  const execution = await answered;
  await page.waitForFunction(
    ([selector, old]) => {
      const value = document.querySelector(selector)?.CodeMirror.getValue() ?? '';
      return value.trim() !== '' && value !== old;
    },
    [resultEditor, prior],
    { timeout: WAIT_MS },
  );
  const shown = await editorValue(page, resultEditor);
  let result = null;
  try {
    result = JSON.parse(shown);
  } catch {
    // not JSON: the check below fails and shows it
  }
  const nodes = (result?.data?.orders?.edges ?? []).map((edge) => edge?.node);
  const ids = nodes.map((node) => node?.id);
  const orderIds = ids.every(
    (id) => typeof id === 'string' && Buffer.from(id, 'base64url').toString().startsWith('Order:'),
  );
  check('result', nodes.length > 0 && orderIds && !result?.errors, {
    shown: shown.slice(0, 500),
  });
  const sent = (await execution.request().allHeaders()).authorization ?? null;
  check('sent with the key', sent === authorization, { authorization: sent });

  // The explorer plugin: its button, and the schema's root fields once opened.
  const explorerButton = page.locator('button[aria-label="Show GraphiQL Explorer"]');
  check('explorer button', (await explorerButton.count()) === 1);
  if ((await explorerButton.count()) === 1) {
    await explorerButton.click();
    let listed = true;
    try {
      await page.waitForSelector('.graphiql-explorer-root [data-field-name="orders"]', {
        timeout: WAIT_MS / 2,
      });
    } catch {
      listed = false;
    }
    check('explorer lists the schema', listed);
  }

  // Every introspection GraphiQL sent was answered with the schema.
  await Promise.all(pending);
  check(
    'schema',
    introspections.length > 0 &&
      introspections.every((body) => body?.data?.__schema && !body?.errors),
    { answers: introspections.map((body) => body?.errors ?? body?.unreadable ?? 'the schema') },
  );
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
} catch (error) {
  fatal = String(error?.stack ?? error);
  if (screenshot && context) {
    await context
      .pages()[0]
      ?.screenshot({ path: screenshot })
      .catch(() => {});
  }
} finally {
  await context?.close().catch(() => {});
  rmSync(userDataDir, { recursive: true, force: true });
}

check('nothing blocked', blocked.length === 0, blocked);
check('no console errors', consoleErrors.length === 0, consoleErrors);
check('no page errors', pageErrors.length === 0, pageErrors);
check('no failed requests', failedRequests.length === 0, failedRequests);
const failed = Object.keys(checks).filter((name) => !checks[name].ok);
const passed = fatal === null && failed.length === 0;
console.log(
  JSON.stringify(
    { passed, url: pageUrl.href, browser: executablePath, failed, fatal, checks, screenshot },
    null,
    2,
  ),
);
process.exit(passed ? 0 : 1);
