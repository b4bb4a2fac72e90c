// A real, certified OpenID provider (the npm package oidc-provider) for identityd's
// OIDC sign-in tests. The Rust tests start it with `node provider.mjs`:
//
//   env OIDC_PROVIDER_MODULE  absolute path of the installed package directory
//                             (.../node_modules/oidc-provider); nothing is loaded
//                             from a node_modules next to this file
//   env PORT                  port on 127.0.0.1 to listen on; 0 = any free port
//
// stdout: exactly one line, {"issuer":"http://127.0.0.1:<port>"}, once it accepts
// connections. Everything else goes to stderr. It exits when stdin closes (so a test
// that dies or drops the child does not leave it running) and on SIGTERM/SIGINT.
//
// The person at the provider is scripted by a query string instead of a login page:
//   GET /interaction/<uid>?sub=alice&email=a@x.test&email_verified=true&name=Alice
//     signs in `sub` with those claims and grants `openid email profile`
//   GET /interaction/<uid>?deny=1
//     ends the authorization with error=access_denied

import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

// oidc-provider prints its notices with console.info (stdout); stdout belongs to the
// one issuer line, so every console method writes to stderr.
console.log = console.info = console.debug = console.error;

const moduleDir = process.env.OIDC_PROVIDER_MODULE;
if (!moduleDir) {
  console.error('provider.mjs: set OIDC_PROVIDER_MODULE to the oidc-provider package directory');
  process.exit(2);
}
// require.resolve of the package directory follows its package.json "main"
// (lib/index.js); jose is oidc-provider's own dependency, so it is resolved from there.
const requireFromProvider = createRequire(join(moduleDir, 'package.json'));
const load = (path) => import(pathToFileURL(path).href);
const { default: Provider } = await load(requireFromProvider.resolve(moduleDir));
const jose = await load(requireFromProvider.resolve('jose'));

// Exit when the test goes away: stdin reaches EOF when the parent closes its end or dies.
const exit = () => process.exit(0);
process.stdin.on('end', exit).on('close', exit).resume();
process.on('SIGTERM', exit).on('SIGINT', exit);

// The issuer must carry the real port, so listen first and plug the provider in after.
let handler = (_req, res) => { res.statusCode = 503; res.end(); };
const server = createServer((req, res) => handler(req, res));
await new Promise((resolve, reject) => {
  server.once('error', reject).listen(Number(process.env.PORT ?? 0), '127.0.0.1', resolve);
});
const issuer = `http://127.0.0.1:${server.address().port}`;

// A fresh signing key per run; the provider publishes its public half at jwks_uri.
const kid = `test-${randomBytes(6).toString('hex')}`;
const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
const signingJwk = { ...(await jose.exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };

// sub -> claims, filled by the interaction route.
const accounts = new Map();

const client = (client_id, client_secret) => ({
  client_id,
  client_secret,
  token_endpoint_auth_method: 'client_secret_basic',
  grant_types: ['authorization_code'],
  response_types: ['code'],
  redirect_uris: ['http://127.0.0.1/callback', 'https://app.example.test/callback'],
});

const provider = new Provider(issuer, {
  clients: [
    client('identityd', 'identityd-secret'),
    client('second-client', 'second-secret'),
    // Its ID tokens get a wrong audience, see the middleware below.
    client('mixup', 'mixup-secret'),
  ],
  jwks: { keys: [signingJwk] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  pkce: { required: () => true }, // only S256 exists in oidc-provider 9
  scopes: ['openid', 'email', 'profile'],
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(_ctx, sub) {
    const claims = accounts.get(sub);
    return claims && { accountId: sub, claims: async () => ({ sub, ...claims }) };
  },
});

// The scripted person. It answers both prompts (login and consent) in one go.
provider.use(async (ctx, next) => {
  const match = ctx.method === 'GET' && /^\/interaction\/([^/]+)$/.exec(ctx.path);
  if (!match) return next();

  // Reads the _interaction cookie that the authorization endpoint set.
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  if (details.uid !== match[1]) ctx.throw(400, 'interaction cookie is for another uid');

  const q = ctx.query;
  let result;
  if (q.deny) {
    result = { error: 'access_denied', error_description: 'the person refused' };
  } else {
    if (!q.sub) ctx.throw(400, 'sub (or deny=1) is required');
    accounts.set(q.sub, { email: q.email, email_verified: q.email_verified === 'true', name: q.name });
    const grant = new provider.Grant({ accountId: q.sub, clientId: details.params.client_id });
    grant.addOIDCScope('openid email profile');
    grant.addOIDCClaims(['sub', 'email', 'email_verified', 'name']);
    result = { login: { accountId: q.sub }, consent: { grantId: await grant.save() } };
  }
  console.error(`interaction ${details.uid} (${details.params.client_id}):`, JSON.stringify(q));
  ctx.respond = false; // interactionFinished writes the 303 to the resume endpoint itself
  await provider.interactionFinished(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
});

// Client `mixup`: its token response carries an ID token that is validly signed by
// this issuer but addressed to someone else, like a token minted for another client.
provider.use(async (ctx, next) => {
  await next();
  if (ctx.oidc?.route !== 'token' || ctx.oidc.client?.clientId !== 'mixup') return;
  if (!ctx.body?.id_token) return;
  const header = jose.decodeProtectedHeader(ctx.body.id_token);
  const claims = { ...jose.decodeJwt(ctx.body.id_token), aud: 'someone-else' };
  ctx.body.id_token = await new jose.SignJWT(claims).setProtectedHeader(header).sign(privateKey);
});

// Expected failures (bad PKCE, wrong secret, ...) land here too: handy when a test fails.
for (const event of ['server_error', 'authorization.error', 'grant.error', 'userinfo.error']) {
  provider.on(event, (_ctx, err) => {
    console.error(`${event}: ${err.message} (${err.error_description ?? ''}${err.cause ? `: ${err.cause.message}` : ''})`);
  });
}

handler = provider.callback();
process.stdout.write(`${JSON.stringify({ issuer })}\n`);
