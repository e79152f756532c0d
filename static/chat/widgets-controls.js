// The widget controls: Button, Input, Textarea, Select, DatePicker, Checkbox, RadioGroup and
// an editable Text. Each is a native element (keyboard, focus, validation and autofill come
// from the browser); a named control carries `data-ckw-field` (its form key) and
// `data-ckw-kind` (how its value is read), see widgets-actions.js.

import { fire } from "./widgets-actions.js";
import { icon } from "./widgets-icons.js";
import { dim, set, typography } from "./widgets-style.js";

function el(tag, className) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  return node;
}

/** The widget form a control belongs to, if any. */
function formOf(control) {
  return control.closest("form.ckw-formlike");
}

/** Marks `node` as the named control `name`, read as `kind`. */
function named(node, name, kind) {
  if (typeof name === "string" && name !== "") node.dataset.ckwField = name;
  node.dataset.ckwKind = kind;
  return node;
}

/** Size, variant and shape shared by the controls. */
function controlLook(node, p, fallbackVariant) {
  node.dataset.size = p.size ?? "md";
  node.dataset.variant = p.variant ?? fallbackVariant;
  if (p.pill) node.classList.add("ckw-pill");
  if (p.block) node.classList.add("ckw-block");
  if (p.disabled) node.disabled = true;
}

function onChange(ctx, node, p) {
  if (!p.onChangeAction) return;
  node.addEventListener("change", () =>
    fire(ctx, p.onChangeAction, { control: node, kind: "change", form: formOf(node) }),
  );
}

function focusOnMount(node, p) {
  if (!p.autoFocus && !p.autoSelect) return;
  requestAnimationFrame(() => {
    if (!node.isConnected) return;
    if (p.autoFocus) node.focus();
    if (p.autoSelect) node.select?.();
  });
}

const BUTTON_COLORS = new Set(["primary", "secondary", "info", "discovery", "success", "caution", "warning", "danger"]);

/** `kind` says how "auto" loading applies: "button" (self) or "confirm" (container). */
export function Button(p, ctx, kind = "button") {
  const button = el("button", "ckw-button");
  button.type = p.submit === true ? "submit" : "button";
  const preset = p.style === "secondary" ? ["secondary", "outline"] : ["primary", "solid"];
  button.dataset.color = BUTTON_COLORS.has(p.color) ? p.color : preset[0];
  controlLook(button, { ...p, size: p.size ?? "lg" }, preset[1]);
  if (p.uniform) button.classList.add("ckw-uniform");
  const iconSize = p.iconSize ?? "md";
  if (p.iconStart) button.append(icon(p.iconStart, iconSize));
  if (typeof p.label === "string" && p.label !== "") {
    const label = el("span", "ckw-button-label");
    label.textContent = p.label;
    button.append(label);
  } else {
    button.setAttribute("aria-label", String(p.iconStart ?? p.iconEnd ?? "button").replace(/^[a-z]+:/, "").replace(/-/g, " "));
  }
  if (p.iconEnd) button.append(icon(p.iconEnd, iconSize));
  ctx.actions.set(button, p.onClickAction);
  button.addEventListener("click", (event) => {
    // A submit button inside a form is handled by the form's submit event (validation first).
    if (button.type === "submit" && formOf(button)) return;
    event.preventDefault();
    fire(ctx, p.onClickAction, { control: button, kind, form: formOf(button) });
  });
  return button;
}

const INPUT_TYPES = new Set(["number", "email", "text", "password", "tel", "url"]);

export function Input(p, ctx) {
  const type = INPUT_TYPES.has(p.inputType) ? p.inputType : "text";
  const input = named(el("input", "ckw-input"), p.name, type === "number" ? "number" : "text");
  input.type = type;
  if (type === "number") input.step = "any";
  if (p.defaultValue !== undefined && p.defaultValue !== null) input.value = String(p.defaultValue);
  if (p.required) input.required = true;
  if (typeof p.pattern === "string") input.pattern = p.pattern;
  if (typeof p.placeholder === "string") input.placeholder = p.placeholder;
  if (p.allowAutofillExtensions !== true) {
    input.autocomplete = "off";
    input.setAttribute("data-1p-ignore", "");
    input.setAttribute("data-lpignore", "true");
  }
  controlLook(input, p, "outline");
  if (p.gutterSize) input.dataset.gutter = p.gutterSize;
  focusOnMount(input, p);
  onChange(ctx, input, p);
  return input;
}

export function Textarea(p, ctx) {
  const area = named(el("textarea", "ckw-input ckw-textarea"), p.name, "text");
  if (p.defaultValue !== undefined && p.defaultValue !== null) area.value = String(p.defaultValue);
  if (p.required) area.required = true;
  if (typeof p.placeholder === "string") area.placeholder = p.placeholder;
  area.rows = Number.isInteger(p.rows) && p.rows > 0 ? p.rows : 3;
  controlLook(area, p, "outline");
  if (p.autoResize) {
    const maxRows = Number.isInteger(p.maxRows) ? p.maxRows : 12;
    const fit = () => {
      area.style.height = "auto";
      const line = Number.parseFloat(getComputedStyle(area).lineHeight) || 20;
      area.style.height = `${Math.min(area.scrollHeight + 2, maxRows * line + 18)}px`;
    };
    area.addEventListener("input", fit);
    requestAnimationFrame(() => area.isConnected && fit());
  }
  focusOnMount(area, p);
  onChange(ctx, area, p);
  return area;
}

export function Select(p, ctx) {
  const wrap = el("span", "ckw-select-wrap");
  const select = named(el("select", "ckw-input ckw-select"), p.name, "select");
  const options = Array.isArray(p.options) ? p.options : [];
  const hasDefault = options.some((o) => o && String(o.value) === String(p.defaultValue));
  if (!hasDefault || p.clearable || p.placeholder) {
    const none = el("option");
    none.value = "";
    none.textContent = p.placeholder ?? "Select…";
    select.append(none);
  }
  for (const o of options) {
    if (!o || o.value === undefined) continue;
    const option = el("option");
    option.value = String(o.value);
    option.textContent = String(o.label ?? o.value);
    if (o.disabled) option.disabled = true;
    if (o.description) option.title = String(o.description);
    select.append(option);
  }
  select.value = hasDefault ? String(p.defaultValue) : "";
  if (p.required) select.required = true;
  controlLook(select, p, "outline");
  if (p.block) wrap.classList.add("ckw-block");
  onChange(ctx, select, p);
  wrap.append(select, icon("chevron-down", "sm"));
  return wrap;
}

/** `YYYY-MM-DD` of a date or timestamp string, or "". */
function day(value) {
  const m = /^(\d{4}-\d{2}-\d{2})/.exec(typeof value === "string" ? value : "");
  return m ? m[1] : "";
}

export function DatePicker(p, ctx) {
  const input = named(el("input", "ckw-input ckw-date"), p.name, "date");
  input.type = "date";
  input.value = day(p.defaultValue);
  if (day(p.min)) input.min = day(p.min);
  if (day(p.max)) input.max = day(p.max);
  if (p.required) input.required = true;
  if (typeof p.placeholder === "string") input.setAttribute("aria-placeholder", p.placeholder);
  controlLook(input, p, "outline");
  onChange(ctx, input, p);
  return input;
}

export function Checkbox(p, ctx) {
  const label = el("label", "ckw-check");
  const box = named(el("input"), p.name, "checkbox");
  box.type = "checkbox";
  box.checked = p.defaultChecked === true;
  if (p.required) box.required = true;
  if (p.disabled) {
    box.disabled = true;
    label.classList.add("ckw-disabled");
  }
  label.append(box);
  if (typeof p.label === "string" && p.label !== "") {
    const text = el("span");
    text.textContent = p.label;
    label.append(text);
  } else if (typeof p.name === "string") {
    box.setAttribute("aria-label", p.name);
  }
  onChange(ctx, box, p);
  return label;
}

export function RadioGroup(p, ctx) {
  const group = named(el("div", "ckw-radios"), p.name, "radio");
  group.setAttribute("role", "radiogroup");
  group.dataset.direction = p.direction === "col" ? "col" : "row";
  if (typeof p.ariaLabel === "string") group.setAttribute("aria-label", p.ariaLabel);
  if (p.required) group.setAttribute("aria-required", "true");
  // Native radio groups are per name in the whole document: make the name unique.
  const groupName = ctx.id();
  for (const o of Array.isArray(p.options) ? p.options : []) {
    if (!o || o.value === undefined) continue;
    const label = el("label", "ckw-check");
    const radio = el("input");
    radio.type = "radio";
    radio.name = groupName;
    radio.value = String(o.value);
    radio.checked = p.defaultValue !== undefined && String(p.defaultValue) === radio.value;
    if (p.required) radio.required = true;
    if (o.disabled || p.disabled) {
      radio.disabled = true;
      label.classList.add("ckw-disabled");
    }
    const text = el("span");
    text.textContent = String(o.label ?? o.value);
    label.append(radio, text);
    group.append(label);
  }
  if (p.disabled) group.setAttribute("aria-disabled", "true");
  if (p.onChangeAction) {
    group.addEventListener("change", () =>
      fire(ctx, p.onChangeAction, { control: group, kind: "change", form: formOf(group) }),
    );
  }
  return group;
}

/** A Text with `editable`: an input that looks like the text until it is focused. */
export function EditableText(p, ctx) {
  const e = p.editable;
  const input = named(el("input", "ckw-input ckw-editable"), e.name, "text");
  input.type = "text";
  input.value = String(p.value ?? "");
  input.dataset.size = p.size ?? "md";
  if (e.required) input.required = true;
  if (typeof e.pattern === "string") input.pattern = e.pattern;
  if (typeof e.placeholder === "string") input.placeholder = e.placeholder;
  input.autocomplete = typeof e.autoComplete === "string" ? e.autoComplete : "off";
  typography(input, p);
  set(input, "width", dim(p.width));
  focusOnMount(input, e);
  return input;
}
