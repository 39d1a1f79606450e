import DeployAnalysis
import DeployModel
import Foundation

/// One self-contained HTML page around a drawn SVG: pan (drag) and zoom (wheel, +/-), a search
/// box that finds a node by name and centres it, a click on a node listing its attributes and
/// its priced time, a toggle for the critical path, and the findings linked to their nodes.
/// Everything it runs is in the page (no network, no library: the script below is the
/// project's own, under its license).
public struct InteractivePage: Sendable {
    public var title: String
    /// What priced the figures, said on the page.
    public var pricedBy: String
    /// For each node drawn (by its name, the SVG's `<title>`): its facts, in order.
    public var details: [String: [(key: String, value: String)]] = [:]
    /// The findings to list, each with the node it names.
    public var findings: [(text: String, node: String?)] = []
    /// For a node not drawn (a folded GPU's, a collective drawn once for many), the node drawn
    /// for it: a search for it selects that one.
    public var aliases: [String: String] = [:]
    /// Why a node is not drawn as itself: `folded GPU` (its GPU runs what the drawn one runs),
    /// `sibling` (drawn once for several like it on its GPU), `collective` (drawn once for
    /// several like it), or `hidden` (folded, with nothing drawn in its place).
    public var aliasReasons: [String: String] = [:]
    /// The SVG element id of each node drawn (`Diagram.svgID`), by which the page finds it
    /// whatever graphviz made of its name in the `<title>`.
    public var ids: [String: String] = [:]
    /// A paragraph above the node's facts (the report's verdict), plain text.
    public var summary: String?

    public init(title: String, pricedBy: String) {
        self.title = title
        self.pricedBy = pricedBy
    }

    /// The facts of every node of `graph`, and its cost under `analysis` when given.
    public mutating func describe(_ graph: OperatorGraph, analysis: Analysis?, folding: Folding? = nil) {
        if let folding {
            for v in graph.nodes.indices where !folding.isShown(v) {
                let name = graph.nodes[v].name
                if let w = folding.drawnAs(v), w != v {
                    aliases[name] = graph.nodes[w].name
                    aliasReasons[name] =
                        graph.nodes[v].op.isCommunication
                        ? "collective" : folding.drawn[v] ? "sibling" : "folded GPU"
                } else {
                    aliasReasons[name] = "hidden"
                }
            }
        }
        for (v, node) in graph.nodes.enumerated() {
            ids[Diagram.svgID(v)] = node.name
            var facts: [(String, String)] = [("op", node.op.rawValue)]
            if let gpu = node.gpu { facts.append(("gpu", String(gpu))) }
            if !node.group.isEmpty { facts.append(("group", GPUList.format(node.group))) }
            facts.append(("out", node.out.description))
            if let layer = node.layer { facts.append(("layer", String(layer))) }
            if let block = node.block { facts.append(("block", block)) }
            let a = node.attributes
            if node.op == .matmul, let m = a["m"], let k = a["k"], let n = a["n"] {
                facts.append(("Get_Time", "Get_Time(\(m), \(k), \(n))"))
            }
            if let analysis, v < analysis.costs.count, analysis.unboundSymbols.isEmpty {
                let c = analysis.costs[v]
                facts.append(("time", Format.seconds(c.seconds)))
                if c.flops > 0 { facts.append(("FLOPs", Format.flops(c.flops))) }
                if c.memoryBytes > 0 && !node.op.isCommunication { facts.append(("memory traffic", Format.bytes(c.memoryBytes))) }
                if node.op.isCommunication {
                    facts.append(("sent per GPU", Format.bytes(c.sentBytesPerGPU)))
                    if let link = c.link { facts.append(("link", link.rawValue)) }
                }
            }
            for (key, value) in a.dictionary.sorted(by: { $0.key < $1.key }) { facts.append((key, value)) }
            if let label = node.label { facts.append(("label", label)) }
            details[node.name] = facts.map { (key: $0.0, value: $0.1) }
        }
    }

    /// The page's data, as the script reads it: JSON safe inside a `<script>` element.
    var data: String {
        var json = JSONText(scriptSafe: true)
        func object(_ key: String, _ map: [String: String]) {
            json.string(key)
            json.raw(":{")
            for (i, name) in map.keys.sorted().enumerated() {
                if i > 0 { json.raw(",") }
                json.string(name)
                json.raw(":")
                json.string(map[name]!)
            }
            json.raw("},")
        }
        json.raw("{")
        json.string("details")
        json.raw(":{")
        for (i, name) in details.keys.sorted().enumerated() {
            if i > 0 { json.raw(",") }
            json.string(name)
            json.raw(":[")
            for (j, fact) in details[name]!.enumerated() {
                json.raw(j > 0 ? ",[" : "[")
                json.string(fact.key)
                json.raw(",")
                json.string(fact.value)
                json.raw("]")
            }
            json.raw("]")
        }
        json.raw("},")
        object("aliases", aliases)
        object("ids", ids)
        object("reasons", aliasReasons)
        json.string("findings")
        json.raw(":[")
        for (i, finding) in findings.enumerated() {
            json.raw(i > 0 ? ",{" : "{")
            json.string("text")
            json.raw(":")
            json.string(finding.text)
            json.raw(",")
            json.string("node")
            json.raw(":")
            if let node = finding.node { json.string(node) } else { json.raw("null") }
            json.raw("}")
        }
        json.raw("]}")
        return json.text
    }

    /// What identifies the page but for graphviz's layout: the diagram laid out (its DOT), the
    /// data and the page's own code. `make dags` keeps a page whose fingerprint is unchanged.
    public func fingerprint(diagram: String) -> String { fingerprint(diagram: diagram, data: data) }

    private func fingerprint(diagram: String, data: String) -> String {
        DiagramFingerprint.hash([diagram, data, title, pricedBy, summary ?? "", Self.style, Self.script].joined(separator: "\u{0}"))
    }

    /// The page, the SVG (laid out from `diagram`) inlined.
    public func html(svg: [UInt8], diagram: String) -> String {
        var text = String(decoding: svg, as: UTF8.self)
        // The inline SVG needs no XML prolog, doctype or comments before it.
        if let start = text.range(of: "<svg") { text = String(text[start.lowerBound...]) }
        text = Self.withoutScriptLinks(text)
        let data = self.data
        return """
            <!DOCTYPE html>
            <!-- \(DiagramFingerprint.marker)\(fingerprint(diagram: diagram, data: data)) -->
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta name="generator" content="deploydag">
            <title>\(title.xmlEscaped)</title>
            <style>\(Self.style)</style>
            </head>
            <body data-selected="" data-js-errors="0">
            <header>
            <strong>\(title.xmlEscaped)</strong>
            <input id="search" type="search" placeholder="find a node by name" aria-label="find a node by name" list="names">
            <datalist id="names"></datalist>
            <label><input id="critical" type="checkbox" checked> critical path</label>
            <button id="fit" type="button">fit</button>
            <span id="status"></span>
            </header>
            <main>
            <div id="viewport">\(text)</div>
            <aside id="panel">
            \(summary.map { "<section id=\"summary\"><p>\($0.xmlEscaped)</p></section>" } ?? "")
            <section id="details"><h2>node</h2><p class="hint">Click a node, or search for one by name.</p></section>
            <section id="findings"><h2>findings</h2></section>
            <p class="hint">Figures priced by \(pricedBy.xmlEscaped). Drag to pan, wheel or +/- to zoom.</p>
            </aside>
            </main>
            <script id="dag-data" type="application/json">\(data)</script>
            <script>\(Self.script)</script>
            </body>
            </html>

            """
    }

    /// The SVG with every link that would run script (`javascript:`, `vbscript:`, `data:` in an
    /// `href`) made inert: a page that says it runs only its own code must not run a file's.
    static func withoutScriptLinks(_ svg: String) -> String {
        var out = ""
        var rest = Substring(svg)
        while let r = rest.range(of: "href=\"") {
            out += rest[..<r.upperBound]
            rest = rest[r.upperBound...]
            let value = rest.prefix { $0 != "\"" }
            // Browsers ignore whitespace and control characters in a scheme, and read entities.
            let scheme = String(value.filter { !$0.isWhitespace && !($0.asciiValue.map { $0 < 0x20 } ?? false) }.lowercased())
            let decoded = scheme.replacingOccurrences(of: "&#58;", with: ":").replacingOccurrences(of: "&#x3a;", with: ":")
                .replacingOccurrences(of: "&colon;", with: ":")
            let named = decoded.prefix { $0 != ":" }
            if decoded.contains(":") && (named.contains("&") || ["javascript", "vbscript", "data"].contains(String(named))) {
                out += "#"
                rest = rest[value.endIndex...]
            }
        }
        return out + rest
    }

    static let style = """
        html,body{margin:0;height:100%;font:14px Helvetica,Arial,sans-serif;color:#212529}
        body{display:flex;flex-direction:column}
        header{display:flex;gap:12px;align-items:center;padding:6px 10px;border-bottom:1px solid #dee2e6;background:#f8f9fa}
        header strong{white-space:nowrap;overflow:hidden;text-overflow:ellipsis;max-width:40%}
        #search{width:22em;padding:3px 6px}
        #status{color:#6c757d}
        main{flex:1;display:flex;min-height:0}
        #viewport{flex:1;overflow:hidden;cursor:grab;background:#fff}
        #viewport.dragging{cursor:grabbing}
        #viewport svg{width:100%;height:100%;display:block}
        #panel{width:340px;overflow:auto;border-left:1px solid #dee2e6;padding:0 10px;font-size:13px}
        #panel h2{font-size:14px;margin:10px 0 6px}
        #details table{border-collapse:collapse;width:100%}
        #details td{border-top:1px solid #f1f3f5;padding:2px 4px;vertical-align:top;word-break:break-all}
        #details td:first-child{color:#6c757d;white-space:nowrap;word-break:normal}
        #findings ul{padding-left:16px;margin:0}
        #findings li{margin-bottom:4px}
        #findings a{color:#c92a2a;cursor:pointer}
        .hint{color:#6c757d}
        g.node{cursor:pointer}
        g.node.selected>path,g.node.selected>polygon,g.node.selected>ellipse,g.node.selected a>path,g.node.selected a>polygon,g.node.selected a>ellipse{stroke:#1c7ed6;stroke-width:5px}
        body.hide-critical g.critical path,body.hide-critical g.critical polygon,body.hide-critical g.critical ellipse{stroke:#495057;stroke-width:1px}
        """

    static let script = """
        (function () {
          "use strict";
          window.addEventListener("error", function () {
            document.body.dataset.jsErrors = String(Number(document.body.dataset.jsErrors) + 1);
          });
          var data = JSON.parse(document.getElementById("dag-data").textContent);
          var svg = document.querySelector("#viewport svg");
          var viewport = document.getElementById("viewport");
          var status = document.getElementById("status");
          // Own properties only: a node may be called "constructor" or "__proto__".
          function own(object, key) { return Object.prototype.hasOwnProperty.call(object, key) ? object[key] : undefined; }
          var nodes = new Map();
          svg.querySelectorAll("g.node").forEach(function (g) {
            var name = own(data.ids, g.id);
            if (name === undefined) { var t = g.querySelector("title"); name = t ? t.textContent : undefined; }
            if (name !== undefined && !nodes.has(name)) { nodes.set(name, g); }
          });
          var names = Array.from(nodes.keys()).sort();
          var list = document.getElementById("names");
          // Offered as the user types: the DAG's nodes (drawn or folded), not the legend's.
          Object.keys(data.details).sort().slice(0, 5000).forEach(function (n) {
            var o = document.createElement("option"); o.value = n; list.appendChild(o);
          });
          // The view box: pan and zoom change it; "fit" restores the whole drawing.
          var whole = svg.viewBox.baseVal;
          var home = { x: whole.x, y: whole.y, w: whole.width, h: whole.height };
          var box = { x: home.x, y: home.y, w: home.w, h: home.h };
          svg.removeAttribute("width"); svg.removeAttribute("height");
          function apply() { svg.setAttribute("viewBox", box.x + " " + box.y + " " + box.w + " " + box.h); }
          function fit() { box = { x: home.x, y: home.y, w: home.w, h: home.h }; apply(); }
          function toUser(clientX, clientY) {
            var p = svg.createSVGPoint(); p.x = clientX; p.y = clientY;
            return p.matrixTransform(svg.getScreenCTM().inverse());
          }
          function zoom(factor, cx, cy) {
            var c = (cx === undefined) ? { x: box.x + box.w / 2, y: box.y + box.h / 2 } : toUser(cx, cy);
            box.x = c.x - (c.x - box.x) * factor; box.y = c.y - (c.y - box.y) * factor;
            box.w *= factor; box.h *= factor; apply();
          }
          viewport.addEventListener("wheel", function (e) {
            e.preventDefault(); zoom(e.deltaY > 0 ? 1.15 : 1 / 1.15, e.clientX, e.clientY);
          }, { passive: false });
          var drag = null;
          viewport.addEventListener("mousedown", function (e) {
            drag = { x: e.clientX, y: e.clientY, moved: false, box: { x: box.x, y: box.y } };
            viewport.classList.add("dragging");
          });
          window.addEventListener("mousemove", function (e) {
            if (!drag) { return; }
            var scale = box.w / viewport.clientWidth;
            var dx = e.clientX - drag.x, dy = e.clientY - drag.y;
            if (Math.abs(dx) + Math.abs(dy) > 3) { drag.moved = true; }
            box.x = drag.box.x - dx * scale; box.y = drag.box.y - dy * scale; apply();
          });
          window.addEventListener("mouseup", function () { viewport.classList.remove("dragging"); setTimeout(function () { drag = null; }, 0); });
          document.addEventListener("keydown", function (e) {
            if (e.target.tagName === "INPUT") { return; }
            if (e.key === "+" || e.key === "=") { zoom(1 / 1.25); }
            if (e.key === "-") { zoom(1.25); }
            if (e.key === "0") { fit(); }
          });
          document.getElementById("fit").addEventListener("click", fit);
          document.getElementById("critical").addEventListener("change", function (e) {
            document.body.classList.toggle("hide-critical", !e.target.checked);
          });
          function show(name) {
            var section = document.getElementById("details");
            section.textContent = "";
            var h = document.createElement("h2"); h.textContent = name; section.appendChild(h);
            var facts = own(data.details, name);
            if (!facts) {
              var p = document.createElement("p"); p.className = "hint";
              p.textContent = "No facts for this node: a legend entry, or a node of a file that is not a deploydag DAG.";
              section.appendChild(p); return;
            }
            var table = document.createElement("table");
            facts.forEach(function (f) {
              var tr = document.createElement("tr");
              var k = document.createElement("td"); k.textContent = f[0];
              var v = document.createElement("td"); v.textContent = f[1];
              tr.appendChild(k); tr.appendChild(v); table.appendChild(tr);
            });
            section.appendChild(table);
          }
          function select(name, centre, own) {
            nodes.forEach(function (g) { g.classList.remove("selected"); });
            var g = nodes.get(name);
            document.body.dataset.selected = g ? name : "";
            if (!g) { status.textContent = "no node named " + name; return false; }
            g.classList.add("selected");
            show(own || name);
            status.textContent = name;
            if (centre) {
              var b = g.getBBox();
              var p = svg.createSVGPoint(); p.x = b.x + b.width / 2; p.y = b.y + b.height / 2;
              var m = svg.getScreenCTM().inverse().multiply(g.getScreenCTM());
              var c = p.matrixTransform(m);
              // Zoomed so that the node's text reads: about a quarter of the window's height.
              var aspect = viewport.clientWidth / Math.max(viewport.clientHeight, 1);
              var h = Math.min(Math.max(b.height * 4, 300), home.h), w = h * aspect;
              box = { x: c.x - w / 2, y: c.y - h / 2, w: w, h: h }; apply();
            }
            return true;
          }
          function find(query) {
            query = query.trim();
            if (!query) { return; }
            if (nodes.has(query)) { return select(query, true); }
            var alias = own(data.aliases, query);
            var why = {
              "folded GPU": "its GPU runs the same operators on the same shapes as the one drawn",
              "sibling": "drawn once for the nodes like it on its GPU",
              "collective": "drawn once for the collectives like it"
            };
            if (alias !== undefined && nodes.has(alias)) {
              // The node's own facts, the node drawn for it selected.
              var found = select(alias, true, query);
              status.textContent = query + " is drawn as " + alias + " (" + (own(why, own(data.reasons, query)) || "folded") + ")";
              document.body.dataset.alias = query;
              return found;
            }
            if (own(data.reasons, query) === "hidden") {
              show(query);
              status.textContent = query + " is folded away (its GPUs are drawn by others); render --unfold draws it";
              document.body.dataset.selected = "";
              document.body.dataset.alias = query;
              return false;
            }
            var lower = query.toLowerCase();
            var hit = names.find(function (n) { return n.toLowerCase().indexOf(lower) >= 0; });
            if (hit) { return select(hit, true); }
            status.textContent = "no node matches " + query + " in this drawing (a view shows part of the DAG)";
            document.body.dataset.selected = "";
            return false;
          }
          var search = document.getElementById("search");
          search.addEventListener("keydown", function (e) { if (e.key === "Enter") { find(search.value); } });
          search.addEventListener("change", function () { find(search.value); });
          nodes.forEach(function (g, n) {
            g.addEventListener("click", function (e) {
              if (drag && drag.moved) { return; }
              e.preventDefault(); select(n, false);
            });
          });
          var fl = document.getElementById("findings");
          if (data.findings.length === 0) {
            var none = document.createElement("p"); none.className = "hint"; none.textContent = "deploydag check: no findings.";
            fl.appendChild(none);
          } else {
            var ul = document.createElement("ul");
            data.findings.forEach(function (f) {
              var li = document.createElement("li");
              if (f.node) {
                var a = document.createElement("a"); a.textContent = f.node; a.dataset.node = f.node;
                a.addEventListener("click", function () { select(f.node, true); });
                li.appendChild(a); li.appendChild(document.createTextNode(": "));
              }
              li.appendChild(document.createTextNode(f.text));
              ul.appendChild(li);
            });
            fl.appendChild(ul);
          }
          // #search=NAME (the tests' entry point, and a link to a node): find it on load.
          var m = /^#search=(.+)$/.exec(window.location.hash);
          if (m) {
            var wanted = m[1];
            try { wanted = decodeURIComponent(wanted); } catch (err) { /* not percent-encoded: taken as written */ }
            search.value = wanted; find(wanted);
          }
          document.body.dataset.ready = "true";
        })();
        """
}
