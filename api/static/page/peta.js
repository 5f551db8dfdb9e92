/* The overview page /peta (api/routes/page.py): a map of the sites with their states, their
 * latest values, and a chart of the last 24 hours of the site clicked.
 *
 * The chart is in peta-chart.js (loaded first). Every sentence and label comes from the server in the page's language (#peta-config); this
 * script holds none. Data: GET /sites/latest every refresh_s seconds, GET /series for the
 * chart (of the site clicked, or named by ?site=<id>). Times are shown in WIB: the API's *_wib strings, and uPlot's axis in Asia/Jakarta.
 * The states are also written as data-* attributes, which the tests read.
 */
(function () {
  "use strict";

  var cfg = JSON.parse(document.getElementById("peta-config").textContent);
  var KEY_STORE = "jagajalan.apiKey";
  var FLOOD_COLOURS = {
    normal: "#2e7d32",
    waspada: "#f9a825", siaga_3: "#f9a825", hati_hati: "#f9a825",
    siaga: "#ef6c00", siaga_2: "#ef6c00", bahaya_motor: "#ef6c00",
    awas: "#c62828", siaga_1: "#c62828", tidak_dapat_dilalui: "#c62828"
  };
  var LOS_COLOURS = { A: "#2e7d32", B: "#7cb342", C: "#c0ca33", D: "#fdd835", E: "#fb8c00", F: "#c62828" };

  var state = { sites: [], selected: null, field: null, refreshes: 0, chart: null };

  function t(name, args) {
    var text = cfg.text[name];
    Object.keys(args || {}).forEach(function (k) {
      text = text.split("{" + k + "}").join(String(args[k]));
    });
    return text;
  }

  /* "2025-11-30T15:01:00.000+07:00" -> "30-11-2025 15:01" (the API's *_wib times). */
  function wib(iso) {
    if (!iso) return "";
    return iso.slice(8, 10) + "-" + iso.slice(5, 7) + "-" + iso.slice(0, 4) + " " + iso.slice(11, 16);
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "style") node.style.cssText = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }

  function number(value, digits) {
    if (typeof value !== "number") return String(value);
    var d = digits === undefined ? (Math.abs(value) >= 100 ? 0 : 1) : digits;
    return value.toLocaleString(cfg.lang === "en" ? "en-GB" : "id-ID", {
      maximumFractionDigits: d, minimumFractionDigits: 0
    });
  }

  /* " µg/m³", " kendaraan": a unit as people read it, in the page's language. */
  function unitShown(unit) {
    if (!unit) return "";
    var shown = Object.prototype.hasOwnProperty.call(cfg.units, unit) ? cfg.units[unit] : unit;
    return shown ? " " + shown : "";
  }

  function apiKey() {
    try { return window.localStorage.getItem(KEY_STORE); } catch (e) { return null; }
  }

  function getJSON(url) {
    var key = apiKey();
    return fetch(url, { headers: key ? { "X-API-Key": key } : {} }).then(function (r) {
      if (r.ok) return r.json();
      /* The API's own error message ({"error", "message"}) goes with the status. */
      return r.json().catch(function () { return {}; }).then(function (body) {
        var err = new Error("HTTP " + r.status);
        err.status = r.status;
        err.detail = body && body.message ? body.message : "";
        throw err;
      });
    });
  }

  /* ---- state of a site ---------------------------------------------------------------- */

  function onlineClass(site) {
    return site.online === true ? "online" : site.online === false ? "offline" : "unknown";
  }
  function floodColour(site) {
    return site.flood ? FLOOD_COLOURS[site.flood.status] || "#9e9e9e" : null;
  }
  function floodLabel(site) {
    return site.flood ? cfg.labels.flood[site.flood.status] || site.flood.status : null;
  }
  function ispuColour(site) { return site.air ? site.air.colour : null; }
  function losColour(site) {
    return site.traffic && site.traffic.los ? LOS_COLOURS[site.traffic.los] || "#9e9e9e" : null;
  }

  /* ---- the map ------------------------------------------------------------------------ */

  var map = L.map("map", { attributionControl: !!cfg.tiles, zoomSnap: 0.25 });
  var markers = {};
  var graticule = L.layerGroup().addTo(map);
  var fitted = false;
  if (cfg.tiles) {
    L.tileLayer(cfg.tiles, { attribution: cfg.attribution || "", maxZoom: 19 }).addTo(map);
  } else {
    document.getElementById("map").classList.add("plain");
    var note = L.control({ position: "bottomleft" });
    note.onAdd = function () { return el("div", { "class": "graticule", text: t("offline_map") }); };
    note.addTo(map);
    map.on("moveend", drawGraticule);
  }
  L.control.scale({ imperial: false }).addTo(map);
  map.setView([-2.3, 102.65], 10); // Sarolangun until the sites are known

  function degrees(value, pos, neg) {
    return Math.abs(value).toFixed(2) + "° " + (value >= 0 ? pos : neg);
  }

  /* Latitude and longitude lines, when there is no base map to read positions from. */
  function drawGraticule() {
    graticule.clearLayers();
    var b = map.getBounds();
    var span = Math.max(b.getNorth() - b.getSouth(), b.getEast() - b.getWest());
    var steps = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5];
    var step = steps.filter(function (s) { return span / s <= 8; })[0] || 10;
    var style = { color: "#b0bec5", weight: 1, interactive: false };
    var lat, lon;
    for (lat = Math.ceil(b.getSouth() / step) * step; lat <= b.getNorth(); lat += step) {
      graticule.addLayer(L.polyline([[lat, b.getWest()], [lat, b.getEast()]], style));
      graticule.addLayer(L.marker([lat, b.getWest()], { interactive: false, icon: L.divIcon({
        className: "graticule", html: degrees(lat, "N", "S"), iconSize: null, iconAnchor: [-2, 14] }) }));
    }
    for (lon = Math.ceil(b.getWest() / step) * step; lon <= b.getEast(); lon += step) {
      graticule.addLayer(L.polyline([[b.getSouth(), lon], [b.getNorth(), lon]], style));
      graticule.addLayer(L.marker([b.getSouth(), lon], { interactive: false, icon: L.divIcon({
        className: "graticule", html: degrees(lon, "E", "W"), iconSize: null, iconAnchor: [-2, 16] }) }));
    }
  }

  function badge(cls, colour, title, text) {
    var span = el("span", { "class": "b " + cls, title: title, text: text || "" });
    if (colour) span.style.background = colour;
    return span;
  }

  function pin(site) {
    var classes = "pin " + onlineClass(site) + (state.selected === site.id ? " selected" : "");
    return el("div", { "class": classes, "data-site": site.id }, [
      badge("flood", floodColour(site), t("flood") + ": " + (floodLabel(site) || t("none"))),
      badge("ispu", ispuColour(site), t("air") + ": " + (site.air ? site.air.ispu : t("none"))),
      badge("los", losColour(site), t("traffic"), site.traffic && site.traffic.los ? site.traffic.los : "")
    ]).outerHTML;
  }

  function drawMap() {
    var seen = {};
    var points = [];
    state.sites.forEach(function (site) {
      if (typeof site.latitude !== "number" || typeof site.longitude !== "number") return;
      seen[site.id] = true;
      var where = [site.latitude, site.longitude];
      points.push(where);
      var icon = L.divIcon({ className: "site-icon", html: pin(site), iconSize: null });
      var marker = markers[site.id];
      if (!marker) {
        /* The label is the kecamatan (short, and what staff navigate by); the name on hover. */
        marker = L.marker(where, { icon: icon, title: site.name, riseOnHover: true }).addTo(map);
        marker.bindTooltip(site.kecamatan, {
          permanent: true, direction: "right", offset: [36, 0], className: "site-label"
        });
        marker.on("click", function () { select(site.id); });
        markers[site.id] = marker;
      } else {
        marker.setLatLng(where);
        marker.setIcon(icon);
      }
      /* Sites with data above those without, the selected one above all. */
      marker.setZIndexOffset(state.selected === site.id ? 2000 : site.latest.length ? 1000 : 0);
    });
    Object.keys(markers).forEach(function (id) {
      if (!seen[id]) { map.removeLayer(markers[id]); delete markers[id]; }
    });
    if (!fitted && points.length) {
      fitted = true;
      if (points.length === 1) map.setView(points[0], 13);
      else map.fitBounds(points, { padding: [60, 60], maxZoom: 14 });
    }
    if (!cfg.tiles) drawGraticule();
  }

  /* ---- the list of sites -------------------------------------------------------------- */

  /* Why an indicator is missing: the site measures it but the job has not computed it yet
   * (the first minutes of a site), or the site does not measure it at all. */
  var SOURCES = { flood: ["water_level"], air: ["air_quality"], traffic: ["traffic", "traffic_flow"] };
  function missing(site, what) {
    var measured = site.latest.some(function (v) { return SOURCES[what].indexOf(v.measurement) >= 0; });
    return measured ? t("pending") : t("none");
  }

  function stateItem(cls, colour, text) {
    var swatch = el("span", { "class": "swatch" });
    if (colour) swatch.style.background = colour;
    return el("li", { "class": cls }, [swatch, document.createTextNode(text)]);
  }

  function siteCard(site) {
    var cls = onlineClass(site);
    var gateways = site.gateways.map(function (gw) {
      var said = gw.online === true ? t("online") : gw.online === false ? t("offline") : t("unknown");
      var seen = gw.last_seen_wib ? " (" + t("last_seen", { time: wib(gw.last_seen_wib) }) + ")" : "";
      var gcls = gw.online === true ? "online" : gw.online === false ? "offline" : "unknown";
      return el("p", { "class": "gw " + gcls, "data-gateway": gw.id, "data-online": String(gw.online) , 
        text: t("gateway") + " " + gw.id + ": " + said + seen });
    });
    var flood = site.flood
      ? t("flood") + ": " + floodLabel(site) +
        (typeof site.flood.level === "number" ? " (" + number(site.flood.level) + unitShown(site.flood.unit) + ")" : "")
      : t("flood") + ": " + missing(site, "flood");
    var air = site.air
      ? t("air") + ": " + number(site.air.ispu, 0) + " " + (cfg.labels.ispu[site.air.category] || site.air.category) +
        (site.air.dominant ? " (" + t("dominant", { dominant: site.air.dominant }) + ")" : "")
      : t("air") + ": " + missing(site, "air");
    var traffic = t("traffic") + ": " + missing(site, "traffic");
    if (site.traffic) {
      var parts = [];
      if (site.traffic.los) parts.push(t("los", { los: site.traffic.los }));
      if (typeof site.traffic.flow_smp_per_hour === "number") parts.push(t("flow", { flow: number(site.traffic.flow_smp_per_hour, 0) }));
      if (typeof site.traffic.ds === "number") parts.push(t("ds", { ds: number(site.traffic.ds, 2) }));
      traffic = t("traffic") + ": " + parts.join(", ");
    }
    var rows = site.latest.map(function (v) {
      var unit = unitShown(v.unit);
      return el("tr", { "data-field": v.measurement + "." + v.field, "data-gateway": v.gateway }, [
        el("td", { text: v.measurement + "." + v.field + " (" + v.sensor + ")" }),
        el("td", { "class": "v", text: number(v.value) + unit }),
        el("td", { "class": "v", text: wib(v.time_wib).slice(11) })
      ]);
    });
    var latest = rows.length
      ? el("table", { "class": "latest" }, [el("caption", { text: t("latest") })].concat(rows))
      : el("p", { "class": "latest-none", text: t("no_values") });
    var card = el("article", {
      "class": "site " + cls + (state.selected === site.id ? " selected" : ""),
      "data-site": site.id,
      "data-online": String(site.online),
      "data-flood": site.flood ? site.flood.status : "",
      "data-flood-colour": floodColour(site) || "",
      "data-ispu-colour": ispuColour(site) || "",
      "data-los": site.traffic && site.traffic.los ? site.traffic.los : "",
      "data-los-colour": losColour(site) || ""
    }, [
      el("h3", { text: site.name + " " }, [el("small", { text: site.road + " · " + t("kecamatan") + " " + site.kecamatan })]),
      el("div", {}, gateways),
      el("ul", { "class": "states" }, [
        stateItem("flood", floodColour(site), flood),
        stateItem("air", ispuColour(site), air),
        stateItem("traffic", losColour(site), traffic)
      ]),
      latest
    ]);
    card.addEventListener("click", function () { select(site.id); });
    return card;
  }

  function drawList() {
    var box = document.getElementById("sites");
    box.textContent = "";
    if (!state.sites.length) box.appendChild(el("p", { text: t("no_sites") }));
    /* Sites that send values first (the API's order otherwise): they are what staff look at. */
    var ordered = state.sites.filter(function (s) { return s.latest.length; })
      .concat(state.sites.filter(function (s) { return !s.latest.length; }));
    ordered.forEach(function (site) { box.appendChild(siteCard(site)); });
  }

  /* ---- problems ----------------------------------------------------------------------- */

  function showProblem(err) {
    var box = document.getElementById("problem");
    box.textContent = "";
    box.hidden = false;
    if (err.status === 401 || err.status === 403) {
      box.dataset.problem = "unauthorized";
      var input = el("input", { type: "password", id: "api-key", autocomplete: "off", size: "40" });
      var form = el("form", {}, [
        el("label", { "for": "api-key", text: t("key") + " " }), input,
        el("button", { type: "submit", text: t("key_save") }),
        el("small", { text: " " + t("key_note") })
      ]);
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        try { window.localStorage.setItem(KEY_STORE, input.value.trim()); } catch (e) { /* private mode */ }
        refresh();
      });
      box.appendChild(el("p", { text: t("unauthorized") }));
      box.appendChild(el("p", { text: t("unauthorized_fix") }));
      box.appendChild(form);
    } else {
      box.dataset.problem = "failed";
      box.appendChild(el("p", { text: t("failed", { status: err.status || err.message, seconds: cfg.refresh_s }) }));
      /* The API's words (in English, as every API error), quoted as they came. */
      if (err.detail) box.appendChild(el("p", {}, [el("code", { "class": "detail", text: err.detail })]));
    }
  }

  function clearProblem() {
    var box = document.getElementById("problem");
    box.hidden = true;
    box.textContent = "";
    delete box.dataset.problem;
  }

  /* ---- choosing a site (its chart: peta-chart.js) ------------------------------------- */

  function siteById(id) {
    return state.sites.filter(function (s) { return s.id === id; })[0];
  }

  var chart = window.PetaChart({
    state: state, t: t, el: el, getJSON: getJSON, unitShown: unitShown, showProblem: showProblem,
    siteById: siteById
  });
  var alerts = window.PetaAlerts({
    state: state, t: t, el: el, getJSON: getJSON, wib: wib, labels: cfg.labels,
    select: function (id) { select(id); }
  });
  var releases = window.PetaReleases({
    t: t, el: el, getJSON: getJSON, wib: wib, reasons: cfg.reasons || {}
  });

  function select(id) {
    state.selected = id;
    var url = new URL(window.location.href);
    if (url.searchParams.get("site") !== id) {
      url.searchParams.set("site", id); // a link to this site's chart
      window.history.replaceState(null, "", url.toString());
    }
    state.field = null;
    drawMap();
    drawList();
    chart.chooseField();
    chart.draw();
  }

  /* ---- refresh ------------------------------------------------------------------------ */

  function refresh() {
    return getJSON("/sites/latest").then(function (data) {
      state.refreshes += 1;
      document.body.dataset.refreshes = String(state.refreshes);
      state.sites = data.sites || [];
      clearProblem();
      document.getElementById("updated").textContent = t("updated", { time: wib(data.time_wib) });
      drawMap();
      drawList();
      alerts.refresh();
      releases.refresh();
      var asked = new URLSearchParams(window.location.search).get("site");
      if (!state.selected && asked && siteById(asked)) select(asked); // ?site=<id>
      else if (state.selected && siteById(state.selected)) { chart.chooseField(); chart.draw(); }
    }).catch(function (err) { showProblem(err); });
  }

  refresh();
  window.setInterval(refresh, cfg.refresh_s * 1000);
})();
