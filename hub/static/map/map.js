/* The street office's map (served at /map by hub.map).
 *
 * Sign in with a token (kept in sessionStorage for this tab only); every figure comes from
 * /graphql with `Authorization: Bearer …`, and live changes from the graphql-transport-ws
 * subscriptions `alarms(scope)` and `caseUpdates(scope)` with the token in `connection_init`.
 * The page shows the shapes of the level under the current place, coloured by a metric with
 * class breaks computed from the values shown; devices, cases and active alarms as clustered
 * points; a breadcrumb to go back up; and a side list of the open cases and active alarms in
 * view. The server decides what the token may see: the page only asks.
 */
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("hub-map-config").textContent);
  const TOKEN_KEY = "hub-map-token";
  const LEVELS = ["CITY", "DISTRICT", "STREET", "COMMUNITY", "ESTATE", "BUILDING", "ENTRANCE", "HOUSE"];
  const LEVEL_LABELS = {
    CITY: "市", DISTRICT: "区", STREET: "街道", COMMUNITY: "社区", ESTATE: "小区", BUILDING: "楼栋", ENTRANCE: "单元", HOUSE: "房屋",
  };
  const DEEPEST_SHAPES = "BUILDING"; // buildings are the finest outlines a place has
  const METRICS = {
    houses: { label: "房屋数", unit: "户" },
    openCases: { label: "未办结工单", unit: "件" },
    overdueCases: { label: "超期工单", unit: "件" },
    activeAlarms: { label: "未消除告警", unit: "条" },
    housesInArrears: { label: "欠费户数", unit: "户" },
    satisfactionRate: { label: "满意率", rate: true, better: "high" },
    // the hub sends integer fen (exact); shown in yuan; a low balance is the warning
    fundBalance: { label: "维修资金余额", unit: "元", money: true, better: "high" },
    fundLowAccounts: { label: "维修资金不足户", unit: "户" },
    // estates only: the managing firm's latest monthly credit score, integer hundredths of a point
    firmCredit: { label: "物业信用分", unit: "分", centi: true, better: "high" },
  };
  const PALETTE = ["#fff3c4", "#fdcc8a", "#fc8d59", "#e34a33", "#a50f15"];
  const NO_DATA = "#d9dde1";
  const CATEGORY_LABELS = { REPAIR: "报修", COMPLAINT: "投诉", CONSULTATION: "咨询", SUGGESTION: "建议", EMERGENCY: "紧急" };
  const MAX_LABELS = 40;

  const PLACE_REF = "code name ancestors { code }";
  const ALARM_FIELDS = `id rule severity severityLabel message value raisedAt acknowledgedAt active deviceType
    point { lon lat } device { code name typeLabel } place { ${PLACE_REF} } case { id }`;
  const CASE_FIELDS = `id title category status statusLabel closed overdue reportedAt deadline address
    point { lon lat } place { ${PLACE_REF} } firm { name }`;
  const STATS_FIELDS = `houses floorArea estates buildings housesInArrears
    devices { total online offline activeAlarms } cases { cases resolved overdue satisfactionRate }
    funds { accounts balanceFen lowAccounts }`;
  const ME = "{ me { role roleLabel name roots { code name level levelName } } }";
  const VIEW = `query View($s: String!, $l: Level!, $self: Boolean!) {
    geo(scope: $s, level: $l)
    place(code: $s) @include(if: $self) { code name level stats { ${STATS_FIELDS} } }
  }`;
  const POINTS = `query Points($s: String!) {
    devices(scope: $s, first: 500) { edges { node {
      code name typeLabel model status statusLabel lastSeen point { lon lat } place { ${PLACE_REF} } activeAlarms { id message }
    } } }
    cases(scope: $s, first: 500) { edges { node { ${CASE_FIELDS} } } }
    alarms(scope: $s, active: true, first: 500) { edges { node { ${ALARM_FIELDS} } } }
  }`;
  const ALARMS_LIVE = `subscription Alarms($s: String!) { alarms(scope: $s) { kind alarm { ${ALARM_FIELDS} } } }`;
  const CASES_LIVE = `subscription Cases($s: String!) { caseUpdates(scope: $s) { kind case { ${CASE_FIELDS} } } }`;

  const { SignInError } = window.HubApi; // hub/static/shared/hub-api.js

  const $ = (id) => document.getElementById(id);
  const esc = (text) => String(text ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  const when = (iso) => (iso ? new Date(iso).toLocaleString("zh-CN", { hour12: false }) : "—");

  const state = {
    token: sessionStorage.getItem(TOKEN_KEY),
    me: null,
    stack: [],
    features: [],
    own: null, // the figures of the place in view
    selected: null,
    metric: "houses",
    devices: new Map(),
    cases: new Map(),
    alarms: new Map(),
    markers: new Map(),
    centres: new Map(),
    fresh: new Set(),
    live: null,
    loads: 0,
  };

  // -- the map ---------------------------------------------------------------------------------
  const map = L.map("map", { zoomControl: true, maxZoom: 19, attributionControl: Boolean(config.tiles) }).setView([36.07, 120.38], 12);
  if (config.tiles) {
    L.tileLayer(config.tiles, { attribution: esc(config.attribution || ""), maxZoom: 19 }).addTo(map);
  }
  const shapes = L.geoJSON(null, { style: styleOf, onEachFeature: bindShape }).addTo(map);
  const points = L.markerClusterGroup({ maxClusterRadius: 40, showCoverageOnHover: false, disableClusteringAtZoom: 18 }).addTo(map);
  const legend = L.control({ position: "bottomright" });
  legend.onAdd = () => {
    const box = L.DomUtil.create("div", "legend");
    box.id = "legend";
    return box;
  };
  legend.addTo(map);

  // -- talking to the hub ----------------------------------------------------------------------
  function gql(query, variables) {
    return window.HubApi.graphql(config.graphql, state.token, query, variables);
  }

  function failed(error) {
    if (error instanceof SignInError) {
      signOut(`令牌无效，已被平台拒绝：${error.message}`);
      return;
    }
    notice(`加载失败：${error.message}`);
  }

  // -- signing in and out ----------------------------------------------------------------------
  async function signIn(candidate) {
    state.token = candidate.trim();
    if (!state.token) {
      showSignIn("请先粘贴访问令牌");
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
    const roots = data.me.roots;
    if (!roots.length) {
      notice("该令牌的范围内没有可显示的地点");
      return;
    }
    state.stack = [rootView(roots)];
    connectLive();
    await openView();
  }

  function signOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    state.token = null;
    state.me = null;
    state.stack = [];
    if (state.live) {
      state.live.dispose();
      state.live = null;
    }
    setLive(false);
    shapes.clearLayers();
    points.clearLayers();
    state.features = [];
    state.devices.clear();
    state.cases.clear();
    state.alarms.clear();
    state.markers.clear();
    $("who").textContent = "";
    $("crumbs").replaceChildren();
    $("figures").replaceChildren();
    $("items").replaceChildren();
    $("legend").replaceChildren();
    $("signout").hidden = true;
    showSignIn(message || "");
  }

  function showSignIn(message) {
    $("signin").hidden = false;
    const box = $("signin-error");
    box.textContent = message || "";
    box.hidden = !message;
    document.body.dataset.state = "signed-out";
  }

  // -- views: the place in view and the level of shapes under it -------------------------------
  function below(level) {
    const index = LEVELS.indexOf(level);
    return index >= 0 && index < LEVELS.length - 1 ? LEVELS[index + 1] : null;
  }

  function rootView(roots) {
    if (roots.length === 1) {
      const root = roots[0];
      return { code: root.code, name: root.name, level: root.level, shapeLevel: below(root.level), multi: false };
    }
    // several roots (a firm's estates, an owner's houses): their shapes side by side, read under
    // their city (GB/T 2260: a code's first four digits and 00); the hub answers in scope only
    const top = LEVELS.find((level) => roots.some((root) => root.level === level));
    return { code: `${roots[0].code.slice(0, 4)}00`, name: "我的范围", level: top, shapeLevel: top, multi: true, roots: roots.map((root) => root.code) };
  }

  function current() {
    return state.stack[state.stack.length - 1];
  }

  async function openView(fit = true) {
    const view = current();
    const load = ++state.loads;
    document.body.dataset.state = "loading";
    notice("正在加载…");
    renderCrumbs();
    try {
      const [geo, found] = await Promise.all([
        view.shapeLevel
          ? gql(VIEW, { s: view.code, l: view.shapeLevel, self: !view.multi })
          : gql(VIEW, { s: view.code, l: view.level, self: true }),
        gql(POINTS, { s: view.code }),
      ]);
      if (load !== state.loads) return; // a later view was opened meanwhile
      const features = view.shapeLevel ? geo.geo.features : [];
      state.own = geo.place ? figuresOfStats(geo.place) : view.multi ? summed(features) : null;
      if (!view.shapeLevel && geo.geo.features.length) state.own = figuresOf(geo.geo.features[0]);
      drawShapes(features, fit);
      takePoints(found);
      if (!features.length) notice(view.shapeLevel ? `${view.name}下暂无${LEVEL_LABELS[view.shapeLevel]}边界数据` : "");
      else notice("");
      renderFigures();
      document.body.dataset.state = "ready";
      document.body.dataset.view = view.code;
    } catch (error) {
      if (load === state.loads) {
        document.body.dataset.state = "error";
        failed(error);
      }
    }
  }

  function drill(feature) {
    const properties = feature.properties;
    state.selected = properties.code;
    if (properties.level === DEEPEST_SHAPES) {
      state.own = figuresOf(feature);
      renderFigures();
      restyle();
      return;
    }
    state.stack.push({ code: properties.code, name: properties.name, level: properties.level, shapeLevel: below(properties.level), multi: false });
    state.selected = null;
    openView();
  }

  function back(depth) {
    state.stack = state.stack.slice(0, depth + 1);
    state.selected = null;
    openView();
  }

  function renderCrumbs() {
    const crumbs = $("crumbs");
    crumbs.replaceChildren();
    state.stack.forEach((view, depth) => {
      if (depth) {
        const sep = document.createElement("span");
        sep.className = "sep";
        sep.textContent = "›";
        crumbs.append(sep);
      }
      const last = depth === state.stack.length - 1;
      const item = document.createElement(last ? "span" : "button");
      item.textContent = view.name;
      item.dataset.code = view.code;
      if (!last) {
        item.type = "button";
        item.addEventListener("click", () => back(depth));
      }
      crumbs.append(item);
    });
  }

  // -- shapes, colours and the legend ----------------------------------------------------------
  function drawShapes(features, fit) {
    shapes.clearLayers();
    state.features = features;
    for (const feature of features) {
      const centre = L.geoJSON(feature).getBounds().getCenter();
      state.centres.set(feature.id, centre);
    }
    shapes.addData({ type: "FeatureCollection", features });
    restyle();
    if (fit && features.length) map.fitBounds(shapes.getBounds(), { padding: [16, 16], animate: false });
  }

  function labelOf(feature) {
    const p = feature.properties;
    return `${esc(p.name)}<br>${esc(METRICS[state.metric].label)}：${esc(shown(p[state.metric], state.metric))}`;
  }

  function bindShape(feature, layer) {
    layer.on("click", () => drill(layer.feature));
    layer.bindTooltip(labelOf(feature), { permanent: state.features.length <= MAX_LABELS, direction: "center", className: "shape-label" });
  }

  function breaks(values) {
    const unique = [...new Set(values)].sort((a, b) => a - b);
    if (!unique.length) return [];
    if (unique.length <= PALETTE.length) return unique.map((value) => ({ from: value, to: value }));
    const classes = [];
    let start = 0;
    for (let index = 1; index <= PALETTE.length; index += 1) {
      const end = index === PALETTE.length ? unique.length : Math.floor((index * unique.length) / PALETTE.length);
      if (end > start) classes.push({ from: unique[start], to: unique[end - 1] });
      start = end;
    }
    return classes;
  }

  function colours(count, metric) {
    // spread the palette over the classes there are; for 满意率 low values are the warning
    const picked = Array.from({ length: count }, (_, index) => PALETTE[count === 1 ? PALETTE.length - 1 : Math.round((index * (PALETTE.length - 1)) / (count - 1))]);
    return METRICS[metric].better === "high" ? picked.reverse() : picked;
  }

  function classify() {
    const values = state.features.map((feature) => feature.properties[state.metric]).filter((value) => value !== null && value !== undefined);
    const classes = breaks(values);
    const fills = colours(classes.length, state.metric);
    return { classes, fills };
  }

  function fillOf(value, scale) {
    if (value === null || value === undefined) return NO_DATA;
    const index = scale.classes.findIndex((item) => value >= item.from && value <= item.to);
    return index < 0 ? NO_DATA : scale.fills[index];
  }

  function styleOf(feature) {
    const scale = state.scale || classify();
    const chosen = feature.properties.code === state.selected;
    return {
      color: chosen ? "#17324d" : "#5a6b7b",
      weight: chosen ? 3 : 1,
      fillColor: fillOf(feature.properties[state.metric], scale),
      fillOpacity: 0.75,
    };
  }

  function restyle() {
    state.scale = classify();
    shapes.eachLayer((layer) => {
      layer.setStyle(styleOf(layer.feature));
      const element = layer.getElement && layer.getElement();
      if (element) {
        element.classList.add("shape");
        element.dataset.code = layer.feature.properties.code;
        element.dataset.name = layer.feature.properties.name;
        const value = layer.feature.properties[state.metric];
        element.dataset.value = value === null || value === undefined ? "" : String(value);
      }
      if (layer.getTooltip()) layer.setTooltipContent(labelOf(layer.feature));
    });
    renderLegend();
  }

  function yuan(fen) {
    // exact from integer fen: no division by 100 in floating point
    const sign = fen < 0 ? "-" : "";
    const whole = Math.abs(fen);
    const units = String(Math.floor(whole / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return `${sign}${units}.${String(whole % 100).padStart(2, "0")}`;
  }

  function shown(value, metric) {
    if (value === null || value === undefined) return "无数据";
    if (METRICS[metric] && METRICS[metric].rate) return `${(value * 100).toFixed(1)}%`;
    if (METRICS[metric] && METRICS[metric].money) return yuan(value);
    if (METRICS[metric] && METRICS[metric].centi) return `${Math.floor(value / 100)}.${String(value % 100).padStart(2, "0")}`;
    return Number.isInteger(value) ? String(value) : value.toFixed(1);
  }

  function renderLegend() {
    const box = $("legend");
    const metric = state.metric;
    const { classes, fills } = state.scale;
    const rows = classes.map((item, index) => {
      const range = item.from === item.to ? shown(item.from, metric) : `${shown(item.from, metric)} – ${shown(item.to, metric)}`;
      return `<div class="step" data-fill="${fills[index]}"><i style="background:${fills[index]}"></i>${esc(range)}</div>`;
    });
    if (state.features.some((feature) => feature.properties[metric] === null || feature.properties[metric] === undefined)) {
      rows.push(`<div class="step" data-fill="${NO_DATA}"><i style="background:${NO_DATA}"></i>无数据</div>`);
    }
    const unit = METRICS[metric].unit ? `（${METRICS[metric].unit}）` : "";
    box.innerHTML = state.features.length ? `<h3>${esc(METRICS[metric].label)}${esc(unit)}</h3>${rows.join("")}` : "";
    box.dataset.metric = metric;
  }

  // -- figures -------------------------------------------------------------------------------
  function figuresOf(feature) {
    const p = feature.properties;
    return {
      name: p.name, level: LEVEL_LABELS[p.level], houses: p.houses, estates: p.estates, buildings: p.buildings, floorArea: p.floorArea,
      openCases: p.openCases, overdueCases: p.overdueCases, activeAlarms: p.activeAlarms, housesInArrears: p.housesInArrears,
      satisfactionRate: p.satisfactionRate, fundBalance: p.fundBalance, fundLowAccounts: p.fundLowAccounts,
    };
  }

  function figuresOfStats(place) {
    const s = place.stats || {};
    const cases = s.cases || null;
    // as on the map's features: no account under the place is no data, not a balance of 0
    const funds = s.funds && s.funds.accounts > 0 ? s.funds : null;
    return {
      name: place.name, level: LEVEL_LABELS[place.level], houses: s.houses, estates: s.estates, buildings: s.buildings, floorArea: s.floorArea,
      openCases: cases ? cases.cases - cases.resolved : null, overdueCases: cases ? cases.overdue : null,
      activeAlarms: s.devices ? s.devices.activeAlarms : null, housesInArrears: s.housesInArrears,
      satisfactionRate: cases ? cases.satisfactionRate : null,
      fundBalance: funds ? funds.balanceFen : null, fundLowAccounts: funds ? funds.lowAccounts : null,
    };
  }

  function summed(features) {
    const total = { name: "我的范围", level: "" };
    for (const key of ["houses", "estates", "buildings", "floorArea", "openCases", "overdueCases", "activeAlarms", "housesInArrears", "fundBalance", "fundLowAccounts"]) {
      const values = features.map((feature) => feature.properties[key]).filter((value) => typeof value === "number");
      total[key] = values.length ? values.reduce((a, b) => a + b, 0) : null;
    }
    total.satisfactionRate = null;
    return total;
  }

  function renderFigures() {
    const box = $("figures");
    const f = state.own;
    if (!f) {
      box.replaceChildren();
      return;
    }
    const cell = (label, key) => `<dt>${esc(label)}</dt><dd data-key="${key}">${esc(shown(f[key], key))}</dd>`;
    box.innerHTML = `<h2>${esc(f.name)} <small>${esc(f.level || "")}</small></h2><dl>
      ${cell("房屋", "houses")}${cell("欠费户", "housesInArrears")}
      ${cell("未办结工单", "openCases")}${cell("超期工单", "overdueCases")}
      ${cell("未消除告警", "activeAlarms")}${cell("满意率", "satisfactionRate")}
      ${cell("维修资金余额（元）", "fundBalance")}${cell("维修资金不足户", "fundLowAccounts")}
      ${cell("小区", "estates")}${cell("楼栋", "buildings")}</dl>`;
    box.dataset.code = state.selected || current().code;
  }

  // -- points: devices, cases, alarms --------------------------------------------------------
  function inView(place) {
    const view = current();
    if (!view || view.multi) return Boolean(view);
    if (!place) return false;
    return place.code === view.code || (place.ancestors || []).some((item) => item.code === view.code);
  }

  function locate(point, place) {
    if (point) return L.latLng(point.lat, point.lon);
    if (!place) return null;
    const line = [place.code, ...(place.ancestors || []).map((item) => item.code).reverse()];
    for (const code of line) {
      if (state.centres.has(code)) return state.centres.get(code);
    }
    return null;
  }

  function takePoints(data) {
    state.devices = new Map(data.devices.edges.map((edge) => [edge.node.code, edge.node]));
    state.cases = new Map(data.cases.edges.map((edge) => [edge.node.id, edge.node]));
    state.alarms = new Map(data.alarms.edges.map((edge) => [edge.node.id, edge.node]));
    drawPoints();
    renderList();
  }

  function icon(kind, key, status) {
    const size = kind === "alarm" ? 18 : 14;
    return L.divIcon({ className: "", iconSize: [size, size], html: `<div class="pt ${status}" data-${kind}="${esc(key)}"></div>` });
  }

  function caseState(item) {
    return item.closed ? "case-closed" : item.overdue ? "case-overdue" : "case-open";
  }

  function popup(title, rows) {
    const body = rows.filter(([, value]) => value !== null && value !== undefined && value !== "").map(([label, value]) => `<dt>${esc(label)}</dt><dd>${esc(value)}</dd>`);
    return `<div class="popup"><strong>${esc(title)}</strong><dl>${body.join("")}</dl></div>`;
  }

  function drawPoints() {
    points.clearLayers();
    state.markers.clear();
    const add = (key, marker) => {
      state.markers.set(key, marker);
      points.addLayer(marker);
    };
    for (const device of state.devices.values()) {
      const latlng = locate(device.point, device.place);
      if (!latlng) continue;
      const marker = L.marker(latlng, { icon: icon("device", device.code, `dev-${device.status}`), title: device.name || device.code });
      marker.bindPopup(() => popup(`${device.typeLabel} ${device.name || device.code}`, [
        ["编号", device.code], ["型号", device.model], ["状态", device.statusLabel], ["位置", device.place && device.place.name],
        ["最后上报", when(device.lastSeen)], ["未消除告警", device.activeAlarms.map((alarm) => alarm.message).join("、") || "无"],
      ]));
      add(`device:${device.code}`, marker);
    }
    for (const item of state.cases.values()) {
      const latlng = locate(item.point, item.place);
      if (!latlng) continue;
      const marker = L.marker(latlng, { icon: icon("case", item.id, `case ${caseState(item)}`), title: item.title });
      marker.bindPopup(() => popup(`工单 ${item.title}`, [
        ["编号", item.id], ["类别", CATEGORY_LABELS[item.category]], ["状态", item.statusLabel + (item.overdue ? "（已超期）" : "")],
        ["位置", (item.place && item.place.name) || item.address], ["受理时间", when(item.reportedAt)], ["办结时限", when(item.deadline)],
        ["承办物业", item.firm && item.firm.name],
      ]));
      add(`case:${item.id}`, marker);
    }
    for (const alarm of state.alarms.values()) {
      const latlng = locate(alarm.point, alarm.place);
      if (!latlng) continue;
      const marker = L.marker(latlng, { icon: icon("alarm", alarm.id, "alarm"), title: alarm.message, zIndexOffset: 1000 });
      marker.bindPopup(() => popup(`告警 ${alarm.message}`, [
        ["编号", alarm.id], ["等级", alarm.severityLabel], ["设备", alarm.device && `${alarm.device.typeLabel} ${alarm.device.name || alarm.device.code}`],
        ["数值", alarm.value], ["位置", alarm.place && alarm.place.name], ["发生时间", when(alarm.raisedAt)],
        ["确认", alarm.acknowledgedAt ? when(alarm.acknowledgedAt) : "未确认"], ["关联工单", alarm.case && alarm.case.id],
      ]));
      add(`alarm:${alarm.id}`, marker);
    }
  }

  // -- the side list -------------------------------------------------------------------------
  function listed() {
    const category = $("f-category").value;
    const status = $("f-status").value;
    const hours = Number($("f-time").value || 0);
    const since = hours ? Date.now() - hours * 3600 * 1000 : null;
    const items = [];
    for (const alarm of state.alarms.values()) {
      if (category && category !== "alarm") continue;
      if (status && !["unacknowledged", "acknowledged"].includes(status)) continue;
      if (status === "unacknowledged" && alarm.acknowledgedAt) continue;
      if (status === "acknowledged" && !alarm.acknowledgedAt) continue;
      const at = Date.parse(alarm.raisedAt);
      if (since && at < since) continue;
      items.push({ kind: "alarm", key: alarm.id, at, record: alarm });
    }
    for (const item of state.cases.values()) {
      if (item.closed) continue;
      if (category && category !== item.category) continue;
      if (status === "overdue" ? !item.overdue : status && status !== item.status) continue;
      const at = Date.parse(item.reportedAt);
      if (since && at < since) continue;
      items.push({ kind: "case", key: item.id, at, record: item });
    }
    return items.sort((a, b) => b.at - a.at);
  }

  function renderList() {
    const list = $("items");
    const items = listed();
    list.replaceChildren();
    if (!items.length) {
      const empty = document.createElement("li");
      empty.className = "empty";
      empty.textContent = "当前范围内没有符合条件的工单或告警";
      list.append(empty);
    }
    for (const item of items) {
      const row = document.createElement("li");
      row.dataset.kind = item.kind;
      row.dataset.id = item.key;
      if (state.fresh.has(item.key)) row.classList.add("fresh");
      const r = item.record;
      if (item.kind === "alarm") {
        row.innerHTML = `<span class="tag alarm">${esc(r.severityLabel)}告警</span>${esc(r.message)}
          <div class="meta">${esc(r.device ? `${r.device.typeLabel} ${r.device.name || r.device.code}` : "")} · ${esc(r.place ? r.place.name : "")} · ${esc(when(r.raisedAt))}</div>`;
      } else {
        const tag = r.overdue ? '<span class="tag overdue">超期</span>' : `<span class="tag open">${esc(r.statusLabel)}</span>`;
        row.innerHTML = `${tag}${esc(CATEGORY_LABELS[r.category])} · ${esc(r.title)}
          <div class="meta">${esc((r.place && r.place.name) || r.address || "")} · ${esc(when(r.reportedAt))}</div>`;
      }
      row.addEventListener("click", () => reveal(`${item.kind}:${item.key}`));
      list.append(row);
    }
    $("list-title").textContent = `未办结工单与未消除告警（${items.length}）`;
  }

  function reveal(key) {
    const marker = state.markers.get(key);
    if (!marker) {
      notice("该条目没有位置信息");
      return;
    }
    points.zoomToShowLayer(marker, () => marker.openPopup());
  }

  // -- live updates --------------------------------------------------------------------------
  function setLive(on) {
    const badge = $("live");
    badge.className = `live ${on ? "on" : "off"}`;
    badge.title = on ? "实时推送已连接" : "实时推送未连接";
    document.body.dataset.live = on ? "on" : "off";
  }

  function connectLive() {
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${config.graphql}`;
    const token = state.token;
    const client = graphqlWs.createClient({
      url,
      connectionParams: { Authorization: `Bearer ${token}` },
      lazy: false,
      retryAttempts: 1000,
      shouldRetry: (event) => !(event && event.code === 4403),
      on: {
        connected: () => setLive(true),
        closed: (event) => {
          setLive(false);
          if (event && event.code === 4403 && state.token === token) signOut(`实时推送被拒绝：${event.reason || "令牌无效"}`);
        },
      },
    });
    state.live = client;
    const scope = state.stack[0].code;
    const sink = (handle) => ({
      next: (message) => {
        if (message.errors && message.errors.length) return notice(`实时推送出错：${message.errors[0].message}`);
        handle(message.data);
      },
      error: () => setLive(false),
      complete: () => {},
    });
    client.subscribe({ query: ALARMS_LIVE, variables: { s: scope } }, sink((data) => onAlarm(data.alarms)));
    client.subscribe({ query: CASES_LIVE, variables: { s: scope } }, sink((data) => onCase(data.caseUpdates)));
  }

  function onAlarm(update) {
    const alarm = update.alarm;
    if (!inView(alarm.place)) return;
    if (alarm.active) {
      state.alarms.set(alarm.id, alarm);
      if (update.kind === "raised") state.fresh.add(alarm.id);
    } else {
      state.alarms.delete(alarm.id);
    }
    drawPoints();
    renderList();
    refreshSoon();
  }

  function onCase(update) {
    const item = update.case;
    if (!inView(item.place)) return;
    state.cases.set(item.id, item);
    if (update.kind === "opened") state.fresh.add(item.id);
    drawPoints();
    renderList();
    refreshSoon();
  }

  let refreshing = null;
  function refreshSoon() {
    // the shapes' counts change with every alarm and case: reread them (not the view) shortly
    clearTimeout(refreshing);
    refreshing = setTimeout(refreshCounts, 400);
  }

  async function refreshCounts() {
    const view = current();
    if (!view || !view.shapeLevel) return;
    try {
      const data = await gql(VIEW, { s: view.code, l: view.shapeLevel, self: !view.multi });
      if (view !== current()) return;
      state.features = data.geo.features;
      const byCode = new Map(state.features.map((feature) => [feature.id, feature]));
      shapes.eachLayer((layer) => {
        const fresh = byCode.get(layer.feature.id);
        if (fresh) layer.feature.properties = fresh.properties;
      });
      state.own = data.place ? figuresOfStats(data.place) : view.multi ? summed(state.features) : state.own;
      restyle();
      renderFigures();
      document.body.dataset.refreshed = String(Date.now());
    } catch (error) {
      failed(error);
    }
  }

  // -- little things -------------------------------------------------------------------------
  function notice(text) {
    const box = $("notice");
    box.textContent = text;
    box.hidden = !text;
  }

  $("signin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    signIn($("token").value);
  });
  $("signout").addEventListener("click", () => signOut(""));
  $("metric").addEventListener("change", (event) => {
    state.metric = event.target.value;
    restyle();
  });
  for (const id of ["f-category", "f-status", "f-time"]) $(id).addEventListener("change", renderList);

  window.hubMap = {
    state,
    map,
    markerKeys: () => [...state.markers.keys()],
    reveal,
  };

  if (state.token) signIn(state.token);
  else showSignIn("");
})();
