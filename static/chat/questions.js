// Clarifying questions: a pending `structured_input` item takes the composer's place, as in
// ChatKit JS. Multiple-choice questions are radio buttons (or checkboxes when several answers
// are allowed), freeform ones a text area; the user answers or skips them all.

import { h } from "./dom.js";

let counter = 0;

/**
 * Builds the panel for `item`; `submit(submission)` receives the
 * `StructuredInputSubmission` (`{status, answers}`) to send.
 */
export function questionsPanel(item, submit) {
  const form = h("form.ck-questions", { "aria-label": "Questions from the assistant" });
  const fields = [];
  const uid = `ck-q${++counter}`;
  (item.inputs || []).forEach((input, index) => {
    const id = `${uid}-${index}`;
    if (input.type === "multiple_choice") {
      const kind = input.multiple ? "checkbox" : "radio";
      const options = (input.options || []).map((option, n) =>
        h("label.ck-choice", {},
          h("input", { type: kind, name: id, value: option.value, id: `${id}-${n}` }),
          h("span", {}, option.label || option.value)),
      );
      form.append(h("fieldset.ck-question", {}, h("legend", {}, input.question), input.multiple ? h("p.ck-hint", {}, "Choose any that apply.") : null, h("div.ck-choices", {}, options)));
      fields.push(() => [input.id, [...form.querySelectorAll(`input[name="${id}"]:checked`)].map((el) => el.value)]);
    } else {
      const area = h("textarea.ck-freeform", { id, rows: 2 });
      form.append(h("div.ck-question", {}, h("label", { htmlFor: id }, input.question), input.description ? h("p.ck-hint", {}, input.description) : null, area));
      fields.push(() => [input.id, area.value.trim() ? [area.value.trim()] : []]);
    }
  });
  const answer = h("button.ck-primary", { type: "submit" }, "Submit");
  const skip = h("button.ck-secondary", { type: "button" }, "Skip");
  form.append(h("div.ck-question-buttons", {}, skip, answer));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const answers = {};
    for (const read of fields) {
      const [key, values] = read();
      answers[key] = values.length ? { values, skipped: false } : { values: [], skipped: true };
    }
    answer.disabled = skip.disabled = true;
    submit({ status: "answered", answers });
  });
  skip.addEventListener("click", () => {
    answer.disabled = skip.disabled = true;
    submit({ status: "skipped", answers: {} });
  });
  return form;
}
