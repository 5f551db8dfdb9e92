/* The software updates of the overview page /peta (api/routes/page.py), from GET /releases:
 * the gateways behind their group's desired release, each with why its last update failed
 * when it did (the updater's reason, from the gateway's status), and the sensor nodes whose
 * firmware differs from their profile's desired firmware. No section when the API has no
 * releases to show (no registry, or not open to this reader) or nothing is desired yet.
 * peta.js makes it with its helpers: window.PetaReleases(page) -> {refresh}. It holds no
 * sentence: page.t gives them, page.reasons the updater's reasons.
 */
(function () {
  "use strict";

  window.PetaReleases = function (page) {
    function known(value) { return value || page.t("release_unknown"); }

    function why(update) {
      var template = page.reasons[update.reason];
      var detail = update.detail || "";
      if (!template) return [update.reason, detail].filter(Boolean).join(": ") || "-";
      return template.split("{detail}").join(detail);
    }

    function gatewayItem(b) {
      var text = page.t("release_gateway", {
        gateway: b.gateway, group: b.group, version: known(b.version), desired: b.desired
      });
      var u = b.update;
      var failed = !!(u && u.failed);
      if (failed) {
        text += ". " + page.t(u.time_wib ? "release_failed" : "release_failed_untimed", {
          version: u.version || known(null), result: page.t("update_result." + u.result),
          time: u.time_wib ? page.wib(u.time_wib) : "", reason: why(u)
        });
      }
      var classes = ["release", "gateway"].concat(failed ? ["failed"] : []);
      var item = page.el("li", { "class": classes.join(" "), text: text });
      item.dataset.gateway = b.gateway;
      item.dataset.failed = String(failed);
      if (failed) item.dataset.reason = u.reason || "";
      return item;
    }

    function nodeItem(n) {
      var item = page.el("li", { "class": ["release", "node"].join(" "), text: page.t("release_node", {
        device: n.device, gateway: n.gateway, profile: n.profile, firmware: known(n.firmware),
        desired: n.desired
      }) });
      item.dataset.gateway = n.gateway;
      item.dataset.device = n.device;
      item.dataset.firmware = n.firmware || "";
      return item;
    }

    function draw(data) {
      var box = document.getElementById("releases");
      box.textContent = "";
      var desired = (data.groups || []).length + (data.firmware || []).length;
      var behind = data.behind || [], nodes = data.nodes_behind || [];
      box.hidden = !desired;
      box.dataset.gateways = String(behind.length);
      box.dataset.nodes = String(nodes.length);
      if (!desired) return;
      box.appendChild(page.el("h2", { text: page.t("releases") }));
      if (!behind.length && !nodes.length) {
        box.appendChild(page.el("p", { text: page.t("release_all_current") }));
        return;
      }
      var list = page.el("ul");
      /* Failed updates first: they need a technician. */
      behind.filter(function (b) { return b.update && b.update.failed; })
        .concat(behind.filter(function (b) { return !(b.update && b.update.failed); }))
        .forEach(function (b) { list.appendChild(gatewayItem(b)); });
      nodes.forEach(function (n) { list.appendChild(nodeItem(n)); });
      box.appendChild(list);
    }

    function refresh() {
      return page.getJSON("/releases").then(draw).catch(function () {
        var box = document.getElementById("releases");
        box.hidden = true;
        box.dataset.gateways = "unavailable";
      });
    }

    return { refresh: refresh };
  };
})();
