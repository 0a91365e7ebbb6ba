import fc from 'fast-check';
import { validateHeaderValue } from 'node:http';
import type { Client } from 'pg';
import { ERROR_HTTP_STATUS } from '../src/common/errors/error-codes';
import { ADMIN_TOKEN, startTestApp, TestApp } from './support/test-app';

/**
 * Generated input on every route of the OpenAPI document: arbitrary strings (NUL, lone
 * surrogates, controls, any plane of Unicode, raw percent-encoded bytes), numbers and JSON shapes
 * in path parameters, query strings, headers and bodies. Whatever arrives, the service answers
 * below 500 with the documented error body, a refusal changes nothing, and it stays healthy.
 */

const SHARED_REDIS = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Cases per route; FUZZ_RUNS raises it for a longer hunt, FUZZ_SEED replays a failure. */
const RUNS = Number(process.env.FUZZ_RUNS ?? 60);
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);

/** Answers that refuse the request: none of them may change anything. */
const REFUSALS = new Set([400, 401, 404, 405, 413, 414, 415, 422]);
const KNOWN_CODES = new Set(Object.keys(ERROR_HTTP_STATUS));
const KNOWN_IDS = ['user-123', 'user-456', 'user-suspended', 'item-sword', 'item-potion'];

type Method = 'get' | 'post' | 'patch' | 'put' | 'delete';

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
}

interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  enum?: unknown[];
  example?: unknown;
  $ref?: string;
}

interface Operation {
  method: Method;
  path: string;
  parameters: Parameter[];
  body?: Schema;
  admin: boolean;
}

interface OpenApiDocument {
  paths: Record<
    string,
    Record<
      string,
      {
        parameters?: Parameter[];
        requestBody?: { content: Record<string, { schema: Schema }> };
        security?: unknown[];
      }
    >
  >;
  components: { schemas: Record<string, Schema> };
}

interface Case {
  path: string;
  query: string;
  headers: Record<string, string>;
  body?: { raw: string; type: string };
}

function operationsOf(document: OpenApiDocument): Operation[] {
  const resolve = (schema: Schema): Schema =>
    schema.$ref === undefined
      ? schema
      : document.components.schemas[schema.$ref.replace('#/components/schemas/', '')];
  return Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]) => {
      const body = operation.requestBody?.content['application/json']?.schema;
      return {
        method: method as Method,
        path,
        parameters: operation.parameters ?? [],
        body: body === undefined ? undefined : resolve(body),
        admin: (operation.security ?? []).length > 0,
      };
    }),
  );
}

/** Any string JavaScript can hold: full Unicode, NUL and other controls, lone surrogates. */
const oddString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code)) }),
  fc.constantFrom('\u0000', 'u\u0000', '\ud800', 'a\udfff', '\u202e', ' ', '', '%', '../x', '..'),
  fc.string({ unit: 'grapheme', maxLength: 60 }),
  fc.string({ minLength: 40, maxLength: 300 }),
  fc.constantFrom(...KNOWN_IDS).map((id) => `${id}\u0000`),
);

const oddNumber = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(0, -1, 1, 1e21, -1e21, 2 ** 53, 1e308, 5e-324, 0.001, 99999999999.99),
);

/** Any JSON value, nested, with odd strings for keys and values. */
const oddJson: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    oddString,
    oddNumber,
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(oddString, tie('value'), { maxKeys: 4 }),
  ),
})).value;

/** A value for one schema property: a plausible one (to get past the other checks) or anything. */
function propertyValue(schema: Schema): fc.Arbitrary<unknown> {
  const plausible: fc.Arbitrary<unknown>[] = [];
  if (schema.example !== undefined) plausible.push(fc.constant(schema.example));
  if (schema.enum !== undefined) plausible.push(fc.constantFrom(...schema.enum));
  if (schema.type === 'number' || schema.type === 'integer') plausible.push(oddNumber);
  if (schema.type === 'string') plausible.push(oddString);
  if (schema.type === 'boolean') plausible.push(fc.boolean());
  return fc.oneof(...plausible, oddJson);
}

function bodyOf(schema: Schema): fc.Arbitrary<{ raw: string; type: string }> {
  const properties = schema.properties ?? {};
  const shaped = fc.record(
    Object.fromEntries(Object.entries(properties).map(([name, p]) => [name, propertyValue(p)])),
    { requiredKeys: [] },
  );
  const withExtra = fc
    .tuple(shaped, fc.dictionary(oddString, oddJson, { maxKeys: 2 }))
    .map(([known, extra]) => ({ ...extra, ...known }));
  const json = fc.oneof(shaped, shaped, withExtra, oddJson).map((value) => ({
    raw: JSON.stringify(value) ?? 'null',
    type: 'application/json',
  }));
  const broken = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 60 }).map((raw) => ({ raw, type: 'application/json' })),
    fc.string({ maxLength: 60 }).map((raw) => ({ raw, type: 'text/plain' })),
    fc.constant({ raw: '{"userId": "a', type: 'application/json' }),
  );
  return fc.oneof(json, json, json, broken);
}

/** Percent-encodes every UTF-16 code unit, lone surrogates as their WTF-8 bytes. */
function encodeSegment(value: string): string {
  let encoded = '';
  for (const char of value) {
    const code = char.codePointAt(0) ?? 0;
    if (code >= 0xd800 && code <= 0xdfff) {
      encoded += [0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f)]
        .map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`)
        .join('');
    } else {
      encoded += encodeURIComponent(char);
    }
  }
  return encoded;
}

const rawBytes = fc
  .array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 8 })
  .map((bytes) => bytes.map((byte) => `%${byte.toString(16).padStart(2, '0')}`).join(''));

const pathSegment = fc.oneof(
  oddString.filter((value) => value !== '').map(encodeSegment),
  rawBytes,
  fc.constantFrom(...KNOWN_IDS),
);

const queryValue = fc.oneof(oddString.map(encodeSegment), rawBytes, oddNumber.map(String));

/** A header value that HTTP can carry (no CR, LF or NUL); anything else never leaves the client. */
function isSendableHeader(value: string): boolean {
  try {
    validateHeaderValue('x', value);
    return true;
  } catch {
    return false;
  }
}

const headerValue = fc
  .oneof(
    fc.string({ unit: 'binary-ascii', maxLength: 300 }),
    fc.string({ maxLength: 40 }),
    fc.string({ unit: fc.integer({ min: 0x20, max: 0xff }).map((c) => String.fromCharCode(c)) }),
  )
  .filter(isSendableHeader);

function caseOf(operation: Operation): fc.Arbitrary<Case> {
  const pathNames = operation.parameters.filter((p) => p.in === 'path').map((p) => p.name);
  const queryNames = operation.parameters.filter((p) => p.in === 'query').map((p) => p.name);
  const headerNames = operation.parameters.filter((p) => p.in === 'header').map((p) => p.name);
  const path = fc
    .tuple(...pathNames.map(() => pathSegment))
    .map((segments) =>
      pathNames.reduce((text, name, i) => text.replace(`{${name}}`, segments[i]), operation.path),
    );
  const query = fc
    .array(
      fc.tuple(
        fc.oneof(fc.constantFrom(...queryNames, 'unknown'), oddString.map(encodeSegment)),
        queryValue,
      ),
      { maxLength: queryNames.length > 0 ? 4 : 1 },
    )
    .map((pairs) => pairs.map(([key, value]) => `${key}=${value}`).join('&'));
  const headers = fc
    .tuple(
      fc.record(Object.fromEntries(headerNames.map((name) => [name, headerValue])), {
        requiredKeys: [],
      }),
      operation.admin
        ? fc.oneof(
            fc.constant(`Bearer ${ADMIN_TOKEN}`),
            fc.constant(`Bearer ${ADMIN_TOKEN}`),
            headerValue,
          )
        : fc.option(headerValue, { nil: undefined }),
    )
    .map(([named, authorization]) => {
      const all: Record<string, string> = {};
      for (const [name, value] of Object.entries(named)) if (value !== undefined) all[name] = value;
      if (authorization !== undefined) all.Authorization = authorization;
      return all;
    });
  const body =
    operation.body === undefined
      ? fc.option(bodyOf({}), { nil: undefined, freq: 4 })
      : bodyOf(operation.body);
  return fc.record({ path, query, headers, body }, { requiredKeys: ['path', 'query', 'headers'] });
}

/** Everything a request could change, in one digest. */
async function fingerprint(db: Client): Promise<string> {
  const { rows } = await db.query<{ digest: string }>(
    `SELECT concat_ws('|',
       (SELECT md5(coalesce(string_agg(concat_ws(',', user_id, name, email, balance, status, purchase_limit), ';' ORDER BY user_id), '')) FROM users),
       (SELECT md5(coalesce(string_agg(concat_ws(',', item_id, name, price, stock, is_available), ';' ORDER BY item_id), '')) FROM items),
       (SELECT md5(coalesce(string_agg(concat_ws(',', user_id, item_id, quantity), ';' ORDER BY user_id, item_id), '')) FROM user_inventory),
       (SELECT md5(coalesce(string_agg(concat_ws(',', transaction_id, status, version), ';' ORDER BY transaction_id), '')) FROM saga_states),
       (SELECT count(*) FROM saga_step_results),
       (SELECT count(*) FROM transaction_logs),
       (SELECT count(*) FROM notifications),
       (SELECT value FROM saga_settings WHERE key = 'saga_pattern_mode')
     ) AS digest`,
  );
  return rows[0].digest;
}

/** Waits for every saga that an accepted request started to settle. */
async function settled(db: Client): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const { rows } = await db.query<{ open: string }>(
      `SELECT count(*)::text AS open FROM saga_states
       WHERE status IN ('pending', 'in_progress', 'compensating')`,
    );
    if (rows[0].open === '0') return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error('Sagas started by the generated requests did not settle');
}

describe('Generated input on every route of the OpenAPI document', () => {
  let t: TestApp;
  let operations: Operation[];
  let cases = 0;
  const statuses = new Map<number, number>();

  beforeAll(async () => {
    t = await startTestApp({ REDIS_URL: SHARED_REDIS, PURCHASE_WAIT_MS: '10000' });
    const document = (await t.http.get('/docs/json').expect(200)).body as OpenApiDocument;
    operations = operationsOf(document);
  });

  afterAll(async () => {
    await t.close();
    const answers = [...statuses].sort(([a], [b]) => a - b).map(([s, n]) => `${s}: ${n}`);
    console.log(
      `input fuzz: ${cases} generated requests on ${operations.length} routes (${answers.join(', ')})`,
    );
  });

  it('covers the routes the service serves', () => {
    const routes = operations.map((o) => `${o.method.toUpperCase()} ${o.path}`);
    expect(routes).toEqual(
      expect.arrayContaining([
        'POST /purchase',
        'GET /saga/{transactionId}',
        'POST /admin/users/{userId}/top-up',
        'GET /admin/sagas',
      ]),
    );
    expect(routes.length).toBeGreaterThanOrEqual(25);
  });

  it('answers every generated request below 500 with the documented error body, and a refusal changes nothing', async () => {
    for (const operation of operations) {
      let before = await fingerprint(t.db);
      await fc.assert(
        fc.asyncProperty(caseOf(operation), async (input) => {
          cases++;
          const url = input.query === '' ? input.path : `${input.path}?${input.query}`;
          let req = t.http[operation.method](url);
          for (const [name, value] of Object.entries(input.headers)) req = req.set(name, value);
          if (input.body !== undefined) {
            req = req.set('Content-Type', input.body.type).send(input.body.raw);
          }
          const res = await req;
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          const label = `${operation.method.toUpperCase()} ${url}`;
          expect({ label, status: res.status < 500 }).toEqual({ label, status: true });
          if (res.status >= 400) {
            const body = res.body as {
              statusCode?: unknown;
              errorCode?: unknown;
              message?: unknown;
            };
            expect({ label, statusCode: body.statusCode }).toEqual({
              label,
              statusCode: res.status,
            });
            expect(KNOWN_CODES.has(String(body.errorCode))).toBe(true);
            expect(typeof body.message === 'string' && body.message.length > 0).toBe(true);
          }
          if (REFUSALS.has(res.status) && !isRecordedPurchase(res.body)) {
            expect({ label, state: await fingerprint(t.db) }).toEqual({ label, state: before });
          } else {
            await settled(t.db);
            before = await fingerprint(t.db);
          }
        }),
        { numRuns: RUNS, seed: SEED, endOnFailure: true },
      );
    }
    await t.http.get('/health').expect(200);
  });
});

/**
 * A purchase refused by a business rule (unknown user or item) is recorded as a failed saga on
 * purpose: the client gets its transaction id. Only bad input must leave no trace.
 */
function isRecordedPurchase(body: unknown): boolean {
  const answer = body as { transactionId?: unknown; errorCode?: unknown };
  return typeof answer.transactionId === 'string' && answer.errorCode !== 'VALIDATION_FAILED';
}
