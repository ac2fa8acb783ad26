// The hub's GraphQL over fetch, as its pages talk to it (the street office's map, the owners'
// voting page): one bearer token per request, every failure worded in Chinese for the page to
// show, and a token the hub refuses (HTTP 401) as a SignInError, on which a page signs out.
(function () {
  "use strict";

  class SignInError extends Error {}

  async function graphql(url, token, query, variables) {
    let response;
    try {
      response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify({ query, variables: variables || {} }),
      });
    } catch (error) {
      throw new Error(`无法连接平台：${error.message}`);
    }
    let body = null;
    try {
      body = await response.json();
    } catch (error) {
      throw new Error(`平台返回了无法解析的应答（HTTP ${response.status}）`);
    }
    if (response.status === 401) throw new SignInError(body.reason || "令牌无效");
    if (response.status === 429) throw new Error("请求过于频繁，请稍后再试");
    if (!response.ok) throw new Error(body.reason || `HTTP ${response.status}`);
    if (body.errors && body.errors.length) throw new Error(body.errors.map((error) => error.message).join("；"));
    return body.data;
  }

  window.HubApi = Object.freeze({ SignInError, graphql });
})();
