"""Checks the DOM that headless Chromium dumped for a `locsweep report` page.

usage: report_dom_check.py DOM.html SWEEP_NAME N_CONFIGS N_PLOTS [CHECK_DOM.html]

DOM.html is `chromium --dump-dom` of index.html as written; CHECK_DOM.html (optional) is the
dump of the same page with report_check.js appended, whose results it reads from
<pre id="locsweep-check">. Prints one line per check; exits 1 on the first failure.
"""
import html
import json
import re
import sys
from html.parser import HTMLParser


def fail(message):
    print("FAIL:", message)
    sys.exit(1)


class Page(HTMLParser):
    """Collects what the checks need: figures and their SVG content, rows, ids, references."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []
        self.figures = []  # dicts: id, classes, svgs, paths, images, notes
        self.config_rows = []
        self.ids = []
        self.references = []  # (tag, attribute, value) of src/href attributes
        self.scripts = 0
        self.sweep_name = None
        self._text_target = None
        self._cells = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.stack.append(tag)
        if "id" in a:
            self.ids.append(a["id"])
        for key in ("src", "href", "xlink:href"):
            if key in a:
                self.references.append((tag, key, a[key] or ""))
        if tag == "script":
            self.scripts += 1
        if tag == "figure" and "plot" in a.get("class", "").split():
            self.figures.append({"id": a.get("id"), "classes": a.get("class", "").split(), "svgs": 0,
                                 "paths": 0, "nonempty_paths": 0, "images": 0, "notes": []})
        fig = self.figures[-1] if self.figures and "figure" in self.stack else None
        if fig is not None:
            if tag == "svg":
                fig["svgs"] += 1
            elif tag == "path":
                fig["paths"] += 1
                if re.search(r"[ML]\s*-?\d", a.get("d", "")):
                    fig["nonempty_paths"] += 1
            elif tag == "image" and (a.get("xlink:href") or a.get("href") or "").startswith("data:image/png;base64,"):
                fig["images"] += 1
            elif tag == "p" and "note" in a.get("class", ""):
                self._text_target = ("note", fig)
        if tag == "span" and a.get("id") == "sweep-name":
            self._text_target = ("name", None)
            self.sweep_name = ""
        if tag == "tr" and a.get("class") == "config-row":
            self._cells = []
        if tag == "td" and self._cells is not None:
            self._cells.append("")
            self._text_target = ("cell", None)

    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop() == tag:
                break
        if tag in ("p", "span", "td"):
            self._text_target = None
        if tag == "tr" and self._cells is not None:
            self.config_rows.append(self._cells)
            self._cells = None

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        self.handle_endtag(tag)

    def handle_data(self, data):
        if self._text_target is None:
            return
        kind, fig = self._text_target
        if kind == "note":
            fig["notes"].append(data)
        elif kind == "name":
            self.sweep_name += data
        elif kind == "cell":
            self._cells[-1] += data


def main():
    dom_path, sweep_name, n_configs, n_plots = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    page = Page()
    page.feed(open(dom_path, encoding="utf-8").read())

    if page.sweep_name != sweep_name:
        fail(f"sweep name shown as {page.sweep_name!r}, expected {sweep_name!r}")
    print("ok: sweep name shown verbatim (escaped in the source):", page.sweep_name)
    if page.scripts:
        fail(f"{page.scripts} <script> elements in the page (escaping failed?)")
    print("ok: no <script> elements")

    if len(page.config_rows) != n_configs:
        fail(f"{len(page.config_rows)} configuration rows, expected {n_configs}")
    for row in page.config_rows:
        if not re.fullmatch(r"\d+\.\d{3} ± \d+\.\d{3}", row[6]):
            fail(f"row {row[0]!r}: PPL cell {row[6]!r} is not 'mean ± ci'")
    print("ok: table rows:", ", ".join(f"{r[0]} (PPL {r[6]})" for r in page.config_rows))

    drawn = [f for f in page.figures if f["svgs"] == 1 and "skipped" not in f["classes"]]
    if len(page.figures) != n_plots or len(drawn) != n_plots:
        fail(f"{len(page.figures)} figures, {len(drawn)} drawn, expected {n_plots}: {page.figures}")
    for f in drawn:
        if f["nonempty_paths"] < 5:
            fail(f"figure {f['id']}: only {f['nonempty_paths']} non-empty gnuplot paths")
        if f["id"].startswith("plot-attention") and f["images"] != 2:
            fail(f"figure {f['id']}: {f['images']} embedded PNG heatmaps, expected 2 (first and last layer)")
        if f["notes"]:
            fail(f"figure {f['id']} has notes: {f['notes']}")
    print("ok: figures:", ", ".join(f"{f['id']} ({f['nonempty_paths']} paths, {f['images']} images)" for f in drawn))

    duplicates = sorted({i for i in page.ids if page.ids.count(i) > 1})
    if duplicates:
        fail(f"duplicate ids: {duplicates[:10]}")
    print(f"ok: {len(page.ids)} ids, all distinct")
    external = [r for r in page.references if not (r[2].startswith("#") or r[2].startswith("data:"))]
    if external:
        fail(f"references outside the page: {external[:5]}")
    print(f"ok: {len(page.references)} references, all inside the page (#id or data:)")

    if len(sys.argv) > 5:
        text = open(sys.argv[5], encoding="utf-8").read()
        found = re.findall(r'<pre id="locsweep-check">(.*?)</pre>', text, re.S)
        if not found:
            fail("the check script left no result (did it run?)")
        result = json.loads(html.unescape(found[-1]))  # the element it appended last
        if result["errors"]:
            fail(f"page errors: {result['errors']}")
        if len(result["figures"]) != n_plots:
            fail(f"check script saw {len(result['figures'])} figures")
        for f in result["figures"]:
            if f["width"] < 300 or f["height"] < 150:
                fail(f"figure {f['id']} renders at {f['width']}x{f['height']} px")
            if f["drawn_paths"] < 5:
                fail(f"figure {f['id']}: {f['drawn_paths']} paths with a rendered length")
            if f["images"] != f["decoded"]:
                fail(f"figure {f['id']}: {f['decoded']} of {f['images']} heatmap images decode")
        print("ok: rendered:", ", ".join(f"{f['id']} {f['width']:.0f}x{f['height']:.0f}px" for f in result["figures"]))


if __name__ == "__main__":
    main()
