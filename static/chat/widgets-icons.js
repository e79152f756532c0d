// The icons of widgets: an inline SVG for each of ChatKit's icon names and a few common
// Lucide names, drawn on a 24px grid with a 2px stroke. An unknown name (a `vendor:` icon, a
// Lucide icon not drawn here) becomes a dot, so a widget never shows a hole.

const SVG = "http://www.w3.org/2000/svg";

/** A circle as path data. */
const o = (cx, cy, r) => `M${cx - r} ${cy}a${r} ${r} 0 1 0 ${2 * r} 0a${r} ${r} 0 1 0 ${-2 * r} 0`;
const ring = o(12, 12, 9);
const doc = "M6 3h8l5 5v13H6z";
const frame = "M6 4h12a2 2 0 0 1 2 2v12a2 2 0 0 1-2 2H6a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z";
const person = [o(12, 8, 4), "M4 21a8 8 0 0 1 16 0"];
const card = ["M3 5h18v14H3z", o(9, 11, 2), "M6 16.5c.6-1.4 1.7-2 3-2s2.4.6 3 2", "M15 10h3", "M15 14h3"];
const notebook = ["M6 3h12v18H6z", "M9.5 3v18", "M4 7.5h3", "M4 12h3", "M4 16.5h3"];
const star = "M12 3l2.8 5.7 6.2.9-4.5 4.4 1.1 6.2L12 17.3l-5.6 2.9 1.1-6.2L3 9.6l6.2-.9z";
const sparkle = "M12 3c.5 4.5 2 6.5 7 9-5 2.5-6.5 4.5-7 9-.5-4.5-2-6.5-7-9 5-2.5 6.5-4.5 7-9z";
const pencil = ["M4 20h4L19 9l-4-4L4 16z", "M13 7l4 4"];

// Path data per name. "F" before a path fills it; "K" strokes it in the surface colour
// (a mark knocked out of a filled shape).
const ICONS = {
  agent: ["M12 3v3", "M7 6h10a2 2 0 0 1 2 2v9a2 2 0 0 1-2 2H7a2 2 0 0 1-2-2V8a2 2 0 0 1 2-2z", o(9.5, 12, 1), o(14.5, 12, 1), "M9.5 16h5"],
  analytics: ["M4 20h16", "M7 16v-4", "M12 16V7", "M17 16V9"],
  atom: [o(12, 12, 1.5), "M4 12a8 3.5 0 1 0 16 0a8 3.5 0 1 0-16 0", "M12 4a3.5 8 0 1 0 0 16a3.5 8 0 1 0 0-16"],
  batch: ["M12 3l9 5-9 5-9-5z", "M3 12l9 5 9-5", "M3 16l9 5 9-5"],
  bolt: ["M13 2L4 14h7l-1 8 9-12h-7z"],
  "book-open": ["M2 5h6a4 4 0 0 1 4 4v11a3 3 0 0 0-3-3H2z", "M22 5h-6a4 4 0 0 0-4 4v11a3 3 0 0 1 3-3h7z"],
  "book-closed": ["M5 20V5a2 2 0 0 1 2-2h12v15H7a2 2 0 0 0-2 2 2 2 0 0 0 2 2h12v-4"],
  "book-clock": ["M5 20V5a2 2 0 0 1 2-2h12v15H7a2 2 0 0 0-2 2 2 2 0 0 0 2 2h12v-4", o(12, 10, 3.5), "M12 8.5V10l1 1"],
  bug: ["M8 10a4 4 0 0 1 8 0v5a4 4 0 0 1-8 0z", "M4 11h4", "M16 11h4", "M4 16h4", "M16 16h4", "M9.5 6.5L8 4", "M14.5 6.5L16 4"],
  calendar: [frame, "M4 10h16", "M8 2.5v4", "M16 2.5v4"],
  chart: ["M4 4v16h16", "M8 15l4-4 3 3 5-6"],
  check: ["M5 12.5l4.5 4.5L19 7"],
  "check-circle": [ring, "M8 12.5l3 3 5-6"],
  "check-circle-filled": ["F" + o(12, 12, 10), "KM7.5 12.5l3 3 6-6.5"],
  "chevron-left": ["M15 5l-7 7 7 7"],
  "chevron-right": ["M9 5l7 7-7 7"],
  "chevron-down": ["M5 9l7 7 7-7"],
  "chevron-up": ["M5 15l7-7 7 7"],
  "circle-question": [ring, "M9.5 9.5a2.5 2.5 0 1 1 3.5 2.3c-.6.3-1 .8-1 1.5v.7", "M12 17v.5"],
  compass: [ring, "M15.5 8.5l-2 5-5 2 2-5z"],
  confetti: ["M4 20l4-11 7 7z", "M14 3.5v2", "M19 9h2", "M17 6l2-2", "M13 9l2-2"],
  cube: ["M12 3l8 4.5v9L12 21l-8-4.5v-9z", "M4 7.5l8 4.5 8-4.5", "M12 12v9"],
  desktop: ["M3 5h18v11H3z", "M8 20h8", "M12 16v4"],
  document: [doc, "M14 3v5h5", "M9 13h6", "M9 17h6"],
  dot: ["F" + o(12, 12, 3)],
  "dots-horizontal": ["F" + o(6, 12, 1.6), "F" + o(12, 12, 1.6), "F" + o(18, 12, 1.6)],
  "dots-vertical": ["F" + o(12, 6, 1.6), "F" + o(12, 12, 1.6), "F" + o(12, 18, 1.6)],
  "empty-circle": [o(12, 12, 8)],
  "external-link": ["M14 4h6v6", "M20 4l-9 9", "M18 14v5a1 1 0 0 1-1 1H5a1 1 0 0 1-1-1V7a1 1 0 0 1 1-1h5"],
  globe: [ring, "M3 12h18", "M12 3a14 14 0 0 1 0 18a14 14 0 0 1 0-18"],
  keys: [o(8, 15, 4), "M11 12l9-9", "M17 6l3 3", "M14.5 8.5l2 2"],
  lab: ["M9 3h6", "M10 3v6l-5.5 9.5A1.7 1.7 0 0 0 6 21h12a1.7 1.7 0 0 0 1.5-2.5L14 9V3", "M7 15h10"],
  images: ["M3 5h18v14H3z", "M3 16l5-5 4 4 3-3 6 6", o(15.5, 9, 1.5)],
  info: [ring, "M12 11v6", "M12 7.5v.5"],
  lifesaver: [ring, o(12, 12, 4), "M5.6 5.6l3.6 3.6", "M14.8 14.8l3.6 3.6", "M18.4 5.6l-3.6 3.6", "M9.2 14.8l-3.6 3.6"],
  lightbulb: ["M9 18h6", "M10 21h4", "M12 3a6 6 0 0 0-3.5 10.9c.5.4.5 1 .5 1.6v.5h6v-.5c0-.6.1-1.2.5-1.6A6 6 0 0 0 12 3z"],
  mail: ["M3 6h18v12H3z", "M3 7l9 6 9-6"],
  "map-pin": ["M12 21s-7-6.2-7-11.5a7 7 0 0 1 14 0C19 14.8 12 21 12 21z", o(12, 9.5, 2.5)],
  maps: ["M9 4L3 6v14l6-2 6 2 6-2V4l-6 2z", "M9 4v14", "M15 6v14"],
  mobile: ["M8 2h8a1 1 0 0 1 1 1v18a1 1 0 0 1-1 1H8a1 1 0 0 1-1-1V3a1 1 0 0 1 1-1z", "M11 18h2"],
  name: card,
  notebook,
  "notebook-pencil": [...notebook, "M12 15.5l4.5-4.5"],
  "page-blank": [doc, "M14 3v5h5"],
  phone: ["M5 4h4l2 5-2.5 1.5a11 11 0 0 0 5 5L15 13l5 2v4a2 2 0 0 1-2 2A16 16 0 0 1 3 6a2 2 0 0 1 2-2z"],
  play: ["M7 4l13 8-13 8z"],
  plus: ["M12 5v14", "M5 12h14"],
  minus: ["M5 12h14"],
  x: ["M6 6l12 12", "M18 6L6 18"],
  profile: person,
  "profile-card": card,
  user: person,
  reload: ["M20 12a8 8 0 1 1-2.3-5.7", "M20 4v5h-5"],
  star: [star],
  "star-filled": ["F" + star],
  search: [o(11, 11, 7), "M20 20l-4-4"],
  sparkle: [sparkle],
  "sparkle-double": ["M10 5c.4 3.8 1.7 5.5 6 7.5-4.3 2-5.6 3.7-6 7.5-.4-3.8-1.7-5.5-6-7.5 4.3-2 5.6-3.7 6-7.5z", "M18 2c.2 1.6.8 2.3 2.5 3-1.7.7-2.3 1.4-2.5 3-.2-1.6-.8-2.3-2.5-3 1.7-.7 2.3-1.4 2.5-3z"],
  "square-code": [frame, "M10 9l-3 3 3 3", "M14 9l3 3-3 3"],
  "square-image": [frame, o(9, 9, 1.5), "M20 15l-5-5L4.5 20.5"],
  "square-text": [frame, "M8 9h8", "M8 13h8", "M8 17h5"],
  suitcase: ["M4 7h16v12H4z", "M9 7V5h6v2", "M4 12h16"],
  "settings-slider": ["M4 7h10", "M18 7h2", "M4 17h4", "M12 17h8", o(16, 7, 2), o(10, 17, 2)],
  wreath: ["M8 20C4 18 3 13 4.5 8.5", "M16 20c4-2 5-7 3.5-11.5", "M4 13l-1.5-.5", "M5.5 16.5L4 17", "M20 13l1.5-.5", "M18.5 16.5L20 17", "M10 20h4"],
  write: pencil,
  "write-alt": [...pencil, "M13 20h7"],
  "write-alt2": ["M11 4H5a1 1 0 0 0-1 1v14a1 1 0 0 0 1 1h14a1 1 0 0 0 1-1v-6", "M18 3l3 3-9 9H9v-3z"],
  "arrow-right": ["M5 12h14", "M13 6l6 6-6 6"],
  "arrow-left": ["M19 12H5", "M11 6l-6 6 6 6"],
  clock: [ring, "M12 7v5l3 2"],
  trash: ["M4 7h16", "M10 11v6", "M14 11v6", "M6 7l1 13h10l1-13", "M9 7V4h6v3"],
  home: ["M4 11l8-7 8 7", "M6 9.5V20h12V9.5"],
  heart: ["M12 20s-8-4.6-8-10.5A4.5 4.5 0 0 1 12 7a4.5 4.5 0 0 1 8 2.5C20 15.4 12 20 12 20z"],
  link: ["M10 14a4 4 0 0 0 6 .5l3-3a4 4 0 0 0-5.7-5.7L12 7", "M14 10a4 4 0 0 0-6-.5l-3 3a4 4 0 0 0 5.7 5.7L12 17"],
  lock: ["M6 11h12v10H6z", "M8.5 11V8a3.5 3.5 0 0 1 7 0v3"],
  bell: ["M6 16V11a6 6 0 0 1 12 0v5l2 2H4z", "M10 21h4"],
  "triangle-alert": ["M12 3l10 18H2z", "M12 10v5", "M12 18v.5"],
  "circle-alert": [ring, "M12 7.5v6", "M12 16.5v.5"],
};

const SIZES = { xs: 12, sm: 14, md: 16, lg: 18, xl: 20, "2xl": 24, "3xl": 32 };

/** Whether `name` has its own drawing (else [`icon`] draws a dot). */
export function hasIcon(name) {
  return Object.hasOwn(ICONS, iconKey(name));
}

function iconKey(name) {
  if (typeof name !== "string") return "";
  return name.startsWith("lucide:") ? name.slice(7) : name;
}

/** An inline SVG of `name` at `size` (a token or pixels), hidden from assistive technology. */
export function icon(name, size = "md") {
  const key = iconKey(name);
  const paths = Object.hasOwn(ICONS, key) ? ICONS[key] : ICONS.dot;
  const px = typeof size === "number" ? size : SIZES[size] ?? SIZES.md;
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", String(px));
  svg.setAttribute("height", String(px));
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  svg.classList.add("ckw-icon");
  svg.dataset.icon = Object.hasOwn(ICONS, key) ? key : "dot";
  for (const spec of paths) {
    const path = document.createElementNS(SVG, "path");
    const mode = spec[0] === "F" || spec[0] === "K" ? spec[0] : "";
    path.setAttribute("d", mode ? spec.slice(1) : spec);
    if (mode === "F") path.classList.add("ckw-icon-fill");
    if (mode === "K") path.classList.add("ckw-icon-knock");
    svg.append(path);
  }
  return svg;
}
