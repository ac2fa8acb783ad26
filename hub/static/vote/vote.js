/* The owners' voting page (served at /vote by hub.vote).
 *
 * Sign in with an owner's token (kept in sessionStorage for this tab only); every vote, ballot and
 * proof comes from /graphql with `Authorization: Bearer …`. The list shows the votes of the
 * owner's houses (`myVotes`): open first, then announced, then closed. A vote shows its
 * documents and items and, per house of the owner (`myHouses`), a ballot to cast or change until
 * the close. Each `BallotReceipt` is kept in localStorage under the vote and the house; after the
 * close the page checks every kept receipt here, in the browser, against the signed final head:
 *
 *   1. the leaf hash of each entry, SM3(0x00 ‖ payload), recomputed from the payload;
 *   2. each entry's inclusion in the final tree (RFC 9162 §2.1.3.2), walked to the final root;
 *   3. the final tree extends the tree of the receipt's head (RFC 9162 §2.1.4.2);
 *   4. both heads' SM2 signatures over their signed text (signer ID 1234567812345678), the text
 *      naming the same log, size and root as the head, signed with one and the same key.
 *
 * SM2 and SM3 are sm-crypto's (vendored, hub/static/vendor/sm-crypto); the tree walks and the head
 * check are the hub's pages' shared ones (hub/static/shared/tree-check.js).
 * The server decides what the token may see and do: the page only asks.
 */
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("hub-vote-config").textContent);
  const TOKEN_KEY = "hub-vote-token";
  const RECEIPT_PREFIX = "hub-vote-receipts:";

  const STATUS_LABELS = { OPEN: "投票中", NOTICED: "已公告", CLOSED: "已结束", CANCELLED: "已取消" };
  const GROUPS = [
    ["OPEN", "正在投票"],
    ["NOTICED", "即将开始"],
    ["CLOSED", "已结束"],
  ];
  const FORM_LABELS = { MOTION: "议案表决", ELECTION: "选举", FIRM_CHOICE: "选聘物业服务企业" };
  const MOTION_CHOICES = [
    ["for", "同意"],
    ["against", "反对"],
    ["abstain", "弃权"],
  ];
  const CHOICE_LABELS = { for: "同意", against: "反对", abstain: "弃权" };

  const HEAD_FIELDS = "log size root at kind signature publicKey signedText";
  const CARD_FIELDS = `id title placeName status noticeAt opensAt closesAt openedAt closedAt firstMeeting
    organiser { role name capacity } electorate { houses heads area }`;
  const TALLY = "houses heads area";
  const ME = "{ me { role roleLabel name } }";
  const MY_VOTES = `{ myVotes { ${CARD_FIELDS} } }`;
  const VOTE = `query Vote($id: ID!) { vote(id: $id) { ${CARD_FIELDS} recordDate
    documents { title text ref }
    items { number klass classLabel form title text seats takesEffect rule candidates { id name firmCode } }
    turnout { item houses heads areaCentiM2 }
    myHouses { houseCode houseName area viaProxy castBy canCast choices { item choice candidates } }
    result { ballots items { number klass form title rule quorum passed participation { ${TALLY} }
      choices { choice tally { ${TALLY} } } candidates { id name carried elected tally { ${TALLY} } }
      elected tied openSeats } }
  } }`;
  const FINAL_HEAD = `query Final($id: ID!) { vote(id: $id) { status heads(kind: "final") { ${HEAD_FIELDS} } } }`;
  const CAST = `mutation Cast($vote: ID!, $house: String!, $choices: [ChoiceInput!]!) {
    castBallot(vote: $vote, house: $house, choices: $choices) {
      vote houseCode entries { item index leafHash payload } head { ${HEAD_FIELDS} }
    }
  }`;

  const { SignInError } = window.HubApi; // hub/static/shared/hub-api.js
  const { leafHash, checkInclusion, checkConsistency, checkHead } = window.HubTree; // hub/static/shared/tree-check.js

  const $ = (id) => document.getElementById(id);
  const when = (iso) => (iso ? new Date(iso).toLocaleString("zh-CN", { hour12: false }) : "—");

  /** An element with attributes (`class`, `data-*`, properties otherwise) and children. */
  function h(tag, attributes, ...children) {
    const element = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") element.className = value;
      else if (name.startsWith("data-") || name.startsWith("aria-") || name === "for" || name === "role") element.setAttribute(name, String(value));
      else element[name] = value;
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      element.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return element;
  }

  function areaOf(centi) {
    // exact: centi-m² as an integer, shown as m² with two decimals
    const whole = Math.floor(centi / 100);
    return `${whole}.${String(centi - whole * 100).padStart(2, "0")}`;
  }

  const state = {
    token: sessionStorage.getItem(TOKEN_KEY),
    me: null,
    votes: [],
    vote: null, // the vote in view, as last read
    loads: 0,
    turn: null, // the timer that reads the vote in view again when it opens or closes
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
      showSignIn("请先粘贴业主令牌");
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
    if (data.me.role !== "owner") {
      state.token = null;
      sessionStorage.removeItem(TOKEN_KEY);
      showSignIn(`本页面供业主投票，请使用业主令牌登录（当前令牌为：${data.me.roleLabel}）`);
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, state.token);
    state.me = data.me;
    $("signin").hidden = true;
    $("signout").hidden = false;
    $("who").textContent = `${data.me.roleLabel} · ${data.me.name}`;
    await route();
  }

  function signOut(message) {
    clearTimeout(state.turn);
    sessionStorage.removeItem(TOKEN_KEY);
    state.token = null;
    state.me = null;
    state.votes = [];
    state.vote = null;
    $("who").textContent = "";
    $("groups").replaceChildren();
    clearVote();
    $("list").hidden = true;
    $("vote").hidden = true;
    $("back").hidden = true;
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

  // -- which view: the list (#) or one vote (#/<id>) -------------------------------------------
  function wanted() {
    const match = /^#\/(.+)$/.exec(location.hash);
    return match ? decodeURIComponent(match[1]) : null;
  }

  async function route() {
    clearTimeout(state.turn);
    if (!state.token || !state.me) return;
    const id = wanted();
    const load = ++state.loads;
    document.body.dataset.state = "loading";
    notice("");
    try {
      if (id === null) await showList(load);
      else await showVote(id, load);
    } catch (error) {
      if (load === state.loads) failed(error);
    }
  }

  // -- the list --------------------------------------------------------------------------------
  function ordered(votes, status) {
    const chosen = votes.filter((vote) => (status === "CLOSED" ? vote.status === "CLOSED" || vote.status === "CANCELLED" : vote.status === status));
    const time = (iso) => new Date(iso).getTime();
    if (status === "OPEN") return chosen.sort((a, b) => time(a.closesAt) - time(b.closesAt));
    if (status === "NOTICED") return chosen.sort((a, b) => time(a.opensAt) - time(b.opensAt));
    return chosen.sort((a, b) => time(b.closedAt || b.closesAt) - time(a.closedAt || a.closesAt));
  }

  function card(vote) {
    const lines = [
      h("p", { class: "meta" }, `地点：${vote.placeName}`),
      h("p", { class: "meta" }, `组织者：${vote.organiser.capacity} · ${vote.organiser.name}`),
      h("p", { class: "meta times" }, `投票时间：${when(vote.opensAt)} 至 ${when(vote.closesAt)}`),
    ];
    if (vote.status === "NOTICED") lines.push(h("p", { class: "opens" }, `将于 ${when(vote.opensAt)} 开始投票`));
    if (vote.status === "OPEN" && vote.electorate) {
      const e = vote.electorate;
      lines.push(h("p", { class: "electorate" }, `表决权：${e.houses} 户 · ${e.heads} 人 · 专有面积 ${e.area} m²`));
    }
    if (vote.status === "CLOSED") lines.push(h("p", { class: "meta" }, `已于 ${when(vote.closedAt)} 结束，可查看结果`));
    if (vote.status === "CANCELLED") lines.push(h("p", { class: "meta" }, "组织者已取消本次表决"));
    return h(
      "li",
      { class: "card", "data-id": vote.id, "data-status": vote.status },
      h(
        "a",
        { href: `#/${encodeURIComponent(vote.id)}` },
        h("span", { class: `tag status-${vote.status}` }, STATUS_LABELS[vote.status] || vote.status),
        vote.firstMeeting ? h("span", { class: "tag first" }, "首次业主大会") : null,
        h("strong", { class: "title" }, vote.title),
        lines
      )
    );
  }

  async function showList(load) {
    const data = await gql(MY_VOTES);
    if (load !== state.loads) return;
    state.votes = data.myVotes;
    state.vote = null;
    clearVote();
    const sections = GROUPS.map(([status, label]) => {
      const votes = ordered(state.votes, status);
      return h(
        "section",
        { class: "group", "data-status": status },
        h("h2", {}, `${label}（${votes.length}）`),
        votes.length ? h("ol", { class: "cards" }, votes.map(card)) : h("p", { class: "empty" }, "暂无")
      );
    });
    $("groups").replaceChildren(...sections);
    $("list").hidden = false;
    $("vote").hidden = true;
    $("back").hidden = true;
    document.body.dataset.view = "list";
    document.body.dataset.state = "ready";
  }

  // -- one vote --------------------------------------------------------------------------------
  function clearVote() {
    for (const id of ["vote-head", "document-list", "item-list", "house-list", "result-body"]) $(id).replaceChildren();
  }

  async function showVote(id, load) {
    const data = await gql(VOTE, { id });
    if (load !== state.loads) return;
    const vote = data.vote;
    if (!vote) {
      notice("没有找到这次表决，或您的房屋不在其表决范围内");
      location.hash = "";
      return;
    }
    state.vote = vote;
    renderVote(vote);
    watchTurn(vote);
    $("list").hidden = true;
    $("vote").hidden = false;
    $("back").hidden = false;
    document.body.dataset.view = "vote";
    document.body.dataset.state = "ready";
  }

  /** Read the vote again just after it opens or closes (the hub opens and closes it on the first
   * read after its time), so the ballot appears and goes without a reload. */
  function watchTurn(vote) {
    const at = vote.status === "NOTICED" ? vote.opensAt : vote.status === "OPEN" ? vote.closesAt : null;
    if (!at) return;
    const wait = new Date(at).getTime() - Date.now() + 1500;
    if (wait > 0 && wait < 2 ** 31 - 1) state.turn = setTimeout(() => route(), wait);
  }

  function renderVote(vote) {
    const facts = [
      ["表决范围", vote.placeName],
      ["组织者", `${vote.organiser.capacity} · ${vote.organiser.name}`],
      ["公告时间", when(vote.noticeAt)],
      ["权属登记日", vote.recordDate],
      ["投票开始", when(vote.opensAt)],
      ["投票截止", when(vote.closesAt)],
    ];
    if (vote.closedAt) facts.push([vote.status === "CANCELLED" ? "取消时间" : "结束时间", when(vote.closedAt)]);
    if (vote.electorate) {
      const e = vote.electorate;
      facts.push(["表决权", `${e.houses} 户 · ${e.heads} 人 · 专有面积 ${e.area} m²`]);
    }
    $("vote-head").replaceChildren(
      h("h2", { id: "vote-title" }, vote.title),
      h(
        "p",
        {},
        h("span", { class: `tag status-${vote.status}`, id: "vote-status", "data-status": vote.status }, STATUS_LABELS[vote.status] || vote.status),
        vote.firstMeeting ? h("span", { class: "tag first" }, "首次业主大会") : null,
        h("button", { type: "button", class: "link", id: "refresh", onclick: () => route() }, "刷新")
      ),
      h("dl", { class: "facts" }, facts.map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)])),
      turnout(vote)
    );
    $("document-list").replaceChildren(
      ...vote.documents.map((document_) =>
        h(
          "details",
          { class: "document" },
          h("summary", {}, document_.title),
          document_.text ? h("p", { class: "text" }, document_.text) : null,
          document_.ref ? h("p", { class: "meta" }, `附件：${document_.ref}`) : null
        )
      )
    );
    $("documents").hidden = vote.documents.length === 0;
    $("item-list").replaceChildren(...vote.items.map(itemCard));
    renderHouses(vote);
    renderResult(vote);
  }

  function turnout(vote) {
    if (vote.status !== "OPEN" || !vote.turnout.length) return null;
    return h(
      "div",
      { class: "turnout" },
      h("h3", {}, "当前参与情况"),
      h(
        "ul",
        {},
        vote.turnout.map((row) =>
          h("li", { "data-item": row.item }, `第${row.item}项：${row.houses} 户 · ${row.heads} 人 · ${areaOf(row.areaCentiM2)} m²`)
        )
      )
    );
  }

  function itemCard(item) {
    const parts = [
      h("h4", {}, `第${item.number}项　${item.title}`),
      h("p", { class: "labels" }, h("span", { class: "tag klass" }, `第${item.klass}类 · ${item.classLabel}`), h("span", { class: "tag form" }, FORM_LABELS[item.form] || item.form)),
      item.text ? h("p", { class: "text" }, item.text) : null,
    ];
    if (item.form === "ELECTION") parts.push(h("p", { class: "meta" }, `应选 ${item.seats} 名，最多可选 ${item.seats} 名候选人`));
    if (item.candidates.length) {
      parts.push(h("ul", { class: "candidates" }, item.candidates.map((c) => h("li", { "data-candidate": c.id }, `${c.id}. ${c.name}`))));
    }
    if (item.takesEffect) parts.push(h("p", { class: "meta" }, `选定的物业服务企业自 ${item.takesEffect} 起接管`));
    parts.push(h("p", { class: "rule" }, `通过规则：${item.rule}`));
    return h("li", { class: "item", "data-item": item.number }, parts);
  }

  // -- the owner's houses and ballots ----------------------------------------------------------
  function choiceText(item, counted) {
    if (!item) return counted.choice || counted.candidates.join("、");
    if (item.form === "MOTION") return CHOICE_LABELS[counted.choice] || counted.choice;
    const name = (id) => {
      const found = item.candidates.find((c) => c.id === id);
      return found ? found.name : id;
    };
    if (item.form === "ELECTION") return counted.candidates.length ? counted.candidates.map(name).join("、") : "弃权";
    return counted.choice === "abstain" ? "弃权" : name(counted.choice);
  }

  function houseState(vote, house) {
    // someone else holds the house's ballot: a co-owner, or the delegate of a registered proxy
    if (house.castBy === "co-owner") return ["locked", "本户已由其他共有人投票，已锁定，您不能再投票"];
    if (house.castBy === "proxy") return ["locked", "本户已由受托代理人投票，已锁定，您不能再投票"];
    if (house.castBy === "you") {
      return vote.status === "OPEN"
        ? ["cast", "本户已投票。截止前可以修改，以最后一次提交为准"]
        : ["cast", "本户已投票"];
    }
    if (vote.status === "NOTICED") return ["waiting", `表决尚未开始，将于 ${when(vote.opensAt)} 开始投票`];
    if (vote.status === "CANCELLED") return ["closed", "本次表决已取消"];
    if (vote.status === "CLOSED") return ["closed", "本户未在截止前投票"];
    if (!house.canCast) return ["delegated", "本户已委托他人代为投票，您不能再为本户投票"];
    return ["open", "本户尚未投票"];
  }

  function renderHouses(vote) {
    const houses = vote.myHouses;
    $("houses").hidden = houses.length === 0 && vote.status !== "OPEN" && vote.status !== "NOTICED";
    if (!houses.length) {
      $("house-list").replaceChildren(
        h("p", { class: "empty" }, vote.electorate ? "您在权属登记日没有本次表决范围内的房屋" : "表决开始后，这里显示您可以投票的房屋")
      );
      return;
    }
    $("house-list").replaceChildren(...houses.map((house) => houseCard(vote, house)));
  }

  function houseCard(vote, house) {
    const [kind, text] = houseState(vote, house);
    const items = new Map(vote.items.map((item) => [item.number, item]));
    const parts = [
      h(
        "h4",
        {},
        house.houseName,
        h("span", { class: "meta" }, `　${house.area} m²`),
        house.viaProxy ? h("span", { class: "tag proxy" }, "受托代投") : null
      ),
      h("p", { class: `house-state ${kind}`, "data-kind": kind }, text),
    ];
    if (house.choices.length) {
      parts.push(
        h("p", { class: "meta" }, "计入的选择："),
        h(
          "ul",
          { class: "counted" },
          house.choices.map((counted) =>
            h("li", { "data-item": counted.item }, `第${counted.item}项：${choiceText(items.get(counted.item), counted)}`)
          )
        )
      );
    }
    if (vote.status === "OPEN" && house.canCast) parts.push(ballotForm(vote, house));
    parts.push(receiptBox(vote, house));
    return h("section", { class: "house", "data-house": house.houseCode, "data-kind": kind }, parts);
  }

  function ballotForm(vote, house) {
    const counted = new Map(house.choices.map((choice) => [choice.item, choice]));
    const prefix = `b-${house.houseCode}`;
    const fields = vote.items.map((item) => {
      const name = `${prefix}-${item.number}`;
      const before = counted.get(item.number);
      let options;
      if (item.form === "MOTION") {
        options = MOTION_CHOICES.map(([value, label]) =>
          h("label", { class: "option" }, h("input", { type: "radio", name, value, checked: Boolean(before && before.choice === value) }), label)
        );
      } else if (item.form === "ELECTION") {
        const chosen = new Set(before ? before.candidates : []);
        options = item.candidates.map((c) =>
          h("label", { class: "option" }, h("input", { type: "checkbox", name, value: c.id, checked: chosen.has(c.id) }), c.name)
        );
        options.push(h("p", { class: "hint" }, `最多选 ${item.seats} 名；一名也不选即为弃权`));
      } else {
        options = item.candidates.map((c) =>
          h("label", { class: "option" }, h("input", { type: "radio", name, value: c.id, checked: Boolean(before && before.choice === c.id) }), c.name)
        );
        options.push(h("label", { class: "option" }, h("input", { type: "radio", name, value: "abstain", checked: Boolean(before && before.choice === "abstain") }), "弃权"));
      }
      return h("fieldset", { class: "choice", "data-item": item.number, "data-form": item.form }, h("legend", {}, `第${item.number}项　${item.title}`), options);
    });
    const error = h("p", { class: "form-error", role: "alert", hidden: true });
    const submit = h("button", { type: "submit", class: "primary" }, house.castBy === "you" ? "修改表决" : "提交表决");
    const form = h("form", { class: "ballot", "data-house": house.houseCode }, fields, error, submit);
    form.addEventListener("change", (event) => limitSeats(vote, form, event.target));
    for (const item of vote.items) if (item.form === "ELECTION") limitSeats(vote, form, form.querySelector(`fieldset[data-item="${item.number}"] input`));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      cast(vote, house, form, error, submit);
    });
    return form;
  }

  function limitSeats(vote, form, input) {
    if (!input || input.type !== "checkbox") return;
    const fieldset = input.closest("fieldset");
    const item = vote.items.find((candidate) => String(candidate.number) === fieldset.dataset.item);
    const boxes = Array.from(fieldset.querySelectorAll("input[type=checkbox]"));
    const full = boxes.filter((box) => box.checked).length >= item.seats;
    for (const box of boxes) box.disabled = full && !box.checked;
  }

  function choicesOf(vote, form) {
    const choices = [];
    for (const item of vote.items) {
      const inputs = Array.from(form.querySelectorAll(`fieldset[data-item="${item.number}"] input`));
      const picked = inputs.filter((input) => input.checked).map((input) => input.value);
      if (item.form === "ELECTION") {
        if (picked.length > item.seats) throw new Error(`第${item.number}项最多选 ${item.seats} 名候选人`);
        choices.push({ item: item.number, candidates: picked });
      } else {
        if (picked.length !== 1) throw new Error(`请对第${item.number}项作出选择`);
        choices.push({ item: item.number, choice: picked[0] });
      }
    }
    return choices;
  }

  async function cast(vote, house, form, error, submit) {
    error.hidden = true;
    let choices;
    try {
      choices = choicesOf(vote, form);
    } catch (problem) {
      error.textContent = problem.message;
      error.hidden = false;
      return;
    }
    submit.disabled = true;
    try {
      const data = await gql(CAST, { vote: vote.id, house: house.houseCode, choices });
      keepReceipt(data.castBallot);
      notice(`已提交${house.houseName}的表决，回执已保存在本浏览器中`);
      await route();
    } catch (problem) {
      if (problem instanceof SignInError) {
        failed(problem);
        return;
      }
      error.textContent = `提交失败：${problem.message}`;
      error.hidden = false;
      submit.disabled = false;
    }
  }

  // -- receipts --------------------------------------------------------------------------------
  function receiptKey(voteId, house) {
    return `${RECEIPT_PREFIX}${voteId}:${house}`;
  }

  /** The receipts kept for a vote's house, oldest first; [] when none or unreadable. */
  function receipts(voteId, house) {
    const text = localStorage.getItem(receiptKey(voteId, house));
    if (!text) return [];
    try {
      const kept = JSON.parse(text);
      return Array.isArray(kept) ? kept : [];
    } catch (error) {
      return [];
    }
  }

  function keepReceipt(receipt) {
    const kept = receipts(receipt.vote, receipt.houseCode);
    kept.push(receipt);
    localStorage.setItem(receiptKey(receipt.vote, receipt.houseCode), JSON.stringify(kept));
  }

  function receiptBox(vote, house) {
    const kept = receipts(vote.id, house.houseCode);
    if (!kept.length) {
      if (house.castBy !== "you") return null;
      return h("p", { class: "meta no-receipt" }, "本浏览器中没有本户的投票回执（可能是在其他设备上投的票）");
    }
    const latest = kept[kept.length - 1];
    const entries = Array.isArray(latest.entries) ? latest.entries : [];
    const head = latest.head || {};
    const box = h(
      "div",
      { class: "receipt", "data-receipts": kept.length },
      h("h5", {}, kept.length > 1 ? `投票回执（共保存 ${kept.length} 份，下面是最近一份）` : "投票回执"),
      h(
        "table",
        { class: "entries" },
        h("thead", {}, h("tr", {}, h("th", {}, "事项"), h("th", {}, "序号"), h("th", {}, "叶哈希"))),
        h(
          "tbody",
          {},
          entries.map((entry) =>
            h("tr", { "data-item": entry.item, "data-index": entry.index }, h("td", {}, `第${entry.item}项`), h("td", {}, entry.index), h("td", { class: "hash" }, entry.leafHash))
          )
        )
      ),
      h(
        "dl",
        { class: "head" },
        h("dt", {}, "签名树头"),
        h("dd", {}, `${head.log} · 共 ${head.size} 条 · ${when(head.at)}`),
        h("dt", {}, "根哈希"),
        h("dd", { class: "hash" }, head.root),
        h("dt", {}, "SM2 签名"),
        h("dd", { class: "hash" }, head.signature),
        h("dt", {}, "公钥"),
        h("dd", { class: "hash" }, head.publicKey)
      )
    );
    if (vote.status === "CLOSED") {
      const report = h("div", { class: "check", "aria-live": "polite" });
      const button = h("button", { type: "button", class: "primary verify" }, "核验回执");
      button.addEventListener("click", async () => {
        button.disabled = true;
        report.replaceChildren(h("p", { class: "meta" }, "正在核验…"));
        try {
          const steps = await checkReceipts(vote.id, kept);
          showCheck(report, steps);
        } catch (error) {
          if (error instanceof SignInError) {
            failed(error);
            return;
          }
          showCheck(report, [{ name: "取得终态树头与证明", ok: false, detail: error.message }]);
        } finally {
          button.disabled = false;
        }
      });
      box.append(button, report);
    } else {
      box.append(h("p", { class: "meta" }, "表决结束后可在此核验回执：确认您的选票原样记入了公布的最终结果。"));
    }
    return box;
  }

  function showCheck(report, steps) {
    const first = steps.find((step) => !step.ok);
    const verdict = first
      ? h("p", { class: "verdict bad", "data-ok": "false", "data-step": first.name }, `核验未通过：${first.name} —— ${first.detail}`)
      : h("p", { class: "verdict good", "data-ok": "true" }, "核验通过");
    report.replaceChildren(
      verdict,
      h(
        "ol",
        { class: "steps" },
        steps.map((step) =>
          h("li", { class: step.ok ? "ok" : "bad", "data-ok": String(step.ok), "data-step": step.name }, `${step.ok ? "✓" : "✗"} ${step.name}：${step.detail}`)
        )
      )
    );
  }

  // -- checking receipts in the browser (the checks: hub/static/shared/tree-check.js) ----------
  function proofQuery(entries) {
    const inclusions = entries
      .map((_, at) => `e${at}: inclusionProof(vote: $vote, index: $i${at}, size: $size) { index size leafHash path root }`)
      .join("\n");
    const variables = entries.map((_, at) => `$i${at}: Int!`).join(", ");
    return `query Proofs($vote: ID!, $size: Int!, $from: Int!${variables ? ", " + variables : ""}) {
      ${inclusions}
      consistency: consistencyProof(vote: $vote, fromSize: $from, toSize: $size) { fromSize toSize path fromRoot toRoot }
    }`;
  }

  /** Every kept receipt of a house checked against the vote's final head: a list of steps
   * ({name, ok, detail}) in the order the module docstring gives. */
  async function checkReceipts(voteId, kept) {
    const data = await gql(FINAL_HEAD, { id: voteId });
    if (!data.vote || data.vote.status !== "CLOSED") throw new Error("表决尚未结束，没有终态树头");
    const finals = data.vote.heads.filter((head) => head.kind === "final");
    if (!finals.length) throw new Error("平台没有给出终态树头");
    const final = finals.reduce((a, b) => (b.size > a.size ? b : a));
    const steps = { leaf: [], inclusion: [], consistency: [], signature: [] };
    const note = (kind, ok, detail) => steps[kind].push({ ok, detail });

    const finalProblem = checkHead(final);
    note("signature", !finalProblem, finalProblem ? `终态树头：${finalProblem}` : `终态树头（${final.size} 条，${when(final.at)}）签名有效`);

    for (const [number, receipt] of kept.entries()) {
      const label = kept.length > 1 ? `第 ${number + 1} 份回执` : "回执";
      const head = receipt && receipt.head;
      const entries = receipt && Array.isArray(receipt.entries) ? receipt.entries : [];
      if (!head || !entries.length) {
        note("leaf", false, `${label}缺少条目或树头`);
        continue;
      }
      const headProblem = checkHead(head);
      if (headProblem) note("signature", false, `${label}的树头：${headProblem}`);
      else if (head.publicKey !== final.publicKey) note("signature", false, `${label}的树头与终态树头不是同一公钥签名`);
      else if (head.log !== final.log) note("signature", false, `${label}的树头属于日志 ${head.log}，终态树头属于 ${final.log}`);
      else note("signature", true, `${label}的树头签名有效，与终态树头同一公钥`);

      const computed = entries.map((entry) => leafHash(String(entry.payload)));
      for (const [at, entry] of entries.entries()) {
        let problem = null;
        let body = null;
        try {
          body = JSON.parse(entry.payload);
        } catch (error) {
          problem = "载荷不是 JSON";
        }
        if (!problem && computed[at] !== entry.leafHash) problem = `由载荷重算的叶哈希 ${computed[at].slice(0, 16)}… 与回执中的 ${String(entry.leafHash).slice(0, 16)}… 不符`;
        else if (!problem && (String(body.vote) !== String(receipt.vote) || Number(body.item) !== entry.item)) problem = "载荷中的表决或事项与回执不符";
        else if (!problem && !(entry.index < head.size)) problem = `序号 ${entry.index} 不在回执树头（${head.size} 条）之内`;
        note("leaf", !problem, problem ? `${label}第${entry.item}项：${problem}` : `${label}第${entry.item}项（序号 ${entry.index}）叶哈希相符`);
      }

      const variables = { vote: voteId, size: final.size, from: head.size };
      entries.forEach((entry, at) => (variables[`i${at}`] = entry.index));
      const proofs = await gql(proofQuery(entries), variables);
      for (const [at, entry] of entries.entries()) {
        const proof = proofs[`e${at}`];
        let problem = null;
        if (!proof) problem = "平台没有给出包含证明";
        else if (proof.index !== entry.index || proof.size !== final.size) problem = `证明针对序号 ${proof.index}、大小 ${proof.size}，应为 ${entry.index}、${final.size}`;
        else problem = checkInclusion(computed[at], entry.index, final.size, proof.path, final.root);
        note("inclusion", !problem, problem ? `${label}第${entry.item}项：${problem}` : `${label}第${entry.item}项经 ${proof.path.length} 个节点到达终态根`);
      }
      const consistency = proofs.consistency;
      let problem = null;
      if (!consistency) problem = "平台没有给出一致性证明";
      else if (consistency.fromSize !== head.size || consistency.toSize !== final.size) problem = `证明针对大小 ${consistency.fromSize}→${consistency.toSize}，应为 ${head.size}→${final.size}`;
      else problem = checkConsistency(head.size, final.size, head.root, final.root, consistency.path);
      note("consistency", !problem, problem ? `${label}：${problem}` : `${label}的树（${head.size} 条）是终态树（${final.size} 条）的前缀`);
    }

    const names = { leaf: "第1步 重算叶哈希", inclusion: "第2步 包含证明", consistency: "第3步 一致性证明", signature: "第4步 树头签名" };
    return Object.entries(names).map(([kind, name]) => {
      const found = steps[kind];
      const bad = found.filter((step) => !step.ok);
      const shown = bad.length ? bad : found;
      return { name, ok: found.length > 0 && bad.length === 0, detail: shown.map((step) => step.detail).join("；") || "未能进行" };
    });
  }

  // -- the result ------------------------------------------------------------------------------
  function tallyCells(tally) {
    return [h("td", {}, tally.houses), h("td", {}, tally.heads), h("td", {}, tally.area)];
  }

  function itemResult(result) {
    const heading = (first, ...more) => h("tr", {}, [first, "户数", "人数", "面积 m²", ...more].map((text) => h("th", {}, text)));
    const parts = [
      h(
        "h4",
        {},
        `第${result.number}项　${result.title}`,
        h("span", { class: `tag ${result.passed ? "passed" : "failed"}`, "data-passed": String(result.passed) }, result.passed ? "通过" : "未通过")
      ),
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, "参与表决"),
        h("dd", { class: "participation" }, `${result.participation.houses} 户 · ${result.participation.heads} 人 · ${result.participation.area} m²`),
        h("dt", {}, "参与比例"),
        h("dd", { class: "quorum", "data-quorum": String(result.quorum) }, result.quorum ? "已达到法定比例" : "未达到法定比例")
      ),
    ];
    if (result.choices.length) {
      parts.push(
        h(
          "table",
          { class: "tally choices" },
          h("thead", {}, heading("选择")),
          h("tbody", {}, result.choices.map((row) => h("tr", { "data-choice": row.choice }, h("td", {}, CHOICE_LABELS[row.choice] || row.choice), tallyCells(row.tally))))
        )
      );
    }
    if (result.candidates.length) {
      const tied = new Set(result.tied);
      const elected = new Set(result.elected);
      parts.push(
        h(
          "table",
          { class: "tally candidates" },
          h("thead", {}, heading("候选", "结果")),
          h(
            "tbody",
            {},
            result.candidates.map((c) => {
              const outcome = elected.has(c.id) || c.elected ? "当选" : tied.has(c.id) ? "得票相同" : c.carried ? "达到通过票数" : "—";
              return h("tr", { "data-candidate": c.id, "data-elected": String(elected.has(c.id) || c.elected), "data-tied": String(tied.has(c.id)) }, h("td", {}, c.name), tallyCells(c.tally), h("td", { class: "outcome" }, outcome));
            })
          )
        )
      );
      const name = (id) => (result.candidates.find((c) => c.id === id) || { name: id }).name;
      if (result.elected.length) parts.push(h("p", { class: "elected" }, `当选：${result.elected.map(name).join("、")}`));
      if (result.tied.length) parts.push(h("p", { class: "tied" }, `得票相同、均未当选：${result.tied.map(name).join("、")}`));
      if (result.form === "ELECTION" && result.openSeats > 0) parts.push(h("p", { class: "meta" }, `尚余 ${result.openSeats} 个名额未选出`));
    }
    parts.push(h("p", { class: "rule" }, `通过规则：${result.rule}`));
    return h("section", { class: "item-result", "data-item": result.number, "data-passed": String(result.passed) }, parts);
  }

  function renderResult(vote) {
    const shown = vote.status === "CLOSED" && vote.result;
    $("result").hidden = !shown;
    if (!shown) return;
    $("result-body").replaceChildren(
      h("p", { class: "meta", id: "ballots" }, `公告栏上共 ${vote.result.ballots} 条选票记录；每户每项以截止前最后一次提交为准。`),
      ...vote.result.items.map(itemResult)
    );
  }

  // -- start -----------------------------------------------------------------------------------
  $("signin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const field = $("token");
    const candidate = field.value;
    field.value = "";
    signIn(candidate);
  });
  $("signout").addEventListener("click", () => {
    location.hash = "";
    signOut("已退出");
  });
  $("back").addEventListener("click", () => {
    location.hash = "";
  });
  window.addEventListener("hashchange", () => route());

  if (state.token) signIn(state.token);
  else showSignIn("");
})();
