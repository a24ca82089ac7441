'use strict';
// graphql-ws 6 (GraphQL over WebSocket, subprotocol `graphql-transport-ws`) on ws 8 + graphql 16.
//   node graphql_ws.js server       -> ws endpoint /graphql, prints `listening on http://127.0.0.1:PORT`
//   node graphql_ws.js client URL   -> connection_init, then (sequentially)
//       subscription OnMessage { messageAdded { id text } }   (2 `next` then `complete`)
//       mutation Send { sendMessage(text:"cc") { id text } }
//       query Boom { boom }            (resolver throws: `next` with payload.errors, then `complete`)
//       query Invalid { nope }         (validation failure: `error` message)
//     prints {subscription, mutation, boom_errors, invalid_errors}
const http = require('http');
const { WebSocket, WebSocketServer } = require('ws');
const { buildSchema } = require('graphql');
const { fail, listen, watchdog, done, within, baseUrl, wsUrl } = require('./common');

const schema = buildSchema(`
  type Message { id: ID! text: String! }
  type Query { hello: String! boom: String }
  type Mutation { sendMessage(text: String!): Message! }
  type Subscription { messageAdded: Message! }
`);

function server() {
  const { useServer } = require('graphql-ws/use/ws');
  let nextId = 1;
  const roots = {
    query: {
      hello: () => 'world',
      boom: () => { throw new Error('boom: resolver failed on purpose'); },
    },
    mutation: {
      sendMessage: ({ text }) => ({ id: String(nextId++), text }),
    },
    subscription: {
      // graphql-js calls the root field to get the event stream; each yielded value is
      // the root for executing the selection set.
      messageAdded: async function* messageAdded() {
        for (const text of ['first', 'second']) {
          await new Promise((r) => setTimeout(r, 20));
          yield { messageAdded: { id: String(nextId++), text } };
        }
      },
    },
  };
  const httpServer = http.createServer((req, res) => { res.writeHead(404); res.end('graphql-ws server: use ws://.../graphql\n'); });
  const wss = new WebSocketServer({ server: httpServer, path: '/graphql', perMessageDeflate: false });
  useServer({ schema, roots }, wss);
  listen(httpServer, () => wss.close());
}

async function client(base) {
  const { createClient } = require('graphql-ws');
  const wd = watchdog();
  const client = createClient({
    url: wsUrl(base, '/graphql'),
    webSocketImpl: WebSocket,
    lazy: false,
    retryAttempts: 0,
    connectionParams: { user: 'alice' },
    on: { error: (e) => fail(`graphql-ws client error: ${e && e.message || e}`) },
  });
  // Collects every `next` payload until `complete`; rejects on an `error` message.
  const run = (query, name) => within(new Promise((resolve, reject) => {
    const results = [];
    client.subscribe({ query, operationName: name }, {
      next: (v) => results.push(v),
      error: (e) => reject(Object.assign(new Error(`${name} error`), { graphqlErrors: e })),
      complete: () => resolve(results),
    });
  }), `operation ${name}`);

  wd.step('subscription OnMessage');
  const subscription = await run('subscription OnMessage { messageAdded { id text } }', 'OnMessage');
  if (subscription.length !== 2) throw new Error(`expected 2 subscription events, got ${JSON.stringify(subscription)}`);
  wd.step('mutation Send');
  const [mutation] = await run('mutation Send { sendMessage(text: "cc") { id text } }', 'Send');
  if (!mutation || !mutation.data || mutation.data.sendMessage.text !== 'cc') throw new Error(`bad mutation result ${JSON.stringify(mutation)}`);
  wd.step('query Boom');
  const [boom] = await run('query Boom { boom }', 'Boom');
  if (!boom || !boom.errors || !boom.errors.length) throw new Error(`Boom should return errors, got ${JSON.stringify(boom)}`);
  wd.step('query Invalid');
  let invalidErrors = null;
  try {
    await run('query Invalid { nope }', 'Invalid');
  } catch (e) {
    if (!e.graphqlErrors) throw e;
    invalidErrors = e.graphqlErrors;
  }
  if (!Array.isArray(invalidErrors) || !invalidErrors.length) throw new Error('Invalid should produce an `error` message');
  wd.step('dispose');
  await within(Promise.resolve(client.dispose()), 'client.dispose');
  done({ subscription, mutation, boom_errors: boom.errors, invalid_errors: invalidErrors }, wd);
}

const [mode, url] = process.argv.slice(2);
if (mode === 'server') server();
else if (mode === 'client') client(baseUrl(url)).catch((e) => fail(e && e.message || String(e)));
else fail('usage: graphql_ws.js server | client URL');
