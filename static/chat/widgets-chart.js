// The `Chart` widget: bar, line and area series as inline SVG, with axis labels, grid lines,
// a legend and a native tooltip (an SVG <title>) on every bar and point. It is drawn for the
// width it gets and drawn again when that width changes, so labels keep their size on a phone.

import { color, dim, set } from "./widgets-style.js";

const SVG = "http://www.w3.org/2000/svg";
const PALETTE = ["var(--ckw-chart-1)", "var(--ckw-chart-2)", "var(--ckw-chart-3)", "var(--ckw-chart-4)", "var(--ckw-chart-5)"];

function svg(tag, attrs = {}, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

function num(v) {
  const n = typeof v === "number" ? v : Number.parseFloat(v);
  return Number.isFinite(n) ? n : 0;
}

/** Round tick values covering [min, max]. */
function ticks(min, max, count = 4) {
  if (max === min) max = min + 1;
  const raw = (max - min) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out = [];
  for (let v = Math.floor(min / step) * step; v <= max + step * 1e-9; v += step) out.push(+v.toFixed(10));
  if (out[out.length - 1] < max) out.push(out[out.length - 1] + step);
  return out;
}

function fmt(n) {
  const a = Math.abs(n);
  if (a >= 1e9) return `${+(n / 1e9).toFixed(1)}B`;
  if (a >= 1e6) return `${+(n / 1e6).toFixed(1)}M`;
  if (a >= 1e4) return `${+(n / 1e3).toFixed(1)}k`;
  return String(+n.toFixed(2));
}

/** A gap given as "20%" of `of`, or in pixels. */
function gap(value, of, fallback) {
  if (typeof value === "number") return value;
  if (typeof value === "string" && value.endsWith("%")) return (of * num(value)) / 100;
  if (typeof value === "string") return num(value);
  return fallback;
}

function linePath(points, curve) {
  if (points.length === 0) return "";
  let d = `M${points[0][0]} ${points[0][1]}`;
  for (let i = 1; i < points.length; i++) {
    const [x0, y0] = points[i - 1];
    const [x1, y1] = points[i];
    if (curve === "linear") d += `L${x1} ${y1}`;
    else if (curve === "step") d += `H${(x0 + x1) / 2}V${y1}H${x1}`;
    else if (curve === "stepBefore") d += `V${y1}H${x1}`;
    else if (curve === "stepAfter") d += `H${x1}V${y1}`;
    else {
      const dx = (x1 - x0) / 2;
      d += `C${x0 + dx} ${y0} ${x1 - dx} ${y1} ${x1} ${y1}`;
    }
  }
  return d;
}

function draw(fig, p, width) {
  const data = Array.isArray(p.data) ? p.data.filter((d) => d && typeof d === "object") : [];
  const series = (Array.isArray(p.series) ? p.series : []).filter(
    (s) => s && ["bar", "line", "area"].includes(s.type) && typeof s.dataKey === "string",
  );
  const xAxis = typeof p.xAxis === "string" ? { dataKey: p.xAxis } : p.xAxis ?? {};
  const labels = xAxis.labels && typeof xAxis.labels === "object" ? xAxis.labels : {};
  const showY = p.showYAxis === true;
  const showX = xAxis.hide !== true;
  const height = typeof p.height === "number" ? p.height : 200;
  const pad = { top: 8, right: 8, bottom: showX ? 26 : 8, left: showY ? 44 : 8 };
  const plotW = Math.max(10, width - pad.left - pad.right);
  const plotH = Math.max(10, height - pad.top - pad.bottom);
  const n = Math.max(1, data.length);
  const band = plotW / n;

  // Stacked values: series sharing a `stack` id add up, per type.
  const stackTop = new Map();
  const base = series.map((s) =>
    data.map((d, i) => {
      if (!s.stack) return 0;
      const key = `${s.type}:${s.stack}:${i}`;
      const below = stackTop.get(key) ?? 0;
      stackTop.set(key, below + num(d[s.dataKey]));
      return below;
    }),
  );
  let min = 0;
  let max = 0;
  series.forEach((s, si) =>
    data.forEach((d, i) => {
      const top = base[si][i] + num(d[s.dataKey]);
      min = Math.min(min, top, base[si][i]);
      max = Math.max(max, top);
    }),
  );
  const yTicks = ticks(min, max);
  const y0 = yTicks[0];
  const y1 = yTicks[yTicks.length - 1];
  const y = (v) => pad.top + plotH - ((v - y0) / (y1 - y0 || 1)) * plotH;
  // Bars need a band per category; lines and areas alone run from edge to edge.
  const banded = series.some((s) => s.type === "bar") || n === 1;
  const x = banded
    ? (i) => pad.left + band * i + band / 2
    : (i) => pad.left + 4 + ((plotW - 8) * i) / (n - 1);

  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, class: "ckw-chart-svg" });
  root.setAttribute("aria-hidden", "true");
  for (const t of yTicks) {
    root.append(svg("line", { x1: pad.left, x2: width - pad.right, y1: y(t), y2: y(t), class: "ckw-chart-grid" }));
    if (showY) root.append(svg("text", { x: pad.left - 6, y: y(t) + 4, "text-anchor": "end", class: "ckw-chart-label" }, fmt(t)));
  }
  if (showX && xAxis.dataKey) {
    const every = Math.max(1, Math.ceil(n / Math.max(1, Math.floor(plotW / 56))));
    data.forEach((d, i) => {
      if (i % every !== 0) return;
      const raw = d[xAxis.dataKey];
      const text = String(labels[raw] ?? raw ?? "");
      root.append(svg("text", { x: x(i), y: height - 8, "text-anchor": "middle", class: "ckw-chart-label" }, text));
    });
  }

  const tint = (s, si) => color(s.color) ?? PALETTE[si % PALETTE.length];
  const category = (i) => String(labels[data[i]?.[xAxis.dataKey]] ?? data[i]?.[xAxis.dataKey] ?? i + 1);
  // Bars: one slot per stack (or unstacked series) in each category.
  const bars = series.filter((s) => s.type === "bar");
  const slots = [...new Set(bars.map((s, i) => (s.stack ? `s:${s.stack}` : `b:${i}`)))];
  const catGap = gap(p.barCategoryGap, band, band * 0.2);
  const barGap = gap(p.barGap, band, 4);
  const barW = Math.max(1, (band - catGap - barGap * (slots.length - 1)) / Math.max(1, slots.length));
  series.forEach((s, si) => {
    const fill = tint(s, si);
    const label = s.label ?? s.dataKey;
    if (s.type === "bar") {
      const slot = slots.indexOf(s.stack ? `s:${s.stack}` : `b:${bars.indexOf(s)}`);
      data.forEach((d, i) => {
        const v = num(d[s.dataKey]);
        const top = y(base[si][i] + Math.max(v, 0));
        const bottom = y(base[si][i] + Math.min(v, 0));
        const left = pad.left + band * i + catGap / 2 + slot * (barW + barGap);
        const rect = svg("rect", { x: left, y: top, width: barW, height: Math.max(0, bottom - top), rx: Math.min(4, barW / 4), class: "ckw-chart-bar" });
        rect.style.fill = fill;
        if (p.showTooltip !== false) rect.append(svg("title", {}, `${category(i)} · ${label}: ${d[s.dataKey] ?? 0}`));
        root.append(rect);
      });
      return;
    }
    const points = data.map((d, i) => [x(i), y(base[si][i] + num(d[s.dataKey]))]);
    const curve = s.curveType ?? "natural";
    if (s.type === "area") {
      const floor = data.map((_, i) => [x(i), y(base[si][i])]).reverse();
      const area = svg("path", { d: `${linePath(points, curve)}L${floor.map((pt) => pt.join(" ")).join("L")}Z`, class: "ckw-chart-area" });
      area.style.fill = fill;
      root.append(area);
    }
    const line = svg("path", { d: linePath(points, curve), class: "ckw-chart-line" });
    line.style.stroke = fill;
    root.append(line);
    points.forEach(([px, py], i) => {
      const dot = svg("circle", { cx: px, cy: py, r: 3, class: "ckw-chart-dot" });
      dot.style.stroke = fill;
      if (p.showTooltip !== false) dot.append(svg("title", {}, `${category(i)} · ${label}: ${data[i][s.dataKey] ?? 0}`));
      root.append(dot);
    });
  });
  fig.querySelector(".ckw-chart-svg")?.remove();
  fig.prepend(root);
  return series;
}

/** The chart element for a `Chart` widget's props. */
export function chart(p) {
  const fig = document.createElement("figure");
  fig.className = "ckw-chart";
  set(fig, "width", dim(p.width ?? p.size));
  set(fig, "min-width", dim(p.minWidth ?? p.minSize));
  set(fig, "max-width", dim(p.maxWidth ?? p.maxSize));
  if (p.flex !== undefined) set(fig, "flex", String(p.flex));
  const series = draw(fig, p, 480);
  const names = series.map((s) => s.label ?? s.dataKey);
  fig.setAttribute("role", "img");
  fig.setAttribute("aria-label", `Chart${names.length ? `: ${names.join(", ")}` : ""}`);
  if (p.showLegend === true || (p.showLegend !== false && series.length > 1)) {
    const legend = document.createElement("figcaption");
    legend.className = "ckw-chart-legend";
    series.forEach((s, si) => {
      const item = document.createElement("span");
      const swatch = document.createElement("span");
      swatch.className = "ckw-chart-swatch";
      swatch.style.background = color(s.color) ?? PALETTE[si % PALETTE.length];
      item.append(swatch, document.createTextNode(s.label ?? s.dataKey));
      legend.append(item);
    });
    fig.append(legend);
  }
  let drawn = 480;
  new ResizeObserver(([entry]) => {
    const w = Math.round(entry.contentRect.width);
    if (w > 0 && Math.abs(w - drawn) > 1) {
      drawn = w;
      draw(fig, p, w);
    }
  }).observe(fig);
  return fig;
}
