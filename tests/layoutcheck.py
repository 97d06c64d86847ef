"""Is a rendered Plotly chart readable? Text boxes measured in the browser, checked in Python.

``GEOMETRY`` (JavaScript, for ``page.evaluate``) returns, for every chart under a root element
(``document`` by default), the bounding boxes (getBoundingClientRect, CSS pixels, [left, top,
right, bottom]) of its texts, sorted into kinds:

* ``labels``: title, subtitle, axis titles, annotations (panel titles), legend entries and
  title, colour-bar titles, the slider's current value and the buttons: none may overlap another;
* ``ticks``: tick labels, per axis (and colour bar, and slider): none may overlap another of
  its axis (slanted labels compared along their slant), nor a label;
* ``cells``: texts written in heatmap cells: none may overlap another.

Every text must lie inside the chart's own box (nothing cut at its edge). ``problems`` lists
what breaks these rules, in words that name the texts. Used by the figure tests (each builder's
figure drawn alone by plotly.js, ``test_figure_layout``) and the whole-app browser tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

GEOMETRY = r"""(root) => {
  const scope = root || document;
  const box = e => {
    const b = e.getBoundingClientRect();
    return [b.left, b.top, b.right, b.bottom];
  };
  const visible = e => {
    const b = e.getBoundingClientRect();
    if (b.width < 0.5 || b.height < 0.5) return false;
    for (let n = e; n && n.getAttribute; n = n.parentNode) {
      const s = window.getComputedStyle(n);
      if (s.display === 'none' || s.visibility === 'hidden' || s.opacity === '0') return false;
    }
    return true;
  };
  const text = e => (e.textContent || '').trim();
  // A rotated label's own box, in a frame turned back by its angle: labels turned alike are
  // compared there (their screen boxes overlap where the slanted glyphs do not).
  const turned = e => {
    const b = e.getBBox(), m = e.getScreenCTM();
    const angle = Math.atan2(m.b, m.a), cos = Math.cos(angle), sin = Math.sin(angle);
    const xs = [], ys = [];
    for (const [x, y] of [[b.x, b.y], [b.x + b.width, b.y], [b.x, b.y + b.height],
                          [b.x + b.width, b.y + b.height]]) {
      const sx = m.a * x + m.c * y + m.e, sy = m.b * x + m.d * y + m.f;
      xs.push(sx * cos + sy * sin);
      ys.push(-sx * sin + sy * cos);
    }
    return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys),
            Math.round(angle * 180 / Math.PI)];
  };
  const cls = e => (e.getAttribute('class') || '');
  const shown = (c, sel) => [...c.querySelectorAll(sel)].filter(e => text(e) && visible(e));
  return [...scope.querySelectorAll('.js-plotly-plot')].filter(visible).map(c => {
    const labels = [];
    const add = (kind, sel) => shown(c, sel).forEach(e => labels.push([kind, text(e), box(e)]));
    add('title', 'text.gtitle');
    add('subtitle', 'text.gtitle-subtitle');
    [...c.querySelectorAll('.infolayer text')]
      .filter(e => /^[xy]\d*title$/.test(cls(e)) && text(e) && visible(e))
      .forEach(e => labels.push(['axis title', text(e), box(e)]));
    add('annotation', '.annotation-text');
    add('legend', '.legendtext');
    add('legend title', '.legendtitletext');
    add('colour-bar title', '.cbtitle text');
    add('slider value', '.slider-group > text.slider-label');
    shown(c, '.updatemenu-button').forEach(e => labels.push(['button', text(e), box(e)]));
    const ticks = [];
    [...c.querySelectorAll('g')].filter(g => /(^|\s)([xy]\d*tick|[xy]cb\w*tick)(\s|$)/
      .test(cls(g))).forEach(g => {
        const t = g.querySelector('text');
        if (t && text(t) && visible(t)) {
          const axis = cls(g).match(/([xy]cb\w*|[xy]\d*)tick/)[1];
          ticks.push([axis, text(t), box(t), turned(t)]);
        }
      });
    shown(c, '.slider-label-group text')
      .forEach(e => ticks.push(['slider', text(e), box(e), turned(e)]));
    const cells = shown(c, '.hm text, .heatmaplayer text, g.textpoint text')
      .map(e => [text(e), box(e)]);
    return {box: box(c), labels, ticks, cells};
  });
}"""

SLACK = 1.0  # px: touching edges, antialiasing


def overlap(a: Sequence[float], b: Sequence[float], slack: float = SLACK) -> bool:
    """Do boxes [left, top, right, bottom] overlap by more than ``slack`` px each way?"""
    return (
        a[0] + slack < b[2] and b[0] + slack < a[2] and a[1] + slack < b[3] and b[1] + slack < a[3]
    )


def inside(inner: Sequence[float], outer: Sequence[float], slack: float = SLACK) -> bool:
    return (
        inner[0] >= outer[0] - slack
        and inner[1] >= outer[1] - slack
        and inner[2] <= outer[2] + slack
        and inner[3] <= outer[3] + slack
    )


def _pairs(items: Sequence) -> Iterable[tuple]:
    for i, a in enumerate(items):
        for b in items[i + 1 :]:
            yield a, b


def problems(chart: dict, where: str = "") -> list[str]:
    """What is unreadable in one chart of ``GEOMETRY``: texts cut at its edge, labels on
    labels, tick labels on each other or under a label, cell texts on each other."""
    found: list[str] = []
    outer = chart["box"]
    labels = chart["labels"]
    ticks = chart["ticks"]
    for kind, text, b, *_ in [*labels, *ticks]:
        if not inside(b, outer):
            found.append(f"{where}{kind} {text!r} cut at the chart's edge {b} vs {outer}")
    for text, b in chart["cells"]:
        if not inside(b, outer):
            found.append(f"{where}cell text {text!r} outside the chart")
    for (k1, t1, b1), (k2, t2, b2) in _pairs(labels):
        if overlap(b1, b2):
            found.append(f"{where}{k1} {t1!r} overlaps {k2} {t2!r}")
    by_axis: dict[str, list] = {}
    for axis, text, b, own in ticks:
        by_axis.setdefault(axis, []).append((text, b, own))
    for axis, items in by_axis.items():
        for (t1, b1, own1), (t2, b2, own2) in _pairs(items):
            same_slant = own1[4] == own2[4]
            if overlap(own1, own2) if same_slant else overlap(b1, b2):
                found.append(f"{where}{axis} tick labels {t1!r} and {t2!r} overlap")
    for kind, text, b in labels:
        for axis, tick, tb, _ in ticks:
            if overlap(b, tb):
                found.append(f"{where}{kind} {text!r} overlaps the {axis} tick label {tick!r}")
    for (t1, b1), (t2, b2) in _pairs(chart["cells"]):
        if overlap(b1, b2):
            found.append(f"{where}cell texts {t1!r} and {t2!r} overlap")
    return found
