// What a widget does when used: the action config with ChatKit's defaults filled in, the form
// values merged into its payload (protocol section 6.2), native validation before a submit, and
// the loading state shown while the host handles the action.

/** An ActionConfig with its defaults, or null when `config` is not an action. */
export function normalizeAction(config) {
  if (!config || typeof config !== "object" || typeof config.type !== "string" || config.type === "") {
    return null;
  }
  return {
    ...config,
    payload: config.payload ?? null,
    handler: config.handler ?? "server",
    loadingBehavior: config.loadingBehavior ?? "auto",
    streaming: config.streaming ?? true,
  };
}

// Dotted names must not reach into an object's prototype.
const UNSAFE = new Set(["__proto__", "prototype", "constructor", ""]);

/**
 * `payload` with each `[name, value]` added: dotted names nest (`todo.title` goes to
 * `payload.todo.title`) and a key the payload already has is kept. A payload that is not an
 * object (a string, an array) is returned unchanged, as there is nowhere to put the values.
 */
export function mergePayload(payload, values) {
  if (payload !== null && (typeof payload !== "object" || Array.isArray(payload))) return payload;
  const out = payload === null ? {} : structuredClone(payload);
  for (const [name, value] of values) {
    const parts = String(name).split(".");
    if (parts.some((part) => UNSAFE.has(part))) continue;
    let target = out;
    for (const part of parts.slice(0, -1)) {
      if (!Object.hasOwn(target, part)) target[part] = {};
      const next = target[part];
      target = next && typeof next === "object" && !Array.isArray(next) ? next : null;
      if (!target) break;
    }
    const leaf = parts[parts.length - 1];
    if (target && !Object.hasOwn(target, leaf)) target[leaf] = value;
  }
  return out;
}

/** The value of one named control (see `data-ckw-kind` set by the controls). */
function valueOf(el) {
  switch (el.dataset.ckwKind) {
    case "checkbox":
      return el.checked;
    case "number":
      return el.value === "" || Number.isNaN(el.valueAsNumber) ? el.value : el.valueAsNumber;
    case "radio": {
      const checked = el.querySelector("input[type=radio]:checked");
      return checked ? checked.value : null;
    }
    default:
      return el.value;
  }
}

/** `[name, value]` of every enabled named control inside `scope`, in document order. */
export function fieldValues(scope) {
  const out = [];
  for (const el of scope.querySelectorAll("[data-ckw-field]")) {
    if (el.disabled || el.getAttribute("aria-disabled") === "true") continue;
    out.push([el.dataset.ckwField, valueOf(el)]);
  }
  return out;
}

/** The `[name, value]` of one control, for the change action of a control outside a form. */
export function ownValue(el) {
  const field = el.closest("[data-ckw-field]");
  return field ? [[field.dataset.ckwField, valueOf(field)]] : [];
}

/**
 * Checks every control in `form` with the browser's own constraint validation (`required`,
 * `pattern`, input types), and shows the browser's message on the first that fails.
 */
export function validateForm(form) {
  for (const el of form.querySelectorAll("input, select, textarea")) {
    if (!el.disabled && !el.checkValidity()) {
      el.reportValidity();
      el.focus({ preventScroll: false });
      return false;
    }
  }
  return true;
}

// What `loadingBehavior: "auto"` means for each way of firing an action.
const AUTO = { button: "self", item: "self", confirm: "container", form: "container", change: "none" };

function showLoading(root, mode, control) {
  if (mode === "container" && root) {
    root.inert = true;
    root.classList.add("ckw-busy");
    root.setAttribute("aria-busy", "true");
    return () => {
      root.inert = false;
      root.classList.remove("ckw-busy");
      root.removeAttribute("aria-busy");
    };
  }
  if (mode === "self" && control) {
    const wasDisabled = control.disabled;
    if ("disabled" in control) control.disabled = true;
    else control.setAttribute("aria-disabled", "true");
    control.classList.add("ckw-loading");
    control.setAttribute("aria-busy", "true");
    return () => {
      if ("disabled" in control) control.disabled = wasDisabled;
      else control.removeAttribute("aria-disabled");
      control.classList.remove("ckw-loading");
      control.removeAttribute("aria-busy");
    };
  }
  return () => {};
}

// Controls whose action is being handled: a second click waits for the first.
const pending = new WeakSet();

/**
 * Fires `config` from `control`: builds the payload (with the values of `form` or, for a change
 * outside a form, the control's own value), applies the loading behaviour, and waits for the
 * host's `onAction`. A failing host is reported on the console; the widget stays usable.
 */
export async function fire(ctx, config, { control, kind, form }) {
  const action = normalizeAction(config);
  if (!action || (control && pending.has(control))) return;
  let values = [];
  if (form) values = fieldValues(form);
  else if (kind === "change" && control) values = ownValue(control);
  const payload = values.length ? mergePayload(action.payload, values) : action.payload;
  const mode = action.loadingBehavior === "auto" ? AUTO[kind] ?? "none" : action.loadingBehavior;
  if (control) pending.add(control);
  const done = showLoading(ctx.root, mode, control);
  try {
    await ctx.host.onAction?.(action, payload);
  } catch (error) {
    console.error("widget action failed", action.type, error);
  } finally {
    done();
    if (control) pending.delete(control);
  }
}
