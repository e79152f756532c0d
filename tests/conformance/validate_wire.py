"""ChatKit wire-conformance checker for the Rust backend's integration tests.

The Rust integration tests record every JSON response body and every SSE
event (`data: <json>` frame) our server sends, write them to a JSON-lines file
and run

    python tests/conformance/validate_wire.py RECORDS.jsonl

Each line is {"kind": K, "json": <value sent>, "context": "<which request>"}.
Every record is checked against the pydantic types of the official Python SDK
(`openai-chatkit==1.6.5`, import name `chatkit`) in two ways:

1. `TypeAdapter(T).validate_json(raw, strict=True)` must succeed;
2. the validated value, serialised the way `ChatKitServer._serialize` does
   (`model_dump_json(by_alias=True, exclude_none=True,
   context={"exclude_metadata": True})`), must equal what we sent, with
   datetimes compared as instants (naive = UTC).  A key the SDK drops
   (unknown, or null), a default the SDK always emits that we omitted, or a
   changed value is reported with its JSON path.

Widget trees (`widget` of a widget item or `widget.root.updated`, `component`
of `widget.component.updated`) are compared with the SDK's *dynamic* widget
models, which keep unknown props and add no defaults: the SDK serialises a
widget as it was built, and the strict classes (Card, Button...) would drop
unknown props and add defaults such as `onClickAction.streaming: true` that
the reference peer does not send.

Output: one `INVALID line N (kind, context): reason` per failing record, then
`conformance: X records checked, Y invalid`.  Exit codes: 0 all valid,
1 some invalid, 2 usage error / unreadable file, 3 SDK missing or not 1.6.5
(message on stderr starting `conformance skipped:`).
`--self-test` checks built-in samples (spec Appendix A) plus broken variants.
"""

import json
import re
import sys
from datetime import datetime, timezone

SDK_VERSION = "1.6.5"
USAGE = "usage: validate_wire.py RECORDS.jsonl | --self-test"
DUMP_OPTS = dict(by_alias=True, exclude_none=True, context={"exclude_metadata": True})
# Dict "type" of a holder -> key under which it carries a widget tree.
WIDGET_SLOTS = {"widget": "widget", "widget.root.updated": "widget",
                "widget.component.updated": "component"}
ISO_DATETIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?")


def skip(why):
    print(f"conformance skipped: {why}", file=sys.stderr)
    sys.exit(3)


def load_sdk():
    """Import pydantic + chatkit or exit 3; return (adapters, dynamic widget adapters, ValidationError)."""
    try:
        from importlib.metadata import version
        from pydantic import TypeAdapter, ValidationError
        from chatkit import types as t, widgets as w
        found = version("openai-chatkit")
    except Exception as exc:  # ImportError, PackageNotFoundError, broken install
        skip(f"cannot import chatkit ({type(exc).__name__}: {exc})")
    if found != SDK_VERSION:
        skip(f"openai-chatkit {found} is installed, {SDK_VERSION} is required")
    adapters = {kind: TypeAdapter(tp) for kind, tp in {
        "stream_event": t.ThreadStreamEvent,
        "thread": t.Thread,
        "thread_page": t.Page[t.Thread],
        "item_page": t.Page[t.ThreadItem],
        "thread_item": t.ThreadItem,
        "attachment": t.Attachment,
        "sync_custom_action": t.SyncCustomActionResponse,
        "transcription": t.TranscriptionResult,
    }.items()}
    dynamic = {"widget": TypeAdapter(w.DynamicWidgetRoot),
               "component": TypeAdapter(w.DynamicWidgetComponent)}
    return adapters, dynamic, ValidationError


ADAPTERS, DYNAMIC_WIDGET, ValidationError = None, None, None


def short(value, limit=80):
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def instant(value):
    if not isinstance(value, str) or not ISO_DATETIME.fullmatch(value):
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def same(sent, sdk):
    if isinstance(sent, bool) or isinstance(sdk, bool):  # True == 1 in Python
        return sent is sdk
    if sent == sdk:
        return True
    a, b = instant(sent), instant(sdk)
    return a is not None and a == b


def sdk_widget(slot, sent_tree, strict_dump):
    """How the SDK serialises a widget tree built dynamically (extras kept)."""
    try:
        model = DYNAMIC_WIDGET[slot].validate_json(json.dumps(sent_tree), strict=True)
    except ValidationError:
        return strict_dump
    return json.loads(model.model_dump_json(**DUMP_OPTS))


def diff(sent, sdk, path="$"):
    """Yield one message per difference between what we sent and the SDK's dump."""
    if isinstance(sent, dict) and isinstance(sdk, dict):
        slot = WIDGET_SLOTS.get(sent.get("type"))
        if slot in sent and slot in sdk:
            sdk = {**sdk, slot: sdk_widget(slot, sent[slot], sdk[slot])}
        for key in [*sent, *(k for k in sdk if k not in sent)]:
            where = f"{path}.{key}"
            if key not in sdk:
                yield (f"{where}: sent null, but the SDK omits null fields" if sent[key] is None
                       else f"{where}: sent, but the SDK drops this key (unknown or stripped field)")
            elif key not in sent:
                yield f"{where}: missing; the SDK always emits {short(sdk[key])}"
            else:
                yield from diff(sent[key], sdk[key], where)
    elif isinstance(sent, list) and isinstance(sdk, list):
        if len(sent) != len(sdk):
            yield f"{path}: sent {len(sent)} elements, the SDK emits {len(sdk)}: {short(sdk)}"
        else:
            for i, (a, b) in enumerate(zip(sent, sdk)):
                yield from diff(a, b, f"{path}[{i}]")
    elif not same(sent, sdk):
        yield f"{path}: sent {short(sent)}, the SDK emits {short(sdk)}"


def json_path(value, loc):
    """Turn a pydantic error location into a JSON path, skipping union tags/branch names."""
    path, tag_skipped = "$", None
    for n, part in enumerate(loc):
        if isinstance(value, dict) and part == value.get("type") and tag_skipped is not value:
            tag_skipped = value  # discriminator tag, e.g. ("thread.item.done", "item", ...)
            continue
        if isinstance(value, dict) and part in value:
            path, value = f"{path}.{part}", value[part]
        elif isinstance(value, list) and isinstance(part, int) and part < len(value):
            path, value = f"{path}[{part}]", value[part]
        elif n == len(loc) - 1 and isinstance(value, dict) and isinstance(part, str) and "[" not in part:
            path += f".{part}"  # a required key that is missing
    return path


def check(kind, value):
    """Return a list of problems (empty when the record conforms)."""
    if kind == "empty":
        return [] if value == {} and isinstance(value, dict) else [f"expected exactly {{}}, got {short(value)}"]
    if kind not in ADAPTERS:
        return [f"unknown record kind {kind!r}"]
    try:
        model = ADAPTERS[kind].validate_json(json.dumps(value), strict=True)
    except ValidationError as exc:
        errors = exc.errors()
        # In plain unions, ignore the branches whose literal `type` did not match.
        mismatched = [e for e in errors if e["loc"][-1:] == ("type",) and e["type"] == "literal_error"]
        wrong = {e["loc"][:-1] for e in mismatched}
        kept = [e for e in errors if not any(e["loc"][:len(w)] == w for w in wrong)]
        if mismatched and not kept:
            expected = ", ".join(e["ctx"]["expected"] for e in mismatched)
            return [f"{json_path(value, mismatched[0]['loc'])}: unexpected type, expected {expected}"]
        return [f"{json_path(value, e['loc'])}: {e['msg']}" for e in kept]
    return list(diff(value, json.loads(model.model_dump_json(**DUMP_OPTS))))


def reason(problems, limit=4):
    more = f" (+{len(problems) - limit} more)" if len(problems) > limit else ""
    return "; ".join(problems[:limit]) + more


def check_lines(lines):
    checked = invalid = 0
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        checked += 1
        try:
            record = json.loads(line)
        except ValueError as exc:
            record = exc
        if isinstance(record, dict) and isinstance(record.get("kind"), str) and "json" in record:
            kind, context = record["kind"], " ".join(str(record.get("context", "")).split())
            problems = check(kind, record["json"])
        else:
            kind, context = "?", "?"
            problems = [f"malformed record, expected {{\"kind\": str, \"json\": ..., \"context\": str}}: "
                        f"{record if isinstance(record, ValueError) else short(record)}"]
        if problems:
            invalid += 1
            print(f"INVALID line {number} ({kind}, {context}): {reason(problems)}")
    print(f"conformance: {checked} records checked, {invalid} invalid")
    return 1 if invalid else 0


# ---------------------------------------------------------------- self-test
TS = "2026-11-24T10:00:00.123456Z"
THREAD = {"title": "hello widget", "id": "thr_ceeaedc1", "created_at": "2026-11-23T23:04:25.852670",
          "status": {"type": "active"}, "metadata": {}, "items": {"data": [], "has_more": False}}
USER_MSG = {"id": "msg_80a2233f", "thread_id": "thr_567d8e88", "created_at": TS, "type": "user_message",
            "content": [{"type": "input_text", "text": "doc sample widget"}], "attachments": [],
            "inference_options": {}}
WIDGET_ITEM = {"id": "msg_b9c71fc3", "thread_id": "thr_ceeaedc1", "created_at": TS, "type": "widget",
               "widget": {"type": "Card", "size": "sm", "children": [
                   {"id": "peer_text", "type": "Text", "value": ""},
                   {"key": "peer_button", "type": "Button", "label": "Click me",
                    "onClickAction": {"type": "peer.widget_click", "payload": {"count": 0},
                                      "handler": "server", "loadingBehavior": "auto"}}]},
               "copy_text": "Peer widget: count 0"}
VALID = [
    ("stream_event", {"type": "thread.created", "thread": {k: v for k, v in THREAD.items() if k != "title"}}),
    ("stream_event", {"type": "thread.item.done", "item": USER_MSG}),
    ("stream_event", {"type": "stream_options", "stream_options": {"allow_cancel": True}}),
    ("stream_event", {"type": "thread.item.added", "item": WIDGET_ITEM}),
    ("stream_event", {"type": "thread.item.updated", "item_id": "msg_57036e41", "update": {
        "type": "assistant_message.content_part.added", "content_index": 0,
        "content": {"annotations": [], "text": "", "type": "output_text"}}}),
    ("stream_event", {"type": "thread.item.updated", "item_id": "msg_b9c71fc3", "update": {
        "type": "widget.streaming_text.value_delta", "component_id": "peer_text", "delta": "Peer", "done": True}}),
    ("stream_event", {"type": "error", "code": "stream.error", "allow_retry": True}),
    ("stream_event", {"type": "error", "code": "custom", "message": "The peer failed on purpose.", "allow_retry": False}),
    ("stream_event", {"type": "progress_update", "icon": "sparkle", "text": "Working on it"}),
    ("stream_event", {"type": "notice", "level": "info", "message": "A **notice** from the peer.", "title": "Peer"}),
    ("stream_event", {"type": "client_effect", "name": "peer.effect", "data": {"hello": "world"}}),
    ("stream_event", {"type": "thread.item.done", "item": {
        "id": "tc_b77cb806", "thread_id": "thr_9f0285f0", "created_at": TS, "type": "client_tool_call",
        "status": "pending", "call_id": "tc_c2026433", "name": "peer_get_client_state",
        "arguments": {"what": "selection", "verbose": False}}}),
    ("stream_event", {"type": "thread.item.done", "item": {
        "id": "msg_4210384c", "thread_id": "thr_911c0e4a", "created_at": TS, "type": "structured_input",
        "status": "pending", "inputs": [
            {"id": "priority", "question": "Which priority?", "type": "multiple_choice",
             "options": [{"value": "Low"}, {"value": "Medium"}, {"value": "High"}], "multiple": False},
            {"id": "notes", "question": "Any notes?", "type": "freeform", "description": "Optional"}]}}),
    ("thread_page", {"data": [THREAD], "has_more": False}),
    ("item_page", {"data": [USER_MSG], "has_more": True, "after": "msg_80a2233f"}),
    ("thread", {**THREAD, "title": "T"}),
    ("attachment", {"id": "atc_65d33a1f", "name": "a.png", "mime_type": "image/png", "upload_descriptor": {
        "url": "http://127.0.0.1:8801/chatkit/attachments/atc_65d33a1f/upload", "method": "POST",
        "headers": {"X-Peer-Upload": "1"}}, "type": "image",
        "preview_url": "http://127.0.0.1:8801/chatkit/attachments/atc_65d33a1f/content"}),
    ("sync_custom_action", {"updated_item": WIDGET_ITEM}),
    ("transcription", {"text": "transcribed 5 bytes of audio/ogg"}),
    ("empty", {}),
]
BROKEN = [  # (label, kind, value, path that must be blamed)
    ("page without has_more", "item_page", {"data": [USER_MSG]}, "$.has_more"),
    ("unknown event type", "stream_event", {"type": "thread.item.frobnicated", "item_id": "x"}, "$"),
    ("unknown key on a thread item", "thread_item", {**USER_MSG, "sender": "user"}, "$.sender"),
    ("user_message without inference_options", "thread_item",
     {k: v for k, v in USER_MSG.items() if k != "inference_options"}, "$.inference_options"),
    ("unknown error code", "stream_event",
     {"type": "error", "code": "stream.failed", "allow_retry": True}, "$.code"),
]


def self_test():
    wrong = 0
    for i, (kind, value) in enumerate(VALID):
        if problems := check(kind, value):
            wrong += 1
            print(f"self-test: valid sample {i} ({kind}) was rejected: {reason(problems)}")
    for label, kind, value, blamed in BROKEN:
        problems = check(kind, value)
        if any(p.startswith(blamed + ":") for p in problems):
            print(f"self-test: rejected as expected: {label}: {reason(problems, 2)}")
        else:
            wrong += 1
            print(f"self-test: broken sample not rejected at {blamed}: {label}: {reason(problems)}")
    total = len(VALID) + len(BROKEN)
    print(f"self-test: {total - wrong} of {total} expectations hold")
    return 1 if wrong else 0


def main(argv):
    global ADAPTERS, DYNAMIC_WIDGET, ValidationError
    if len(argv) != 1 or argv[0] in ("-h", "--help"):
        print(USAGE, file=sys.stderr)
        return 2
    if argv[0] != "--self-test":
        try:
            with open(argv[0], encoding="utf-8") as fh:
                lines = fh.read().splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            print(f"validate_wire: cannot read {argv[0]}: {exc}", file=sys.stderr)
            return 2
    ADAPTERS, DYNAMIC_WIDGET, ValidationError = load_sdk()
    return self_test() if argv[0] == "--self-test" else check_lines(lines)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
