// drive.mjs runs the official JavaScript SDK (dinie-tech/sdk-js, built from its public
// source; it is not in the npm registry) against a running examples/server -sandbox, calls
// every method of the SDK this server implements, checks that the SDK got numbers where
// its types say numbers, and records every request and response it made.
//
//	SDK_DIR=/path/to/sdk-js BASE_URL=http://127.0.0.1:8080 CLIENT_ID=sandbox \
//	CLIENT_SECRET=cs_… OUT=exchanges.json node drive.mjs
//
// The recording (OUT) is the fixture httpapi's TestSDKFixtures checks against the SDK's
// wire types. Nothing of the SDK is copied here: it is imported from SDK_DIR.
import http from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';

const { SDK_DIR, BASE_URL, CLIENT_ID, CLIENT_SECRET, OUT } = process.env;
const sdk = await import(pathToFileURL(`${SDK_DIR}/dist/index.js`).href);
const { TokenManager } = await import(pathToFileURL(`${SDK_DIR}/dist/runtime/token-manager.js`).href);
const { Pool } = createRequire(`${SDK_DIR}/package.json`)('undici');
const { Dinie, Webhooks } = sdk;

const API = `${BASE_URL}/api/v3`;
const origin = new URL(BASE_URL).origin;
const exchanges = [];
let step = '';

// recorder is an undici dispatcher that records what the SDK sends and receives.
function recorder(actor) {
  const pool = new Pool(origin);
  return {
    async request(opts) {
      const res = await pool.request(opts);
      const text = await res.body.text();
      let reqBody = null;
      if (typeof opts.body === 'string') reqBody = opts.body;
      else if (opts.body instanceof FormData) {
        reqBody = Object.fromEntries([...opts.body.entries()].map(([k, v]) => [k, typeof v === 'string' ? v : `<file ${v.size} bytes>`]));
      }
      exchanges.push({
        step, actor, method: opts.method, path: opts.path, request: reqBody,
        status: res.statusCode, content_type: res.headers['content-type'] ?? null,
        response: text === '' ? null : text,
      });
      return { statusCode: res.statusCode, headers: res.headers,
        body: { text: async () => text, json: async () => JSON.parse(text), dump: async () => {} } };
    },
    close: () => pool.close(),
  };
}


const checks = [];
function check(cond, what) {
  checks.push({ step, what, ok: !!cond });
  if (!cond) console.error(`FAIL [${step}] ${what}`);
}
function firstPage(pp) { return pp[Symbol.asyncIterator]().next(); }
function isNum(v) { return typeof v === 'number' && Number.isFinite(v); }
function twoDecimals(v) { return isNum(v) && Math.abs(v * 100 - Math.round(v * 100)) < 1e-6; }
async function expectError(p, cls, what) {
  try { await p; check(false, `${what}: no error`); }
  catch (e) { check(e instanceof cls, `${what}: ${e.constructor.name} (${e.status ?? ''} ${e.code ?? ''})`); return e; }
}

const pdf = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n');
const jpeg = Buffer.concat([Buffer.from([0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 0x4A, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00]), Buffer.from([0xFF, 0xD9])]);

// cpf and cnpj make valid numbers (check digits) from a seed.
function digits(base, weights) {
  const s = base.split('').reduce((a, d, i) => a + Number(d) * weights[i], 0) % 11;
  return s < 2 ? 0 : 11 - s;
}
function cpf(seed) {
  let b = String(100000000 + (seed % 800000000)).slice(0, 9);
  const d1 = digits(b, [10, 9, 8, 7, 6, 5, 4, 3, 2]);
  const d2 = digits(b + d1, [11, 10, 9, 8, 7, 6, 5, 4, 3, 2]);
  return b + d1 + d2;
}
function cnpj(root, branch) {
  const b = root + branch;
  const d1 = digits(b, [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]);
  const d2 = digits(b + d1, [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]);
  return b + d1 + d2;
}

// A webhook receiver that unwraps every delivery with the SDK's Webhooks.extract (which
// throws on a type the SDK does not know).
const received = [];
const deliveries = [];
let hookSecret = '';
const hookServer = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    try {
      const body = Buffer.concat(chunks);
      deliveries.push(body.toString('utf-8'));
      const ev = Webhooks.extract({ headers: req.headers, body, secret: hookSecret });
      received.push(ev);
      res.writeHead(204).end();
    } catch (e) {
      received.push({ error: `${e.constructor.name}: ${e.message}` });
      res.writeHead(400).end();
    }
  });
});
await new Promise((r) => hookServer.listen(0, '127.0.0.1', r));
const hookURL = `http://127.0.0.1:${hookServer.address().port}/hooks`;

const partner = new Dinie({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, baseUrl: API, dispatcher: recorder('partner'), maxRetries: 0 });
const seed = Date.now() % 100000000;

step = 'webhookEndpoints';
const ep = await partner.webhookEndpoints.create({ url: hookURL, events: ['customer.*', 'credit_offer.available'], description: 'sdk' });
hookSecret = ep.secret;
check(isNum(ep.createdAt) && isNum(ep.updatedAt), 'endpoint timestamps are numbers');
const eps = [];
for await (const e of partner.webhookEndpoints.list()) eps.push(e);
check(eps.some((e) => e.id === ep.id), 'webhookEndpoints.list finds it');
const upd = await partner.webhookEndpoints.update(ep.id, { description: 'sdk driven' });
check(upd.description === 'sdk driven', 'webhookEndpoints.update');
check((await partner.webhookEndpoints.retrieve(ep.id)).id === ep.id, 'webhookEndpoints.retrieve');

step = 'banks.list';
const banks = await partner.banks.list();
check(banks.length > 100 && banks.some((b) => b.id === '001' && b.displayName.startsWith('001')), `banks.list: ${banks.length} banks`);

step = 'credentials';
const expiresAt = Math.floor(Date.now() / 1000) + 3600;
const cred = await partner.credentials.create({ name: 'sdk-driven', expiresAt });
check(isNum(cred.createdAt) && cred.expiresAt === expiresAt && cred.lastUsedAt === null && cred.clientSecret.startsWith('cs_'), 'credentials.create: numbers, secret once');
const creds = [];
for await (const c of partner.credentials.list()) creds.push(c);
check(creds.some((c) => c.clientId === cred.clientId && c.clientSecret === undefined), 'credentials.list finds it, without the secret');
const second = new Dinie({ clientId: cred.clientId, clientSecret: cred.clientSecret, baseUrl: API, dispatcher: recorder('credential'), maxRetries: 0 });
await second.customers.list({ limit: 1 });
check(true, 'the new credential works');
await partner.credentials.revoke(cred.clientId);
// The SDK's token from before the revocation gets 401; it then asks for a new token,
// which the revoked credential does not get: OAuthError.
await expectError(firstPage(second.customers.list({ limit: 1 })), sdk.OAuthError, 'a token issued before revoke is refused, and no new one is issued');
const refused = exchanges.filter((e) => e.actor === 'credential').slice(-2);
check(refused[0]?.status === 401 && JSON.parse(refused[0].response).code === 'invalid_token' && JSON.parse(refused[1].response).code === 'invalid_client',
  'the old token: 401 invalid_token; the token endpoint: 401 invalid_client');
const revoked = [];
for await (const c of partner.credentials.list()) revoked.push(c);
check(revoked.find((c) => c.clientId === cred.clientId)?.status === 'revoked', 'credentials.list shows it revoked');
// A credential that may only exchange biometrics codes. credentials.create sends only
// name and expires_at, so the scopes extension goes in a plain request.
const partnerToken = await new TokenManager({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, baseUrl: API, dispatcher: recorder('partner') }).getAccessToken();
const scoped = await fetch(`${API}/auth/credentials`, { method: 'POST', headers: { authorization: `Bearer ${partnerToken}`, 'content-type': 'application/json' },
  body: JSON.stringify({ name: 'kyc-app', scopes: ['biometrics:exchange'] }) });
const scopedBody = await scoped.json();
const exchangeCred = { clientId: scopedBody.client_id, clientSecret: scopedBody.client_secret };
check(scoped.status === 201 && exchangeCred.clientSecret, 'a credential with the biometrics:exchange scope only');

step = 'customers.create';
const doc = cpf(seed);
const company = cnpj('12345678', String(1000 + (seed % 8999)).padStart(4, '0'));
const cust = await partner.customers.create({ cpf: doc, cnpj: company, email: 'maria@padaria.example', phone: '+5511912345678' });
check(cust.name === null && cust.externalId === null, 'name and external_id optional: null');
check(isNum(cust.createdAt) && isNum(cust.updatedAt), 'customer timestamps are numbers');
check(JSON.stringify(cust.kyc.map((k) => k.requirementId)) === '["company_document","selfie_applicant"]', `the guide's MEI: ${cust.kyc.map((k) => k.requirementId)}`);
const again = await partner.customers.create({ cpf: doc, cnpj: company, email: 'maria@padaria.example', phone: '+5511912345678' });
check(again.id === cust.id, 'customers.create is idempotent on the CNPJ');
check((await partner.customers.update(cust.id, { email: 'maria@nova.example' })).email === 'maria@nova.example', 'customers.update');
check((await partner.customers.retrieve(cust.id)).id === cust.id, 'customers.retrieve');
const page = [];
for await (const c of partner.customers.list({ limit: 5 })) { page.push(c); if (page.length >= 5) break; }
check(page.some((c) => c.id === cust.id), 'customers.list');

step = 'kycAttachments.create';
const att = await partner.customers.kycAttachments.create(cust.id, { requirementId: 'company_document', evidenceType: 'ccmei', attachmentType: 'file', file: pdf });
check(att.submitted === true && att.attachmentType === 'file', 'kycAttachments.create');

step = 'startKycReview (incomplete)';
const inc = await expectError(partner.customers.startKycReview(cust.id), sdk.ValidationError, 'startKycReview before the selfie: 422');
check(inc?.code === 'kyc_incomplete' && JSON.stringify(inc.body.missing) === '["selfie_applicant"]', 'kyc_incomplete names selfie_applicant');

step = 'createBiometricsSession';
const sess = await partner.customers.createBiometricsSession(cust.id);
check(isNum(sess.expiresAt) && /\/kyc\/\?code=bsc_/.test(sess.sessionUrl), `session_url ${sess.sessionUrl.replace(/code=.*/, 'code=…')}`);
const code = new URL(sess.sessionUrl).searchParams.get('code');

step = 'biometrics.sessionExchange';
await expectError(partner.customers.kycAttachments.uploadSelfie(cust.id, new FormData()), sdk.PermissionDeniedError, 'uploadSelfie refuses a partner token: 403');
const exchanger = new Dinie({ clientId: exchangeCred.clientId, clientSecret: exchangeCred.clientSecret, baseUrl: API, dispatcher: recorder('exchange'), maxRetries: 0 });
await expectError(firstPage(exchanger.customers.list()), sdk.PermissionDeniedError, 'a biometrics:exchange credential cannot list customers: 403');
const ex = await exchanger.biometrics.sessionExchange({ code });
check(ex.customerId === cust.id && isNum(ex.expiresIn) && ex.accessToken.length > 20, 'sessionExchange: customer token');
await expectError(exchanger.biometrics.sessionExchange({ code }), sdk.BadRequestError, 'the code works once');
const asCustomer = { headers: { authorization: `Bearer ${ex.accessToken}` } };

step = 'uploadSelfie (customer token)';
check((await partner.customers.retrieve(cust.id, asCustomer)).id === cust.id, 'the customer token reads its customer');
await expectError(firstPage(partner.customers.list({}, asCustomer)), sdk.PermissionDeniedError, 'the customer token lists nothing: 403');
await expectError(partner.customers.retrieveBankAccount(cust.id, asCustomer), sdk.PermissionDeniedError, 'the customer token reads no bank account: 403');
const fd = new FormData();
fd.append('requirement_id', 'selfie_applicant');
fd.append('file', new Blob([jpeg]));
const selfie = await partner.customers.kycAttachments.uploadSelfie(cust.id, fd, asCustomer);
check(selfie.submitted === true && selfie.attachmentType === 'photo', 'uploadSelfie with the customer token');

step = 'startKycReview';
await partner.customers.startKycReview(cust.id);
await partner.customers.startKycReview(cust.id);
const reviewed = await partner.customers.retrieve(cust.id);
check(['under_review', 'active'].includes(reviewed.status), `startKycReview twice: ${reviewed.status}`);

step = 'bank account';
await expectError(partner.customers.retrieveBankAccount(cust.id), sdk.NotFoundError, 'no bank account yet: 404');
await expectError(partner.customers.upsertBankAccount(cust.id, { bankId: '999', branch: '1', number: '123', digit: '0', kind: 'checking' }), sdk.ValidationError, 'an unknown bank: 422');
const ba = await partner.customers.upsertBankAccount(cust.id, { bankId: '1', branch: '1234', number: '56789', digit: 'x', kind: 'checking' });
check(ba.bankId === '001' && ba.bankName.length > 0 && ba.digit === 'X' && isNum(ba.updatedAt) && /^ba_[0-9a-f]{32}$/.test(ba.id), 'upsertBankAccount normalises and names the bank');
const ba2 = await partner.customers.upsertBankAccount(cust.id, { bankId: '341', branch: '0001', number: '11111', digit: '1', kind: 'payment' });
check((await partner.customers.retrieveBankAccount(cust.id)).id === ba2.id && ba2.id !== ba.id, 'retrieveBankAccount: the replacement');

step = 'credit offers';
let offers = [];
for (let i = 0; i < 100 && offers.length === 0; i++) {
  offers = [];
  for await (const o of partner.creditOffers.list({ customerId: cust.id })) offers.push(o);
  if (offers.length === 0) await new Promise((r) => setTimeout(r, 100));
}
const offer = offers[0];
check(offer && isNum(offer.approvedAmount) && twoDecimals(offer.approvedAmount) && isNum(offer.minAmount), `offer amounts are numbers: ${offer?.approvedAmount}`);
check(offer && isNum(offer.validUntil) && isNum(offer.createdAt) && isNum(offer.monthlyInterestRate), 'offer timestamps and rate are numbers');
check(offer && !Number.isNaN(new Date(offer.createdAt * 1000).getTime()) && typeof (offer.approvedAmount + 1) === 'number', 'arithmetic on the SDK values works');
check((await partner.creditOffers.retrieve(offer.id)).id === offer.id, 'creditOffers.retrieve');
const custOffers = [];
for await (const o of partner.customers.creditOffers.list(cust.id)) custOffers.push(o);
check(custOffers.length === offers.length, 'customers.creditOffers.list');

step = 'createSimulation';
const n = offer.installments ?? offer.minInstallments;
const sim = await partner.creditOffers.createSimulation(offer.id, { installmentCount: n, requestedAmount: offer.minAmount });
for (const k of ['requestedAmount', 'principalAmount', 'interestAmount', 'iofAmount', 'feeAmount', 'totalAmount', 'installmentAmount']) {
  check(twoDecimals(sim[k]), `simulation ${k} is a number with two decimals: ${sim[k]}`);
}
check(isNum(sim.createdAt) && isNum(sim.monthlyCetRate) && sim.monthlyCetRate >= sim.monthlyInterestRate && /^\d{4}-\d{2}-\d{2}$/.test(sim.firstDueDate), 'simulation rates, CET ≥ rate, due date');
check(Math.abs(sim.principalAmount - (sim.requestedAmount + sim.iofAmount + sim.feeAmount)) < 0.005, 'principal = requested + IOF + fee');
await expectError(partner.creditOffers.createSimulation(offer.id, { installmentCount: n, requestedAmount: offer.approvedAmount + 1 }), sdk.ValidationError, 'above the approved amount: 422');

step = 'session mode (TokenManager with a code)';
const cust2 = await partner.customers.create({ cpf: cpf(seed + 7), cnpj: cnpj('12345678', String(1000 + ((seed + 7) % 8999)).padStart(4, '0')), email: 'joao@oficina.example', phone: '+5511912345679' });
const sess2 = await partner.customers.createBiometricsSession(cust2.id);
const tm = new TokenManager({ clientId: exchangeCred.clientId, clientSecret: exchangeCred.clientSecret, baseUrl: API, dispatcher: recorder('session'), code: new URL(sess2.sessionUrl).searchParams.get('code') });
const custToken = await tm.getAccessToken();
check((await partner.customers.retrieve(cust2.id, { headers: { authorization: `Bearer ${custToken}` } })).id === cust2.id, 'the SDK session mode gets a token for the customer');
await expectError(partner.customers.retrieve(cust.id, { headers: { authorization: `Bearer ${custToken}` } }), sdk.PermissionDeniedError, 'and only for that customer: 403');

step = 'webhooks';
for (let i = 0; i < 100 && received.filter((e) => e.type === 'credit_offer.available').length < 1; i++) await new Promise((r) => setTimeout(r, 100));
check(received.length > 0 && received.every((e) => !e.error), `Webhooks.extract unwrapped ${received.length} deliveries: ${[...new Set(received.map((e) => e.type ?? e.error))].join(', ')}`);
check(received.every((e) => isNum(e.createdAt) && isNum(e.timestamp) && e.apiVersion === '2026-03-01'), 'envelopes in the SDK format');
const created = received.find((e) => e.type === 'customer.created' && e.data.id === cust.id);
check(created && created.data.externalId === null && created.data.kyc[0].requirementId === 'company_document', 'customer.created data in the SDK format');
const avail = received.find((e) => e.type === 'credit_offer.available');
check(avail && isNum(avail.data.approvedAmount) && isNum(avail.data.validUntil), 'credit_offer.available data: numbers');
check(!received.some((e) => e.type === 'customer.bank_account_updated'), 'the opt-in bank_account_updated is not sent to customer.*');
const rot = await partner.webhookEndpoints.rotateSecret(ep.id, { expire_current_in: 0 });
check(isNum(rot.previousSecretExpiresAt), 'rotateSecret: previous_secret_expires_at is a number');
await partner.webhookEndpoints.delete(ep.id);

hookServer.close();
const failed = checks.filter((c) => !c.ok);
console.log(`${checks.length - failed.length}/${checks.length} checks passed; ${exchanges.length} requests recorded; ${received.length} webhooks unwrapped`);
const methods = new Set(exchanges.map((e) => `${e.method} ${e.path.replace(/(cust|co|we|ci|sim|ba)_[0-9a-f]{32}/g, '{id}').replace(/\?.*/, '')}`));
console.log(`routes exercised: ${methods.size}`);
if (OUT) {
  const redact = (s) => (typeof s === 'string' ? s.replace(/(cs_|whsec_|v1\.)[A-Za-z0-9_\-+/=.]+/g, '$1<redacted>').replace(/bsc_[A-Za-z0-9_\-]+/g, 'bsc_<redacted>') : s);
  const clean = JSON.parse(JSON.stringify(exchanges), (k, v) => redact(v));
  writeFileSync(OUT, JSON.stringify({ sdk: JSON.parse(readFileSync(`${SDK_DIR}/package.json`)).version, checks, exchanges: clean, webhooks: deliveries }, null, 1) + '\n');
}
process.exit(failed.length === 0 ? 0 : 1);
