// The page script of the HTML format: zoom and pan (d3-zoom), search that highlights matching nodes and edges,
// a panel with the rules of a clicked chain, node or edge. Plain ES2017 run by the browser; it reads the scene
// data from a JSON <script> element and writes dump strings only through textContent.

export const CLIENT_SCRIPT = String.raw`(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("iptscope-data").textContent);
  var svgElement = document.querySelector("#canvas svg");
  var svg = d3.select(svgElement);
  var viewport = svg.select("g.viewport");
  var input = document.getElementById("search");
  var count = document.getElementById("count");
  var panel = document.getElementById("panel");
  var panelTitle = document.getElementById("panel-title");
  var panelDetail = document.getElementById("panel-detail");
  var panelRules = document.getElementById("panel-rules");
  var panelMore = document.getElementById("panel-more");

  svgElement.removeAttribute("width");
  svgElement.removeAttribute("height");
  var zoom = d3.zoom().scaleExtent([0.05, 40]).on("zoom", function (event) {
    viewport.attr("transform", event.transform.toString());
  });
  svg.call(zoom).on("dblclick.zoom", null);
  document.getElementById("fit").addEventListener("click", function () {
    svg.transition().duration(300).call(zoom.transform, d3.zoomIdentity);
  });

  function itemOf(element) {
    var index = Number(element.getAttribute("data-index"));
    return element.classList.contains("node") ? data.nodes[index] : data.edges[index];
  }

  var nodes = Array.prototype.slice.call(svgElement.querySelectorAll("g.node"));
  var edges = Array.prototype.slice.call(svgElement.querySelectorAll("g.edge"));
  function search() {
    var query = input.value.trim().toLowerCase();
    var hits = 0;
    svgElement.classList.toggle("searching", query.length > 0);
    nodes.concat(edges).forEach(function (element) {
      var hit = query.length > 0 && itemOf(element).search.indexOf(query) >= 0;
      element.classList.toggle("hit", hit);
      if (hit && element.classList.contains("node")) hits++;
    });
    var edgeHits = svgElement.querySelectorAll("g.edge.hit").length;
    count.textContent = query.length === 0 ? "" : hits + " node(s), " + edgeHits + " edge(s)";
  }
  input.addEventListener("input", search);

  function line(text, className) {
    var element = document.createElement("div");
    element.className = className;
    element.textContent = text;
    return element;
  }

  function show(element) {
    var item = itemOf(element);
    svgElement.querySelectorAll(".selected").forEach(function (e) { e.classList.remove("selected"); });
    element.classList.add("selected");
    panelTitle.textContent = item.title;
    panelDetail.textContent = item.hover.slice(0, 3).join("\n");
    panelRules.textContent = "";
    item.rules.forEach(function (rule) {
      var entry = document.createElement("li");
      var where = rule.table + " " + rule.chain + " #" + rule.position + " · line " + rule.line;
      if (rule.counters) where += " · " + rule.counters.packets + " pkts, " + rule.counters.bytes + " bytes";
      entry.appendChild(line(where, "where"));
      entry.appendChild(line(rule.text, "rule"));
      panelRules.appendChild(entry);
    });
    panelMore.textContent = item.rulesOmitted > 0 ? "… and " + item.rulesOmitted + " more rule(s)" : item.rules.length === 0 ? "no rules" : "";
    panel.hidden = false;
  }

  svgElement.addEventListener("click", function (event) {
    var element = event.target.closest("g.node, g.edge");
    if (element) show(element);
  });
  function close() {
    panel.hidden = true;
    svgElement.querySelectorAll(".selected").forEach(function (e) { e.classList.remove("selected"); });
  }
  document.getElementById("close").addEventListener("click", close);
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") close();
    if (event.key === "/" && document.activeElement !== input) { event.preventDefault(); input.focus(); }
  });
})();
`;
