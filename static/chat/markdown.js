// Markdown for the chat: assistant messages and widget `Markdown` components.
//
// Text from the model or a widget is untrusted, so marked's HTML output always goes through a
// private DOMPurify instance before it reaches the page: scripts, event handlers, `javascript:`
// URLs, styles, frames and form controls are removed. Links open in a new tab without giving
// the opened page a handle on ours.

import { Marked } from "../vendor/marked/marked.esm.js";
import createDOMPurify from "../vendor/dompurify/purify.es.mjs";

const marked = new Marked({ gfm: true, breaks: false, async: false });

// HTML the model writes is shown as text, never parsed: parsing it, even for DOMPurify to
// clean, would evaluate its inline handlers against the page's CSP (each one a reported
// violation), and a chat answer has no business carrying markup of its own.
const escapeHtml = (text) =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
marked.use({ renderer: { html: ({ text }) => escapeHtml(text) } });

// A private instance, so the hooks below never change what another user of DOMPurify gets.
const purify = createDOMPurify(window);

purify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A" && node.hasAttribute("href")) {
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer");
  }
  // GFM task lists are the only inputs kept, and they are read-only.
  if (node.tagName === "INPUT") {
    node.setAttribute("disabled", "");
  }
});

const SANITIZE = {
  RETURN_DOM_FRAGMENT: true,
  FORBID_TAGS: ["style", "form", "button", "textarea", "select", "option", "iframe", "dialog"],
  FORBID_ATTR: ["style", "id", "name", "autofocus"],
  ALLOWED_URI_REGEXP: /^(?:(?:https?|mailto|tel):|[^a-z]|[a-z+.-]+(?:[^a-z+.\-:]|$))/i,
};

// The last rendering, kept because a streamed message is re-rendered with the same text when
// other parts of the item change.
let last = { text: null, html: "" };

/**
 * Renders `text` as GitHub-flavoured Markdown into a sanitised DocumentFragment.
 * Cheap enough to call on every delta of a streamed answer: parsing is linear in the text and
 * an unchanged text is not parsed again.
 */
export function renderMarkdown(text) {
  const source = typeof text === "string" ? text : String(text ?? "");
  if (source !== last.text) {
    let html = null;
    try {
      html = marked.parse(source);
    } catch {
      // marked does not throw on any input it documents; if it ever does, show the text.
    }
    last = { text: source, html };
  }
  if (last.html === null) {
    const plain = document.createDocumentFragment();
    plain.append(document.createTextNode(source));
    return plain;
  }
  return purify.sanitize(last.html, SANITIZE);
}
