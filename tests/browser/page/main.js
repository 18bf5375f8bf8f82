// A frontend on its own origin calling the gateway with Apollo Client (persisted-query link,
// ids from the manifest) and urql, as a frontend team would set them up.
import { ApolloClient, HttpLink, InMemoryCache } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";
import { generatePersistedQueryIdsFromManifest } from "@apollo/persisted-query-lists";
import { Client, fetchExchange } from "@urql/core";
import { ME, MEMBERS, REFRESH, SIGN_IN } from "./documents.js";

const CREDENTIALS = { username: "ada.lovelace@example.com", password: "menu-demo-pass" };

function apolloClient(uri, httpOptions) {
  const persisted = new PersistedQueryLink(
    generatePersistedQueryIdsFromManifest({
      loadManifest: () => fetch("/trusted-documents.json").then((response) => response.json()),
    }),
  );
  return new ApolloClient({
    link: persisted.concat(new HttpLink({ uri, ...httpOptions })),
    cache: new InMemoryCache(),
    defaultOptions: { query: { fetchPolicy: "no-cache" }, mutate: { fetchPolicy: "no-cache" } },
  });
}

// Sign in, read `me` with the token, refresh it, read `me` again, then an admin query.
async function apolloFlow(uri, adminKey, httpOptions = {}) {
  const client = apolloClient(uri, httpOptions);
  const bearer = (token) => ({ headers: { authorization: `Bearer ${token}` } });
  const signed = await client.mutate({ mutation: SIGN_IN, variables: CREDENTIALS });
  const first = signed.data.signIn.token.accessToken;
  const me = await client.query({ query: ME, context: bearer(first) });
  const refreshed = await client.mutate({ mutation: REFRESH, context: bearer(first) });
  const second = refreshed.data.refreshToken.token.accessToken;
  const again = await client.query({ query: ME, context: bearer(second) });
  const members = await client.query({ query: MEMBERS, context: { headers: { "x-api-key": adminKey } } });
  return {
    email: me.data.me.email,
    points: me.data.me.loyalty.points,
    refreshed: second !== first,
    emailAfterRefresh: again.data.me.email,
    members: members.data.customers.totalCount,
  };
}

async function urqlFlow(url, adminKey, clientOptions = {}) {
  const client = new Client({ url, exchanges: [fetchExchange], requestPolicy: "network-only", ...clientOptions });
  const bearer = (token) => ({ fetchOptions: { headers: { authorization: `Bearer ${token}` } } });
  const check = (result) => {
    if (result.error) throw new Error(result.error.message);
    return result.data;
  };
  const signed = check(await client.mutation(SIGN_IN, CREDENTIALS).toPromise());
  const first = signed.signIn.token.accessToken;
  const me = check(await client.query(ME, {}, bearer(first)).toPromise());
  const refreshed = check(await client.mutation(REFRESH, {}, bearer(first)).toPromise());
  const second = refreshed.refreshToken.token.accessToken;
  const again = check(await client.query(ME, {}, bearer(second)).toPromise());
  const adminHeaders = { fetchOptions: { headers: { "x-api-key": adminKey } } };
  const members = check(await client.query(MEMBERS, {}, adminHeaders).toPromise());
  return {
    email: me.me.email,
    points: me.me.loyalty.points,
    refreshed: second !== first,
    emailAfterRefresh: again.me.email,
    members: members.customers.totalCount,
  };
}

// A plain fetch, to see what a page may read of an answer (status, body, exposed headers).
async function rawFetch(url, body, headers = {}) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  return {
    status: response.status,
    body: await response.json(),
    requestId: response.headers.get("x-request-id"),
  };
}

window.clients = { apolloFlow, urqlFlow, rawFetch };
document.body.dataset.ready = "true";
