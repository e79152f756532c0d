// ChatKit widgets rendered with DOM APIs: a widget item's JSON tree (root Card, ListView or
// Basic) becomes an element styled by widgets.css. Widget strings only ever reach the page as
// text nodes, attributes or checked style values; Markdown goes through DOMPurify. An unknown
// component renders its children (or nothing) and a broken one is skipped, so one odd node
// never hides the rest of a widget.
//
// renderWidget(widget, host) -> HTMLElement
//   host.itemId: the widget item's id; host.onAction(action, payload) -> Promise, called with
//   the ActionConfig (defaults filled) and its payload with form values merged in.

import { fire } from "./widgets-actions.js";
import { chart } from "./widgets-chart.js";
import * as controls from "./widgets-controls.js";
import { icon } from "./widgets-icons.js";
import { renderMarkdown } from "./markdown.js";
import { border, box, color, dim, radius, set, sizing, space, spacing, typography } from "./widgets-style.js";

let serial = 0;

function el(tag, className) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  return node;
}

function text(tag, className, value) {
  const node = el(tag, className);
  node.textContent = value === undefined || value === null ? "" : String(value);
  return node;
}

function childList(node) {
  if (Array.isArray(node.children)) return node.children;
  if (node.children && typeof node.children === "object") return [node.children];
  return [];
}

/** Renders one component; null for what cannot be shown. */
function render(node, ctx) {
  if (!node || typeof node !== "object" || typeof node.type !== "string") return null;
  const make = Object.hasOwn(COMPONENTS, node.type) ? COMPONENTS[node.type] : Unknown;
  try {
    const out = make(node, ctx);
    if (out && typeof node.id === "string") out.dataset.widgetId = node.id;
    if (out && typeof node.key === "string") out.dataset.widgetKey = node.key;
    return out;
  } catch (error) {
    console.warn("widget component not rendered", node.type, error);
    return null;
  }
}

function appendChildren(parent, node, ctx) {
  for (const child of childList(node)) {
    const out = render(child, ctx);
    if (out) parent.append(out);
  }
  return parent;
}

/** Box, Row, Col and the other flex containers. */
function flex(node, ctx, direction, tag = "div") {
  const div = el(tag, `ckw-box ckw-${direction}`);
  box(div, node);
  return appendChildren(div, node, ctx);
}

function theme(target, value) {
  if (value === "light" || value === "dark") target.dataset.theme = value;
}

/** The line above a card or list: an icon or favicon, then text. */
function status(value) {
  if (!value || typeof value !== "object" || typeof value.text !== "string") return null;
  const line = el("div", "ckw-status");
  if (typeof value.favicon === "string" && safeSrc(value.favicon)) {
    const img = el("img", value.frame ? "ckw-favicon ckw-framed" : "ckw-favicon");
    img.src = value.favicon;
    img.alt = "";
    line.append(img);
  } else if (value.icon) {
    line.append(icon(value.icon, "sm"));
  }
  line.append(text("span", "", value.text));
  return line;
}

/** Image sources that load an image and nothing else: http(s), data:image, or same-site. */
function safeSrc(src) {
  if (typeof src !== "string" || src === "") return false;
  if (/^data:image\/(png|jpe?g|gif|webp|avif|svg\+xml)[;,]/i.test(src)) return true;
  try {
    const url = new URL(src, document.baseURI);
    return url.protocol === "https:" || url.protocol === "http:";
  } catch {
    return false;
  }
}

/** Wires a widget form: a submit validates, then fires the submitter's or the form's action. */
function bindForm(form, ctx, action, kind) {
  form.classList.add("ckw-formlike");
  form.noValidate = true;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    event.stopPropagation();
    if (event.target !== form) return;
    const submitter = event.submitter && form.contains(event.submitter) ? event.submitter : null;
    const config = (submitter && ctx.actions.get(submitter)) || action;
    if (!config || !validateAll(form)) return;
    fire(ctx, config, { control: submitter, kind: submitter ? kind : "form", form });
  });
}

function validateAll(form) {
  for (const control of form.querySelectorAll("input, select, textarea")) {
    if (!control.disabled && !control.checkValidity()) {
      control.reportValidity();
      return false;
    }
  }
  return true;
}

function Card(node, ctx) {
  const card = el(node.asForm ? "form" : "div", "ckw-card");
  card.dataset.size = ["sm", "md", "lg", "full"].includes(node.size) ? node.size : "md";
  theme(card, node.theme);
  set(card, "background-color", color(node.background, "bg"));
  border(card, node.border);
  const body = el("div", "ckw-card-body ckw-box ckw-col");
  if (node.padding !== undefined) {
    spacing(body, "padding", node.padding);
    if (typeof node.padding !== "object") set(body, "--ckw-pad", space(node.padding));
  }
  appendChildren(body, node, ctx);
  if (node.collapsed) {
    const details = el("details", "ckw-collapse");
    details.append(text("summary", "", "Show details"), body);
    card.append(details);
  } else {
    card.append(body);
  }
  const footer = el("div", "ckw-card-footer");
  for (const [which, button] of [["cancel", node.cancel], ["confirm", node.confirm]]) {
    if (!button || typeof button !== "object") continue;
    const b = controls.Button(
      {
        label: button.label ?? (which === "confirm" ? "Confirm" : "Cancel"),
        style: which === "confirm" ? "primary" : "secondary",
        submit: which === "confirm" && node.asForm === true,
        onClickAction: button.action,
      },
      ctx,
      which === "confirm" ? "confirm" : "button",
    );
    footer.append(b);
  }
  if (footer.childElementCount) card.append(footer);
  if (node.asForm) bindForm(card, ctx, node.confirm?.action, "confirm");
  return card;
}

function ListViewItem(node, ctx) {
  const item = el("div", "ckw-lvi ckw-box ckw-row");
  box(item, { gap: node.gap ?? 3, align: node.align ?? "center" });
  appendChildren(item, node, ctx);
  if (node.onClickAction) {
    item.classList.add("ckw-clickable");
    item.tabIndex = 0;
    item.setAttribute("role", "button");
    const go = () => fire(ctx, node.onClickAction, { control: item, kind: "item", form: item.closest("form.ckw-formlike") });
    item.addEventListener("click", (event) => {
      if (event.target.closest("button, a, input, select, textarea, label") && event.target !== item) return;
      if (item.getAttribute("aria-disabled") !== "true") go();
    });
    item.addEventListener("keydown", (event) => {
      if (event.target !== item || (event.key !== "Enter" && event.key !== " ")) return;
      event.preventDefault();
      if (item.getAttribute("aria-disabled") !== "true") go();
    });
  }
  return item;
}

function ListView(node, ctx) {
  const list = el("ul", "ckw-listview");
  theme(list, node.theme);
  const items = [];
  for (const child of childList(node)) {
    const out = render(child, ctx);
    if (!out) continue;
    const li = el("li", "ckw-lvi-wrap");
    li.append(out);
    items.push(li);
    list.append(li);
  }
  const limit = node.limit === "auto" ? 5 : node.limit;
  if (Number.isInteger(limit) && limit > 0 && items.length > limit) {
    const hidden = items.slice(limit);
    for (const li of hidden) li.hidden = true;
    const more = el("button", "ckw-show-more");
    more.type = "button";
    more.textContent = `Show ${hidden.length} more`;
    more.append(icon("chevron-down", "sm"));
    more.addEventListener("click", () => {
      for (const li of hidden) li.hidden = false;
      more.remove();
      hidden[0].querySelector("[tabindex], button, input, select, textarea")?.focus();
    });
    const li = el("li", "ckw-lvi-more");
    li.append(more);
    list.append(li);
  }
  return list;
}

function Title(node) {
  const h = text("h3", "ckw-title", node.value);
  h.dataset.size = node.size ?? "md";
  typography(h, node);
  return h;
}

function Text(node, ctx) {
  if (node.editable && typeof node.editable === "object" && typeof node.editable.name === "string") {
    return controls.EditableText(node, ctx);
  }
  const p = text("p", "ckw-text", node.value);
  p.dataset.size = node.size ?? "md";
  if (node.streaming) p.classList.add("ckw-streaming");
  typography(p, node);
  return p;
}

function Caption(node) {
  const p = text("p", "ckw-caption", node.value);
  p.dataset.size = node.size ?? "md";
  typography(p, node);
  return p;
}

function Markdown(node) {
  const div = el("div", "ckw-markdown");
  div.append(renderMarkdown(node.value ?? ""));
  return div;
}

function Label(node) {
  const label = text("label", "ckw-label", node.value);
  label.dataset.size = node.size ?? "sm";
  if (typeof node.fieldName === "string") label.dataset.forField = node.fieldName;
  typography(label, node);
  return label;
}

function Badge(node) {
  const badge = text("span", "ckw-badge", node.label);
  badge.dataset.color = node.color ?? "secondary";
  badge.dataset.variant = node.variant ?? "soft";
  badge.dataset.size = node.size ?? "sm";
  if (node.pill) badge.classList.add("ckw-pill");
  return badge;
}

function Icon(node) {
  const svg = icon(node.name, node.size ?? "md");
  set(svg, "color", color(node.color));
  return svg;
}

function Image(node) {
  if (!safeSrc(node.src)) return null;
  const img = el("img", "ckw-image");
  img.src = node.src;
  img.alt = typeof node.alt === "string" ? node.alt : "";
  img.loading = "lazy";
  img.decoding = "async";
  sizing(img, node);
  spacing(img, "margin", node.margin);
  set(img, "object-fit", node.fit ?? "cover");
  set(img, "object-position", node.position);
  set(img, "border-radius", radius(node.radius));
  set(img, "background-color", color(node.background, "bg"));
  if (node.frame) img.classList.add("ckw-framed");
  if (node.flush) img.classList.add("ckw-flush");
  return img;
}

function Divider(node) {
  const hr = el("hr", "ckw-divider");
  set(hr, "border-top-color", color(node.color, "border"));
  set(hr, "border-top-width", dim(node.size));
  const gap = space(node.spacing);
  if (gap) {
    set(hr, "margin-top", gap);
    set(hr, "margin-bottom", gap);
  }
  if (node.flush) hr.classList.add("ckw-flush");
  return hr;
}

function Spacer(node) {
  const div = el("div", "ckw-spacer");
  set(div, "flex-basis", dim(node.minSize));
  div.setAttribute("aria-hidden", "true");
  return div;
}

function Transition(node, ctx) {
  const div = el("div", "ckw-transition");
  return appendChildren(div, node, ctx);
}

function Form(node, ctx) {
  const form = flex(node, ctx, node.direction === "row" ? "row" : "col", "form");
  bindForm(form, ctx, node.onSubmitAction, "button");
  return form;
}

/** `Table` holds `Table.Row`s; a row with `header: true` goes to the table head. */
function Table(node, ctx) {
  const wrap = el("div", "ckw-table-wrap");
  const table = el("table", "ckw-table");
  const head = el("thead");
  const body = el("tbody");
  for (const child of childList(node)) {
    const row = render(child, ctx);
    if (!row) continue;
    (row.tagName === "TR" && child.header === true ? head : body).append(row);
  }
  if (head.childElementCount) table.append(head);
  table.append(body);
  sizing(wrap, node);
  wrap.append(table);
  return wrap;
}

function TableRow(node, ctx) {
  const tr = el("tr");
  for (const child of childList(node)) {
    const cell = render(child.type === "Table.Cell" ? { ...child, header: child.header ?? node.header } : child, ctx);
    if (!cell) continue;
    if (cell.tagName === "TD" || cell.tagName === "TH") {
      tr.append(cell);
    } else {
      // Any other component in a row gets a cell of its own.
      const td = el("td");
      td.append(cell);
      tr.append(td);
    }
  }
  return tr;
}

function TableCell(node, ctx) {
  const cell = el(node.header ? "th" : "td");
  if (node.header) cell.scope = "col";
  if (node.value !== undefined && node.value !== null) cell.append(String(node.value));
  appendChildren(cell, node, ctx);
  if (["start", "center", "end"].includes(node.align)) set(cell, "text-align", node.align);
  if (Number.isInteger(node.colSpan)) cell.colSpan = node.colSpan;
  if (Number.isInteger(node.rowSpan)) cell.rowSpan = node.rowSpan;
  set(cell, "width", dim(node.width));
  return cell;
}

function Unknown(node, ctx) {
  if (childList(node).length === 0) return null;
  return flex(node, ctx, node.direction === "row" ? "row" : "col");
}

const COMPONENTS = {
  Card,
  ListView,
  ListViewItem,
  Basic: (node, ctx) => flex(node, ctx, node.direction === "row" ? "row" : "col"),
  Box: (node, ctx) => flex(node, ctx, node.direction === "row" ? "row" : "col"),
  Row: (node, ctx) => flex(node, ctx, "row"),
  Col: (node, ctx) => flex(node, ctx, "col"),
  Form,
  Transition,
  Text,
  Title,
  Caption,
  Markdown,
  Label,
  Badge,
  Icon,
  Image,
  Divider,
  Spacer,
  Chart: (node) => chart(node),
  Button: controls.Button,
  Input: controls.Input,
  Textarea: controls.Textarea,
  Select: controls.Select,
  DatePicker: controls.DatePicker,
  Checkbox: controls.Checkbox,
  RadioGroup: controls.RadioGroup,
  Table,
  "Table.Row": TableRow,
  "Table.Cell": TableCell,
};

/**
 * Ties each Label to its control by field name: `for` on an input, `aria-labelledby` on a
 * radio group, and for a group of checkboxes named `name.*` the label names the group.
 */
function linkLabels(root, ctx) {
  for (const label of root.querySelectorAll("label[data-for-field]")) {
    const name = label.dataset.forField;
    const fields = [...root.querySelectorAll("[data-ckw-field]")];
    const exact = fields.find((f) => f.dataset.ckwField === name);
    if (!label.id) label.id = ctx.id();
    if (exact && exact.matches("input, select, textarea")) {
      if (!exact.id) exact.id = ctx.id();
      label.htmlFor = exact.id;
    } else if (exact) {
      exact.setAttribute("aria-labelledby", label.id);
    } else if (fields.some((f) => f.dataset.ckwField.startsWith(`${name}.`))) {
      const group = label.parentElement;
      group.setAttribute("role", "group");
      group.setAttribute("aria-labelledby", label.id);
    }
  }
}

/** Renders a widget item's `widget` into a new element; `host` receives its actions. */
export function renderWidget(widget, host) {
  const uid = `ckw${++serial}`;
  let n = 0;
  const root = el("div", "ckw");
  const ctx = {
    host: host ?? {},
    root,
    actions: new WeakMap(),
    id: () => `${uid}-${++n}`,
  };
  root.dataset.itemId = host?.itemId ?? "";
  if (!widget || typeof widget !== "object") return root;
  theme(root, widget.theme);
  const line = widget.type === "Card" || widget.type === "ListView" ? status(widget.status) : null;
  if (line) root.append(line);
  const body = render(widget, ctx);
  if (body) {
    body.classList.add("ckw-root");
    root.dataset.type = widget.type;
    root.append(body);
  }
  linkLabels(root, ctx);
  return root;
}
