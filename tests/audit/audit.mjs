// graphql-http's auditServer (every MUST, SHOULD and MAY of the GraphQL-over-HTTP spec)
// against a running gateway.
//
//   node audit.mjs <url of /graphql>
//
// Every request carries `Authorization: Bearer <key>`: the key is ORDERGATE_AUDIT_KEY, or the
// demo key a gateway with its simulators makes (`make run`). Prints every result; exits 1 if
// any MUST or SHOULD fails (a failing MAY is only printed), 2 on a usage or fatal error.
import { auditServer } from 'graphql-http';

const DEMO_KEY = 'og_demo_key_for_local_use_only';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs <url of /graphql>');
  process.exit(2);
}
const authorization = `Bearer ${process.env.ORDERGATE_AUDIT_KEY || DEMO_KEY}`;

/** fetch with the gateway's credential added (the audit's own headers kept). */
function fetchWithKey(input, init = {}) {
  const headers = new Headers(init.headers);
  if (!headers.has('authorization')) headers.set('authorization', authorization);
  return fetch(input, { ...init, headers });
}

const LEVELS = ['MUST', 'SHOULD', 'MAY'];
const level = (name) => LEVELS.find((l) => name.startsWith(`${l} `)) ?? 'MUST';

let results;
try {
  results = await auditServer({ url, fetchFn: fetchWithKey });
} catch (error) {
  console.error(`the audit could not run: ${error?.stack ?? error}`);
  process.exit(2);
}

const counts = Object.fromEntries(LEVELS.map((l) => [l, { ok: 0, failed: 0 }]));
for (const result of results) {
  const lvl = level(result.name);
  const ok = result.status === 'ok';
  counts[lvl][ok ? 'ok' : 'failed'] += 1;
  const line = `${ok ? 'ok  ' : 'FAIL'} ${lvl.padEnd(6)} ${result.id} ${result.name}`;
  if (ok) {
    console.log(line);
    continue;
  }
  let body = '';
  try {
    body = await result.response.text();
  } catch {
    // the body was already read by the audit
  }
  console.log(`${line}\n       status: ${result.status}; reason: ${result.reason}`);
  console.log(
    `       response: HTTP ${result.response.status} ` +
      `${result.response.headers.get('content-type') ?? '(no content-type)'} ${body.slice(0, 300)}`,
  );
}

console.log(
  '\n' +
    LEVELS.map((l) => `${l}: ${counts[l].ok} passed, ${counts[l].failed} failed`).join('; '),
);
process.exit(counts.MUST.failed + counts.SHOULD.failed > 0 ? 1 : 0);
