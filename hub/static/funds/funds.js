/* The maintenance-fund page (served at /funds by hub.funds.page), in two views:
 *
 * 收支公示 (`/funds?estate=…&period=…`): an estate's statement for a period (`fundStatement`):
 *   the period's head (published, or provisional while it is not), the figures in yuan written
 *   from integer fen, the repair projects with their authority (an emergency use flagged), and a
 *   print button; the print stylesheet lays it out on A4 with a footer naming the journal's
 *   entries and the head's root, so a printed copy can be checked against the published head.
 *   The head's signature and its consistency with the previous period's head are checked here.
 * 我的维修资金 (`/funds?view=mine`, owners): each of the owner's houses (`me.roots`: an owner's
 *   scope is its houses) with its account (`fundAccount`): balance, entries, and the last entry's
 *   inclusion proof checked in the browser:
 *     1. the leaf hash SM3(0x00 ‖ payload) recomputed from the payload, which must name the house
 *        and the entry shown;
 *     2. the path walked from that leaf to the head's root (RFC 9162 §2.1.3.2);
 *     3. the head signed with the hub's SM2 key (the page's settings carry it): its signed text
 *        names the head's log, size, root, time and kind, and the signature holds.
 *
 * Sign in with a token (kept in sessionStorage for this tab only); everything comes from /graphql
 * with `Authorization: Bearer …`. The checks are hub/static/shared/tree-check.js (the voting
 * page's too), SM2 and SM3 the vendored sm-crypto's. The server decides what the token may see.
 */
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("hub-funds-config").textContent);
  const TOKEN_KEY = "hub-funds-token";
  const ZONE = "Asia/Shanghai";
  const PERIOD = /^20[0-9]{2}-(0[1-9]|1[0-2]|Q[1-4]|H[12]|Y)$/;
  const ESTATE = /^[0-9A-Z]{10,40}$/;

  const { SignInError } = window.HubApi; // hub/static/shared/hub-api.js
  const { leafHash, checkInclusion, checkConsistency, checkHead } = window.HubTree; // hub/static/shared/tree-check.js

  const HEAD_FIELDS = "log size root at kind signature publicKey signedText";
  const ME = "{ me { role roleLabel name roots { code name level } } }";
  const ESTATES = "{ places(level: ESTATE, first: 100) { edges { node { code name } } } }";
  const STATEMENT = `query Statement($estate: String!, $period: String!) { fundStatement(estate: $estate, period: $period) {
    estate estateName period start end fromSize toSize published entries accounts reversals
    openingFen depositsFen topUpsFen interestFen repairsFen closingFen
    head { ${HEAD_FIELDS} } previousHead { ${HEAD_FIELDS} } consistency { fromSize toSize path fromRoot toRoot }
    projects { id part title budgetFen costFen authority authorityText emergencyUse emergency status raisedAt completedAt caseId }
    revenue { incomeFen costFen ownersShareFen toFundFen againstFeesFen paidOutFen keptFen unconfirmed
      entries { index kind kindLabel at amountFen sourceLabel contract periodStart periodEnd costItem disposition target memo status statusLabel } }
  } }`;
  const ACCOUNT_FIELDS = `house estate balanceFen balanceYuan firstDepositFen low entries lastIndex lastAt
    history { index kind label amountFen amountYuan at ref memo }
    proof { log index payload leafHash path entry { index kind label amountFen amountYuan at } head { ${HEAD_FIELDS} } }`;

  const FIGURES = [
    ["opening", "期初余额", "openingFen"],
    ["deposits", "首次缴存", "depositsFen"],
    ["topUps", "续筹", "topUpsFen"],
    ["interest", "利息", "interestFen"],
    ["repairs", "维修支出", "repairsFen"],
    ["closing", "期末余额", "closingFen"],
  ];
  const REVENUE_FIGURES = [
    ["income", "收入", "incomeFen"],
    ["cost", "成本", "costFen"],
    ["share", "业主共有收益（收入 − 成本）", "ownersShareFen"],
    ["toFund", "转入维修资金", "toFundFen"],
    ["againstFees", "抵扣物业费", "againstFeesFen"],
    ["paidOut", "分配给业主", "paidOutFen"],
    ["kept", "留存", "keptFen"],
  ];
  const DISPOSITIONS = { FUND: "转入维修资金", FEES: "抵扣物业费", PAID_OUT: "分配给业主", KEPT: "留存" };
  const STATUS_LABELS = { APPROVED: "已批准", COMPLETED: "已完成", CANCELLED: "已取消" };
  const KIND_CLASSES = { DEPOSIT: "credit", TOP_UP: "credit", INTEREST: "credit", REPAIR: "debit", REVERSAL: "reversal" };

  const $ = (id) => document.getElementById(id);

  /** An element with attributes (`class`, `data-*`, `aria-*`, properties otherwise) and children. */
  function h(tag, attributes, ...children) {
    const element = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") element.className = value;
      else if (name.startsWith("data-") || name.startsWith("aria-") || name === "scope" || name === "role") element.setAttribute(name, String(value));
      else element[name] = value;
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      element.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return element;
  }

  /** Integer fen as yuan text with thousands separators, exactly (hub.funds.statement_text.yuan):
   * 123456 → "1,234.56", -5 → "-0.05". Not an integer: "—". */
  function yuan(fen) {
    if (!Number.isSafeInteger(fen)) return "—";
    const sign = fen < 0 ? "-" : "";
    const cents = BigInt(Math.abs(fen));
    const whole = (cents / 100n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return `${sign}${whole}.${(cents % 100n).toString().padStart(2, "0")}`;
  }

  /** A time as China Standard Time: 2026-11-20 14:05 (or the date alone). */
  function cst(iso, dateOnly) {
    if (!iso) return "—";
    const parts = Object.fromEntries(
      new Intl.DateTimeFormat("en-GB", { timeZone: ZONE, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" })
        .formatToParts(new Date(iso))
        .map((part) => [part.type, part.value])
    );
    const date = `${parts.year}-${parts.month}-${parts.day}`;
    return dateOnly ? date : `${date} ${parts.hour}:${parts.minute}`;
  }

  /** The last day of a period whose end (exclusive) is `iso`. */
  function lastDay(iso) {
    return cst(new Date(new Date(iso).getTime() - 1).toISOString(), true);
  }

  function headKind(kind) {
    if (kind.startsWith("period:")) return `${kind.slice(7)} 期公示树头`;
    if (kind === "proof") return "本期尚未公布，平台即时签发的树头";
    return kind;
  }

  const state = {
    token: sessionStorage.getItem(TOKEN_KEY),
    me: null,
    estates: [], // [{code, name}] the reader may pick
    loads: 0,
    statement: null,
    footerRule: null, // the @page rule pageFooter added
  };

  // -- talking to the hub ----------------------------------------------------------------------
  function gql(query, variables) {
    return window.HubApi.graphql(config.graphql, state.token, query, variables);
  }

  function notice(message) {
    const box = $("notice");
    box.textContent = message || "";
    box.hidden = !message;
  }

  function failed(error) {
    if (error instanceof SignInError) {
      signOut(`令牌无效，已被平台拒绝：${error.message}`);
      return;
    }
    notice(`加载失败：${error.message}`);
    document.body.dataset.state = "ready";
  }

  // -- signing in and out ----------------------------------------------------------------------
  async function signIn(candidate) {
    state.token = candidate.trim();
    if (!state.token) {
      showSignIn("请先粘贴令牌");
      return;
    }
    let data;
    try {
      data = await gql(ME);
    } catch (error) {
      state.token = null;
      sessionStorage.removeItem(TOKEN_KEY);
      showSignIn(error instanceof SignInError ? `令牌无效，已被平台拒绝：${error.message}` : `登录失败：${error.message}`);
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, state.token);
    state.me = data.me;
    $("signin").hidden = true;
    $("signout").hidden = false;
    $("who").textContent = `${data.me.roleLabel} · ${data.me.name}`;
    try {
      state.estates = await readableEstates();
    } catch (error) {
      failed(error);
      return;
    }
    await route();
  }

  function signOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    state.token = null;
    state.me = null;
    state.estates = [];
    state.statement = null;
    $("who").textContent = "";
    $("accounts").replaceChildren();
    clearStatement();
    $("statement-view").hidden = true;
    $("mine-view").hidden = true;
    $("signout").hidden = true;
    notice("");
    showSignIn(message || "");
  }

  function showSignIn(message) {
    $("signin").hidden = false;
    const box = $("signin-error");
    box.textContent = message || "";
    box.hidden = !message;
    document.body.dataset.state = "signed-out";
    delete document.body.dataset.view;
  }

  /** The estates whose statements the reader may pick: an owner's from its houses' accounts
   * (its scope holds the houses, not the estate), anyone else's from its scope. */
  async function readableEstates() {
    if (state.me.role === "owner") {
      const houses = ownerHouses();
      if (!houses.length) return [];
      const data = await gql(accountsQuery(houses, "estate"), accountVariables(houses));
      const codes = [...new Set(houses.map((_, at) => data[`h${at}`]).filter(Boolean).map((account) => account.estate))];
      return codes.sort().map((code) => ({ code, name: code }));
    }
    const data = await gql(ESTATES);
    return data.places.edges.map((edge) => edge.node);
  }

  function ownerHouses() {
    return (state.me.roots || []).filter((place) => place.level === "HOUSE");
  }

  // -- which view ------------------------------------------------------------------------------
  function wanted() {
    const query = new URLSearchParams(location.search);
    return {
      view: query.get("view") === "mine" ? "mine" : "statement",
      estate: query.get("estate") || "",
      period: query.get("period") || "",
    };
  }

  function go(params) {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) if (value) query.set(name, value);
    const search = query.toString();
    history.pushState(null, "", search ? `/funds?${search}` : "/funds");
    route();
  }

  async function route() {
    if (!state.token || !state.me) return;
    const want = wanted();
    const load = ++state.loads;
    document.body.dataset.state = "loading";
    notice("");
    for (const tab of document.querySelectorAll("#views a")) {
      if (tab.dataset.view === want.view) tab.setAttribute("aria-current", "page");
      else tab.removeAttribute("aria-current");
    }
    try {
      if (want.view === "mine") await showMine(load);
      else await showStatement(want, load);
    } catch (error) {
      if (load === state.loads) failed(error);
    }
  }

  // -- 收支公示 -------------------------------------------------------------------------------
  /** The periods to pick from, newest first: months of this year and last, then quarters,
   * halves and years; the last finished month first chosen. */
  function periods() {
    const now = new Date();
    const year = Number(cst(now.toISOString(), true).slice(0, 4));
    const month = Number(cst(now.toISOString(), true).slice(5, 7));
    const months = [];
    for (let y = year, m = month; months.length < 24; m -= 1) {
      if (m === 0) {
        m = 12;
        y -= 1;
      }
      months.push(`${y}-${String(m).padStart(2, "0")}`);
    }
    const groups = [["月度", months]];
    const quarters = [];
    const halves = [];
    for (const y of [year, year - 1]) {
      for (let q = 4; q >= 1; q -= 1) quarters.push(`${y}-Q${q}`);
      for (let half = 2; half >= 1; half -= 1) halves.push(`${y}-H${half}`);
    }
    groups.push(["季度", quarters], ["半年", halves], ["年度", [`${year}-Y`, `${year - 1}-Y`, `${year - 2}-Y`]]);
    return { groups, fallback: months[1] };
  }

  function periodLabel(label) {
    const [year, part] = label.split("-");
    if (part === "Y") return `${year}年度`;
    if (part.startsWith("H")) return `${year}年${part === "H1" ? "上" : "下"}半年`;
    if (part.startsWith("Q")) return `${year}年第${part.slice(1)}季度`;
    return `${year}年${Number(part)}月`;
  }

  function fillPickers(estate, period) {
    const estates = state.estates.slice();
    if (estate && !estates.some((e) => e.code === estate)) estates.push({ code: estate, name: estate });
    $("estate").replaceChildren(...estates.map((e) => h("option", { value: e.code, selected: e.code === estate }, e.name === e.code ? e.code : `${e.name}（${e.code}）`)));
    const { groups } = periods();
    if (period && !groups.some(([, labels]) => labels.includes(period))) groups.unshift(["所选", [period]]);
    $("period").replaceChildren(
      ...groups.map(([name, labels]) => h("optgroup", { label: name }, labels.map((label) => h("option", { value: label, selected: label === period }, periodLabel(label)))))
    );
  }

  function clearStatement() {
    state.statement = null;
    for (const id of ["statement-title", "statement-status", "statement-facts", "figures-check", "print-footer"]) $(id).replaceChildren();
    $("figures").tBodies[0].replaceChildren();
    $("projects").tBodies[0].replaceChildren();
    $("projects-empty").hidden = true;
    pageFooter(null);
    $("revenue-figures").tBodies[0].replaceChildren();
    $("revenue-entries").tBodies[0].replaceChildren();
    $("revenue-pending").replaceChildren();
    $("revenue").hidden = true;
    $("statement").hidden = true;
    $("print").disabled = true;
  }

  async function showStatement(want, load) {
    const estate = want.estate || (state.estates[0] && state.estates[0].code) || "";
    const period = want.period || periods().fallback;
    fillPickers(estate, period);
    clearStatement();
    $("mine-view").hidden = true;
    $("statement-view").hidden = false;
    document.body.dataset.view = "statement";
    if (!estate) {
      notice(state.me.role === "owner" ? "您的房屋还没有维修资金分户账，暂无可查看的收支公示" : "您的权限范围内没有小区");
      document.body.dataset.state = "ready";
      return;
    }
    if (!ESTATE.test(estate) || !PERIOD.test(period)) {
      notice(`无效的小区代码或期间：${estate} ${period}（期间形如 2026-11、2026-Q4、2026-H2、2026-Y）`);
      document.body.dataset.state = "ready";
      return;
    }
    const data = await gql(STATEMENT, { estate, period });
    if (load !== state.loads) return;
    renderStatement(data.fundStatement);
    document.body.dataset.state = "ready";
  }

  function renderStatement(s) {
    state.statement = s;
    const known = state.estates.find((e) => e.code === s.estate);
    if (known) known.name = s.estateName;
    const option = $("estate").querySelector(`option[value="${s.estate}"]`);
    if (option) option.textContent = `${s.estateName}（${s.estate}）`;
    document.title = `${s.estateName} 专项维修资金收支公示 ${s.period}`;

    $("statement-title").replaceChildren(`${s.estateName} 专项维修资金收支公示`);
    $("statement-status").replaceChildren(
      h("span", { class: "period" }, `${periodLabel(s.period)}（${cst(s.start, true)} 至 ${lastDay(s.end)}）`),
      s.published
        ? h("span", { class: "tag published", id: "published", "data-published": "true" }, "已公布")
        : h("span", { class: "tag provisional", id: "published", "data-published": "false" }, "暂定：本期树头尚未签名公布")
    );
    const facts = [
      ["小区代码", s.estate],
      ["账目序号", `${s.fromSize} 至 ${s.toSize - 1}（本期 ${s.entries} 条${s.reversals ? `，其中冲正 ${s.reversals} 条` : ""}）`],
      ["分户账", `${s.accounts} 户`],
    ];
    const headFacts = [];
    if (s.head) {
      headFacts.push(
        h("dt", {}, "树根"), h("dd", { class: "hash", id: "head-root" }, s.head.root),
        h("dt", {}, "签名"), h("dd", { class: "hash", id: "head-signature" }, `${s.head.signature.slice(0, 16)}…`),
        h("dt", {}, "签名时间"), h("dd", {}, cst(s.head.at)),
        h("dt", {}, "核验"), h("dd", { id: "head-check" }, headVerdict(s))
      );
    }
    $("statement-facts").replaceChildren(...facts.map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]).flat(), ...headFacts);

    $("figures").tBodies[0].replaceChildren(
      ...FIGURES.map(([key, label, field]) =>
        h("tr", { "data-figure": key, class: key === "closing" || key === "opening" ? "balance" : "" }, h("th", { scope: "row" }, label), h("td", { class: "amount" }, yuan(s[field])))
      )
    );
    const sum = s.openingFen + s.depositsFen + s.topUpsFen + s.interestFen - s.repairsFen;
    $("figures-check").replaceChildren(
      sum === s.closingFen
        ? "期初余额 + 首次缴存 + 续筹 + 利息 − 维修支出 = 期末余额（金额以分为单位记账，无四舍五入）"
        : h("strong", { class: "bad" }, `账目不平：期初加收入减支出为 ${yuan(sum)} 元，期末余额为 ${yuan(s.closingFen)} 元`)
    );

    const rows = s.projects.map((p) =>
      h(
        "tr",
        { "data-project": p.id, "data-emergency": String(p.emergencyUse), class: p.emergencyUse ? "emergency" : "" },
        h("td", {}, p.id),
        h("td", { class: "title" }, p.title),
        h("td", { class: "code" }, p.part),
        h("td", { class: "authority" }, p.emergencyUse ? h("span", { class: "tag emergency" }, "应急使用") : null, p.authorityText),
        h("td", { class: "amount" }, yuan(p.budgetFen)),
        h("td", { class: "amount" }, p.costFen === null ? "未结算" : yuan(p.costFen)),
        h("td", {}, STATUS_LABELS[p.status] || p.status)
      )
    );
    $("projects").tBodies[0].replaceChildren(...rows);
    $("projects").hidden = rows.length === 0;
    $("projects-empty").hidden = rows.length !== 0;

    renderRevenue(s.revenue);

    const footer = [`${s.estateName}（${s.estate}）${s.period} 收支公示`, `账目序号 ${s.fromSize}–${s.toSize - 1}，共 ${s.toSize} 条中的 ${s.entries} 条`];
    if (s.head) footer.push(`树根 ${s.head.root}`, `SM2 签名 ${s.head.signature.slice(0, 16)}…（${cst(s.head.at)}）`);
    else footer.push("暂定：本期树头尚未签名公布");
    footer.push(`平台公钥 ${config.publicKey.slice(0, 16)}…`);
    $("print-footer").replaceChildren(...footer.map((line) => h("span", {}, line)));
    pageFooter(`${s.estate} ${s.period} · 账目序号 ${s.fromSize}–${s.toSize - 1} · ${s.head ? `树根 ${s.head.root}` : "暂定，未签名公布"}`);
    $("statement").hidden = false;
    $("print").disabled = false;
  }

  /** The line in every printed page's bottom margin (@page @bottom-left): the CSS rule is
   * added to the page's own stylesheet through the CSSOM (the policy allows no inline style),
   * replacing the one for the statement shown before; null text removes it. */
  function pageFooter(text) {
    const sheet = [...document.styleSheets].find((found) => (found.href || "").endsWith("/static/funds/funds.css"));
    if (!sheet) return;
    const before = [...sheet.cssRules].indexOf(state.footerRule);
    if (before >= 0) sheet.deleteRule(before);
    state.footerRule = null;
    if (!text) return;
    const quoted = `"${String(text).replace(/["\\\n]/g, " ")}"`;
    const at = sheet.insertRule(`@page { @bottom-left { content: ${quoted}; font-size: 7pt; color: #1f2933; } }`, sheet.cssRules.length);
    state.footerRule = sheet.cssRules[at];
  }

  /** Public revenue (公共收益) entered in the period: the sums, and each of the firm's entries
   * with whether the committee confirmed it; unconfirmed entries are shown as such. */
  function renderRevenue(revenue) {
    $("revenue").hidden = !revenue;
    if (!revenue) return;
    $("revenue-figures").tBodies[0].replaceChildren(
      ...REVENUE_FIGURES.map(([key, label, field]) =>
        h("tr", { "data-figure": key, class: key === "share" ? "balance" : "" }, h("th", { scope: "row" }, label), h("td", { class: "amount" }, yuan(revenue[field])))
      )
    );
    const pending = $("revenue-pending");
    pending.hidden = revenue.unconfirmed === 0;
    pending.dataset.unconfirmed = String(revenue.unconfirmed);
    pending.replaceChildren(`本期有 ${revenue.unconfirmed} 笔由物业录入、尚未经业主委员会确认的收益账目，金额以确认为准`);
    $("revenue-entries").tBodies[0].replaceChildren(
      ...revenue.entries.map((entry) =>
        h(
          "tr",
          { "data-index": entry.index, "data-status": entry.status, class: entry.status === "UNCONFIRMED" ? "unconfirmed" : "" },
          h("td", {}, entry.index),
          h("td", {}, cst(entry.at, true)),
          h("td", {}, entry.kindLabel),
          h("td", {}, revenueDetail(entry)),
          h("td", { class: "amount" }, yuan(entry.amountFen)),
          h("td", {}, entry.status === "UNCONFIRMED" ? h("span", { class: "tag unconfirmed" }, entry.statusLabel) : entry.statusLabel)
        )
      )
    );
  }

  function revenueDetail(entry) {
    const parts = [];
    if (entry.sourceLabel) parts.push(entry.sourceLabel);
    if (entry.contract) parts.push(`合同 ${entry.contract}`);
    if (entry.periodStart && entry.periodEnd) parts.push(`${entry.periodStart} 至 ${entry.periodEnd}`);
    if (entry.costItem) parts.push(entry.costItem);
    if (entry.disposition) parts.push(DISPOSITIONS[entry.disposition] || entry.disposition);
    if (entry.kind === "REVERSAL" && entry.target !== null) parts.push(`冲正第 ${entry.target} 笔`);
    if (entry.memo) parts.push(entry.memo);
    return parts.join("；");
  }

  /** The published head's signature (with the hub's key) and, when there is a previous period,
   * the consistency proof between the two heads, checked here. */
  function headVerdict(s) {
    const problems = [];
    const own = headProblem(s.head);
    if (own) problems.push(own);
    if (s.previousHead) {
      const before = headProblem(s.previousHead);
      if (before) problems.push(`上期树头：${before}`);
      const c = s.consistency;
      const problem = !c
        ? "平台没有给出一致性证明"
        : checkConsistency(s.previousHead.size, s.head.size, s.previousHead.root, s.head.root, c.path);
      if (problem) problems.push(`与上期树头的一致性：${problem}`);
    }
    if (problems.length) return h("span", { class: "bad", "data-ok": "false" }, `未通过：${problems.join("；")}`);
    return h("span", { class: "good", "data-ok": "true" }, s.previousHead ? "签名有效，且本期账本是上期账本的延续" : "签名有效");
  }

  /** Why a head does not hold under the hub's own key, or null. */
  function headProblem(head) {
    if (!head) return "缺少树头";
    if (head.publicKey !== config.publicKey) return "树头不是用本平台的公钥签名的";
    return checkHead(head);
  }

  // -- 我的维修资金 -----------------------------------------------------------------------------
  function accountsQuery(houses, fields) {
    const variables = houses.map((_, at) => `$h${at}: String!`).join(", ");
    const asked = houses.map((_, at) => `h${at}: fundAccount(house: $h${at}) { ${fields} }`).join("\n");
    return `query Accounts(${variables}) { ${asked} }`;
  }

  function accountVariables(houses) {
    return Object.fromEntries(houses.map((house, at) => [`h${at}`, house.code]));
  }

  async function showMine(load) {
    clearStatement();
    $("statement-view").hidden = true;
    $("mine-view").hidden = false;
    document.body.dataset.view = "mine";
    $("key-note").replaceChildren(`平台公钥（SM2）：`, h("span", { class: "hash", id: "public-key" }, config.publicKey));
    if (state.me.role !== "owner") {
      $("accounts").replaceChildren(h("p", { class: "empty" }, `本视图供业主查看自己房屋的分户账，请使用业主令牌登录（当前令牌为：${state.me.roleLabel}）`));
      document.body.dataset.state = "ready";
      return;
    }
    const houses = ownerHouses();
    if (!houses.length) {
      $("accounts").replaceChildren(h("p", { class: "empty" }, "您名下没有登记的房屋"));
      document.body.dataset.state = "ready";
      return;
    }
    const data = await gql(accountsQuery(houses, ACCOUNT_FIELDS), accountVariables(houses));
    if (load !== state.loads) return;
    $("accounts").replaceChildren(...houses.map((house, at) => accountCard(house, data[`h${at}`])));
    document.body.dataset.state = "ready";
  }

  function accountCard(house, account) {
    const parts = [h("h3", {}, house.name, h("span", { class: "meta code" }, `　${house.code}`))];
    if (!account) {
      parts.push(h("p", { class: "empty" }, "本户尚无维修资金账目"));
      return h("section", { class: "account", "data-house": house.code, "data-empty": "true" }, parts);
    }
    parts.push(
      h(
        "p",
        { class: "balance" },
        "账户余额 ",
        h("strong", { class: "balance-yuan", "data-fen": String(account.balanceFen) }, `¥${yuan(account.balanceFen)}`),
        " 元",
        account.low ? h("span", { class: "tag low" }, "余额不足首次缴存的30%，应续筹") : null
      ),
      h("p", { class: "meta" }, `首次缴存 ${yuan(account.firstDepositFen)} 元 · ${account.entries} 笔账目 · 最近 ${cst(account.lastAt)}`),
      h(
        "table",
        { class: "entries sheet" },
        h("thead", {}, h("tr", {}, ["序号", "日期", "类别", "金额（元）", "摘要"].map((text) => h("th", { scope: "col", class: text.startsWith("金额") ? "amount" : "" }, text)))),
        h(
          "tbody",
          {},
          account.history.map((entry) =>
            h(
              "tr",
              { "data-index": entry.index, class: KIND_CLASSES[entry.kind] || "" },
              h("td", {}, entry.index),
              h("td", {}, cst(entry.at, true)),
              h("td", {}, entry.label),
              h("td", { class: "amount" }, yuan(entry.amountFen)),
              h("td", { class: "memo" }, entry.memo || entry.ref)
            )
          )
        )
      ),
      proofBox(house, account)
    );
    return h("section", { class: "account", "data-house": house.code }, parts);
  }

  function proofBox(house, account) {
    const proof = account.proof;
    const box = h("div", { class: "proof" }, h("h4", {}, "最后一笔账目的包含证明"));
    if (!proof) {
      box.append(h("p", { class: "empty" }, "平台没有给出证明"));
      return box;
    }
    const steps = checkProof(house.code, account, proof);
    const first = steps.find((step) => !step.ok);
    box.append(
      first
        ? h("p", { class: "verdict bad", "data-ok": "false", "data-step": first.name }, `核验未通过：${first.name} —— ${first.detail}`)
        : h("p", { class: "verdict good", "data-ok": "true" }, "核验通过：本户最后一笔账目记在平台签名的账本中，未被改动"),
      h(
        "ol",
        { class: "steps" },
        steps.map((step) => h("li", { class: step.ok ? "ok" : "bad", "data-ok": String(step.ok), "data-step": step.name }, `${step.ok ? "✓" : "✗"} ${step.name}：${step.detail}`))
      ),
      h(
        "details",
        { class: "proof-detail" },
        h("summary", {}, "证明详情"),
        h(
          "dl",
          { class: "head" },
          h("dt", {}, "账本"), h("dd", {}, proof.log),
          h("dt", {}, "序号"), h("dd", {}, `${proof.index}（树中共 ${proof.head.size} 条）`),
          h("dt", {}, "叶哈希"), h("dd", { class: "hash" }, proof.leafHash),
          h("dt", {}, "路径"), h("dd", { class: "hash path" }, proof.path.length ? proof.path.map((node) => h("span", {}, node)) : "（无：树中只有这一条）"),
          h("dt", {}, "树头"), h("dd", {}, `${headKind(proof.head.kind)} · ${cst(proof.head.at)}`),
          h("dt", {}, "树根"), h("dd", { class: "hash proof-root" }, proof.head.root),
          h("dt", {}, "签名"), h("dd", { class: "hash" }, proof.head.signature)
        )
      )
    );
    return box;
  }

  /** The three steps of the module docstring, each {name, ok, detail}. */
  function checkProof(houseCode, account, proof) {
    const steps = [];
    const last = account.history.length ? account.history[account.history.length - 1] : null;
    const computed = leafHash(String(proof.payload));
    let problem = null;
    let body = null;
    try {
      body = JSON.parse(proof.payload);
    } catch (error) {
      problem = "载荷不是 JSON";
    }
    if (!problem && computed !== proof.leafHash) problem = `由载荷重算的叶哈希 ${computed.slice(0, 16)}… 与平台给出的 ${String(proof.leafHash).slice(0, 16)}… 不符`;
    else if (!problem && body.house !== houseCode) problem = `载荷记的是房屋 ${body.house}，不是本户`;
    else if (!problem && (!last || proof.index !== last.index || body.amount_fen !== last.amountFen)) problem = "载荷与分户账中最后一笔账目不符";
    steps.push({ name: "第1步 重算叶哈希", ok: !problem, detail: problem || `序号 ${proof.index} 的载荷重算得叶哈希 ${computed.slice(0, 16)}…，与账目相符` });

    const head = proof.head;
    problem = head && proof.log === head.log ? checkInclusion(computed, proof.index, head.size, proof.path, head.root) : "证明与树头不属于同一账本";
    steps.push({ name: "第2步 包含证明", ok: !problem, detail: problem || `经 ${proof.path.length} 个节点到达树根 ${head.root.slice(0, 16)}…` });

    problem = headProblem(head);
    steps.push({ name: "第3步 树头签名", ok: !problem, detail: problem || `${headKind(head.kind)}（${head.size} 条）由本平台公钥签名，签名有效` });
    return steps;
  }

  // -- start -----------------------------------------------------------------------------------
  $("signin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const field = $("token");
    const candidate = field.value;
    field.value = "";
    signIn(candidate);
  });
  $("signout").addEventListener("click", () => signOut("已退出"));
  $("pickers").addEventListener("submit", (event) => {
    event.preventDefault();
    go({ estate: $("estate").value, period: $("period").value });
  });
  for (const picker of ["estate", "period"]) $(picker).addEventListener("change", () => go({ estate: $("estate").value, period: $("period").value }));
  $("print").addEventListener("click", () => window.print());
  for (const tab of document.querySelectorAll("#views a")) {
    tab.addEventListener("click", (event) => {
      event.preventDefault();
      const now = wanted();
      if (tab.dataset.view === "mine") go({ view: "mine" });
      else go({ estate: now.estate, period: now.period });
    });
  }
  window.addEventListener("popstate", () => route());

  if (state.token) signIn(state.token);
  else showSignIn("");
})();
