// Widget props to CSS: ChatKit's colour tokens, 4px spacing units, radii and the flex/box
// props every container shares. Values are set through `style.setProperty`, which drops what
// is not valid CSS for that property, so a widget string can never add another declaration.

const TEXT_TOKENS = new Set([
  "prose", "primary", "emphasis", "secondary", "tertiary",
  "success", "warning", "danger", "info", "discovery", "caution",
]);
const SURFACE_TOKENS = new Set([
  "surface", "surface-secondary", "surface-tertiary",
  "surface-elevated", "surface-elevated-secondary",
]);
const BORDER_TOKENS = new Set(["default", "subtle", "strong"]);

// Hue and saturation of the primitive palette (`red-500`, `gray-100`, ...).
const HUES = {
  red: [0, 84], orange: [25, 95], amber: [38, 92], yellow: [48, 96], lime: [84, 81],
  green: [142, 71], emerald: [160, 84], teal: [173, 80], cyan: [189, 94], sky: [199, 89],
  blue: [217, 91], indigo: [239, 84], violet: [258, 90], purple: [271, 81], fuchsia: [292, 84],
  pink: [330, 81], rose: [350, 89], gray: [220, 9], slate: [215, 20], zinc: [240, 5],
  neutral: [0, 0], stone: [25, 6],
};
// Lightness of each shade.
const SHADES = {
  25: 99, 50: 97, 75: 95, 100: 93, 200: 86, 300: 76, 400: 64, 500: 53,
  600: 45, 700: 37, 800: 29, 900: 21, 950: 13, 1000: 8,
};

/**
 * The CSS colour of a widget colour value: a `{light, dark}` pair, a semantic token (text,
 * surface or border, by `kind`), `alpha-NN` (the text colour at NN% opacity), a primitive
 * palette token, or any CSS colour string.
 */
export function color(value, kind = "text") {
  if (value && typeof value === "object") {
    const light = color(value.light, kind);
    const dark = color(value.dark, kind);
    if (light && dark) return `light-dark(${light}, ${dark})`;
    return light || dark || null;
  }
  if (typeof value !== "string" || value === "") return null;
  if (kind === "border" && BORDER_TOKENS.has(value)) return `var(--ckw-border-${value})`;
  if (kind === "bg" && SURFACE_TOKENS.has(value)) return `var(--ckw-${value})`;
  if (TEXT_TOKENS.has(value)) return `var(--ckw-${value})`;
  if (SURFACE_TOKENS.has(value)) return `var(--ckw-${value})`;
  if (BORDER_TOKENS.has(value)) return `var(--ckw-border-${value})`;
  const alpha = /^alpha-(\d{1,3})$/.exec(value);
  if (alpha) return `color-mix(in srgb, var(--ckw-primary) ${Math.min(100, +alpha[1])}%, transparent)`;
  const palette = /^([a-z]+)-(\d{2,4})$/.exec(value);
  if (palette && HUES[palette[1]] && SHADES[palette[2]] !== undefined) {
    const [h, s] = HUES[palette[1]];
    return `hsl(${h} ${s}% ${SHADES[palette[2]]}%)`;
  }
  return value;
}

/** Sets a style property when `value` is set; an invalid value is ignored by the browser. */
export function set(el, property, value) {
  if (value === null || value === undefined || value === "") return;
  el.style.setProperty(property, String(value));
}

/** A spacing value: numbers are 4px units, strings CSS lengths. */
export function space(value) {
  if (typeof value === "number" && Number.isFinite(value)) return `${value * 4}px`;
  if (typeof value === "string") return value;
  return null;
}

/** A size value: numbers are pixels, strings CSS lengths. */
export function dim(value) {
  if (typeof value === "number" && Number.isFinite(value)) return `${value}px`;
  if (typeof value === "string") return value;
  return null;
}

const RADII = {
  none: "0", "2xs": "2px", xs: "4px", sm: "6px", md: "8px", lg: "12px", xl: "16px",
  "2xl": "20px", "3xl": "24px", "4xl": "32px", full: "9999px", "100%": "100%",
};

export function radius(value) {
  if (typeof value === "number") return `${value}px`;
  return RADII[value] ?? null;
}

/** Padding or margin: a spacing value or `{top, right, bottom, left, x, y}`. */
export function spacing(el, property, value) {
  if (value && typeof value === "object") {
    const side = (name, ...keys) => {
      for (const key of keys) {
        if (value[key] !== undefined) return set(el, `${property}-${name}`, space(value[key]));
      }
    };
    side("top", "top", "y");
    side("bottom", "bottom", "y");
    side("left", "left", "x");
    side("right", "right", "x");
    return;
  }
  set(el, property, space(value));
}

function borderValue(value) {
  if (typeof value === "number") return `${value}px solid var(--ckw-border-default)`;
  if (value && typeof value === "object" && value.size !== undefined) {
    const style = /^[a-z]+$/.test(value.style ?? "") ? value.style : "solid";
    const c = color(value.color, "border") ?? "var(--ckw-border-default)";
    return `${Number(value.size) || 0}px ${style} ${c}`;
  }
  return null;
}

/** A border: a width in px, `{size, color?, style?}`, or per side `{top, right, ..., x, y}`. */
export function border(el, value) {
  const whole = borderValue(value);
  if (whole) return set(el, "border", whole);
  if (!value || typeof value !== "object") return;
  const sides = { top: ["top", "y"], bottom: ["bottom", "y"], left: ["left", "x"], right: ["right", "x"] };
  for (const [side, keys] of Object.entries(sides)) {
    const key = keys.find((k) => value[k] !== undefined);
    if (key) set(el, `border-${side}`, borderValue(value[key]));
  }
}

const ALIGN = { start: "flex-start", center: "center", end: "flex-end", baseline: "baseline", stretch: "stretch" };
const JUSTIFY = {
  start: "flex-start", center: "center", end: "flex-end", between: "space-between",
  around: "space-around", evenly: "space-evenly", stretch: "stretch",
};

/** Width, height and their min/max, with the `size` shorthands. */
export function sizing(el, p) {
  set(el, "width", dim(p.width ?? p.size));
  set(el, "height", dim(p.height ?? p.size));
  set(el, "min-width", dim(p.minWidth ?? p.minSize));
  set(el, "min-height", dim(p.minHeight ?? p.minSize));
  set(el, "max-width", dim(p.maxWidth ?? p.maxSize));
  set(el, "max-height", dim(p.maxHeight ?? p.maxSize));
  if (p.aspectRatio !== undefined) set(el, "aspect-ratio", String(p.aspectRatio));
  if (p.flex !== undefined) set(el, "flex", String(p.flex));
}

/** The flex/box props shared by Box, Row, Col, Form, Card, Basic and ListViewItem. */
export function box(el, p) {
  if (ALIGN[p.align]) {
    set(el, "align-items", ALIGN[p.align]);
    el.classList.add("ckw-aligned");
  }
  if (p.justify) set(el, "justify-content", JUSTIFY[p.justify]);
  if (p.wrap) set(el, "flex-wrap", p.wrap === true ? "wrap" : p.wrap);
  set(el, "gap", space(p.gap));
  sizing(el, p);
  spacing(el, "padding", p.padding);
  spacing(el, "margin", p.margin);
  border(el, p.border);
  set(el, "border-radius", radius(p.radius));
  set(el, "background-color", color(p.background, "bg"));
}

/** Text props shared by Text, Title, Caption and Label. */
export function typography(el, p) {
  set(el, "color", color(p.color));
  if (p.weight) el.dataset.weight = p.weight;
  if (p.textAlign) set(el, "text-align", p.textAlign);
  if (p.italic) set(el, "font-style", "italic");
  if (p.lineThrough) set(el, "text-decoration", "line-through");
  if (p.truncate) el.classList.add("ckw-truncate");
  if (Number.isInteger(p.maxLines) && p.maxLines > 0) {
    el.classList.add("ckw-clamp");
    set(el, "-webkit-line-clamp", String(p.maxLines));
  }
  if (Number.isInteger(p.minLines) && p.minLines > 0) {
    set(el, "min-height", `calc(${p.minLines} * 1lh)`);
  }
  set(el, "width", dim(p.width));
}
