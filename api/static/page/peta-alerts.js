/* The active alerts of the overview page /peta (api/routes/page.py), from GET /alerts (the
 * alerts service's, in the registry): the ones not resolved, each with its rule and level, the
 * site and since when (WIB); a click shows the site. No section when the API has no alerts
 * to show (no registry, or alerts not open to this reader). peta.js makes it with its
 * helpers: window.PetaAlerts(page) -> {refresh}. It holds no sentence: page.t gives them.
 */
(function () {
  "use strict";

  window.PetaAlerts = function (page) {
    function siteOfGateway(gw) {
      return page.state.sites.filter(function (s) {
        return s.gateways.some(function (g) { return g.id === gw; });
      })[0];
    }

    function drawAlerts(list) {
      var box = document.getElementById("alerts");
      box.textContent = "";
      var open = list.filter(function (a) { return a.state !== "resolved"; });
      box.hidden = !open.length;
      box.dataset.count = String(open.length);
      if (!open.length) return;
      box.appendChild(page.el("h2", { text: page.t("alerts") }));
      var items = page.el("ul");
      open.forEach(function (a) {
        var site = siteOfGateway(a.gateway);
        var level = page.labels.flood[a.level] || page.labels.ispu[a.level] || a.level;
        var what = a.level === "raised" ? a.rule : a.rule + ": " + level;
        var place = site ? site.name : a.gateway;
        var text = page.t("alert_item", { what: what, place: place, time: page.wib(a.raised_at_wib) });
        if (a.state === "acknowledged") text += " " + page.t("alert_acknowledged");
        var item = page.el("li", { "class": "alert " + a.severity, text: text });
        item.dataset.alert = a.id;
        item.dataset.severity = a.severity;
        item.dataset.state = a.state;
        if (site) item.addEventListener("click", function () { page.select(site.id); });
        items.appendChild(item);
      });
      box.appendChild(items);
    }

    function refresh() {
      /* No alerts (an API without registry, or alerts not open to this reader): no section. */
      return page.getJSON("/alerts?limit=100").then(drawAlerts).catch(function () {
        var box = document.getElementById("alerts");
        box.hidden = true;
        box.dataset.count = "unavailable";
      });
    }

    return { refresh: refresh };
  };
})();
