/* The chart of the overview page /peta (api/routes/page.py): the last 24 hours of one field
 * of the site chosen, from GET /series (per minute; raw values when a site has only a few
 * minutes), drawn by uPlot with times in WIB. peta.js makes it with its helpers:
 * window.PetaChart(page) -> {chooseField, draw}. It holds no sentence: page.t gives them.
 */
(function () {
  "use strict";

  /* Fields charted first when a site has them, in this order. */
  var PREFERRED = ["water_level.level", "air_quality.pm25", "traffic.pcu_per_hour", "traffic.count"];

  window.PetaChart = function (page) {
    var state = page.state, t = page.t, el = page.el, getJSON = page.getJSON;
    var unitShown = page.unitShown, showProblem = page.showProblem, siteById = page.siteById;

    function chartable(site) {
      var seen = {};
      var out = site.latest.filter(function (v) {
        var key = v.measurement + "." + v.field;
        if (typeof v.value !== "number" || seen[key]) return false;
        seen[key] = true;
        return true;
      });
      out.sort(function (a, b) {
        var ra = PREFERRED.indexOf(a.measurement + "." + a.field);
        var rb = PREFERRED.indexOf(b.measurement + "." + b.field);
        return (ra < 0 ? 99 : ra) - (rb < 0 ? 99 : rb);
      });
      return out;
    }

    function chooseField() {
      var site = siteById(state.selected);
      var label = document.getElementById("chart-field-label");
      var choice = document.getElementById("chart-field");
      if (!site) { label.hidden = true; return; }
      var fields = chartable(site);
      choice.textContent = "";
      fields.forEach(function (v) {
        choice.appendChild(el("option", { value: v.gateway + "|" + v.sensor + "|" + v.measurement + "|" + v.field,
          text: v.measurement + "." + v.field + " (" + v.gateway + ")" }));
      });
      if (!state.field && fields.length) choice.selectedIndex = 0;
      else if (state.field) choice.value = state.field;
      state.field = choice.value || null;
      label.hidden = fields.length === 0;
    }

    document.getElementById("chart-field").addEventListener("change", function (ev) {
      state.field = ev.target.value;
      draw();
    });

    function seriesUrl(parts, window) {
      var q = new URLSearchParams({ gateway: parts[0], sensor: parts[1], measurement: parts[2], field: parts[3],
        window: window, limit: "10000" });
      return "/series?" + q.toString();
    }

    function draw() {
      var box = document.getElementById("chart");
      var site = siteById(state.selected);
      if (!site || !state.field) {
        if (state.chart) { state.chart.destroy(); state.chart = null; }
        box.textContent = "";
        if (site) box.appendChild(el("p", { text: t("chart_empty") }));
        return;
      }
      var parts = state.field.split("|");
      var asked = state.field;
      /* Per minute over 24 hours; a site that began minutes ago has few minutes: then raw. */
      getJSON(seriesUrl(parts, "1m")).then(function (page) {
        return page.points.length >= 3 ? page : getJSON(seriesUrl(parts, "raw"));
      }).then(function (page) {
        if (asked !== state.field) return;
        var xs = [], ys = [];
        page.points.forEach(function (p) {
          if (typeof p.value !== "number") return;
          xs.push(Date.parse(p.time) / 1000);
          ys.push(p.value);
        });
        document.getElementById("chart-title").textContent = t("chart_of", {
          field: parts[2] + "." + parts[3] + (unitShown(page.unit) ? " (" + unitShown(page.unit).trim() + ")" : ""),
          site: site.name
        });
        if (state.chart) { state.chart.destroy(); state.chart = null; }
        box.textContent = "";
        box.dataset.points = String(xs.length);
        box.dataset.field = parts[2] + "." + parts[3];
        box.dataset.site = site.id;
        if (!xs.length) { box.appendChild(el("p", { text: t("chart_empty") })); return; }
        var inWib = function (ts) { return uPlot.tzDate(new Date(ts * 1000), "Asia/Jakarta"); };
        var hhmm = uPlot.fmtDate("{HH}:{mm}");
        var hhmmss = uPlot.fmtDate("{HH}:{mm}:{ss}");
        var full = uPlot.fmtDate("{DD}-{MM}-{YYYY} {HH}:{mm}");
        state.chart = new uPlot({
          width: Math.max(320, box.clientWidth - 2),
          height: 260,
          tzDate: inWib,
          /* At least the last hour up to now, so that a few minutes of data read as such. */
          scales: { x: { time: true, range: function (u, min, max) {
            var now = Date.now() / 1000;
            return [Math.min(min, now - 3600), Math.max(max, now)];
          } } },
          series: [
            { label: t("time"), value: function (u, ts) { return ts == null ? "--" : full(inWib(ts)); } },
            { label: parts[3], stroke: "#1565c0", width: 2, points: { show: xs.length < 60 } }
          ],
          axes: [
            { values: function (u, splits) {
              var fmt = splits.length > 1 && splits[1] - splits[0] < 60 ? hhmmss : hhmm;
              return splits.map(function (ts) { return fmt(inWib(ts)); });
            } },
            { label: unitShown(page.unit).trim() }
          ]
        }, [xs, ys], box);
        box.dataset.drawn = "true";
      }).catch(function (err) { showProblem(err); });
    }

    return { chooseField: chooseField, draw: draw };
  };
})();
