//! SSE frames of a run: `data: <compact JSON>\n\n`, each serialised once. A text delta, most of
//! a turn's frames, is written out by hand: serde escapes every key and tag of an event byte by
//! byte, and for a delta that is most of the frame; here only its id and text are escaped,
//! and only when they hold a byte JSON escapes (the id never does, a word rarely). Tests hold
//! the bytes equal to serde's.

use bytes::Bytes;

use crate::chatkit::types::{ThreadItemUpdate, ThreadStreamEvent};

/// One SSE frame: `data: <compact JSON>\n\n`.
pub fn encode(event: &ThreadStreamEvent) -> Bytes {
    let mut frame = Vec::with_capacity(256);
    frame.extend_from_slice(b"data: ");
    match event {
        ThreadStreamEvent::ItemUpdated {
            item_id,
            update:
                ThreadItemUpdate::ContentPartTextDelta {
                    content_index,
                    delta,
                },
        } => text_delta(&mut frame, item_id, *content_index, delta),
        // Serialising our own types into a Vec cannot fail (string keys only).
        _ => {
            if serde_json::to_writer(&mut frame, event).is_err() {
                frame.truncate(6);
                frame.extend_from_slice(
                    br#"{"type":"error","code":"stream.error","allow_retry":true}"#,
                );
            }
        }
    }
    frame.extend_from_slice(b"\n\n");
    Bytes::from(frame)
}

/// `{"type":"thread.item.updated","item_id":…,"update":{"type":"assistant_message.content_part.text_delta","content_index":…,"delta":…}}`,
/// the fields in serde's order.
fn text_delta(frame: &mut Vec<u8>, item_id: &str, content_index: usize, delta: &str) {
    frame.extend_from_slice(br#"{"type":"thread.item.updated","item_id":"#);
    string(frame, item_id);
    frame.extend_from_slice(
        br#","update":{"type":"assistant_message.content_part.text_delta","content_index":"#,
    );
    json(frame, &content_index);
    frame.extend_from_slice(br#","delta":"#);
    string(frame, delta);
    frame.extend_from_slice(b"}}");
}

/// A JSON string: copied as it is unless it holds a byte JSON escapes (a control character,
/// a quote or a backslash), which serde_json then escapes.
fn string(frame: &mut Vec<u8>, text: &str) {
    if text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        frame.reserve(text.len() + 2);
        frame.push(b'"');
        frame.extend_from_slice(text.as_bytes());
        frame.push(b'"');
    } else {
        json(frame, text);
    }
}

/// A string or number as serde_json writes it (strings escaped the same way).
fn json(frame: &mut Vec<u8>, value: &(impl serde::Serialize + ?Sized)) {
    // Writing a string or a number into a Vec cannot fail.
    let _ = serde_json::to_writer(frame, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn by_serde(event: &ThreadStreamEvent) -> Vec<u8> {
        let mut frame = b"data: ".to_vec();
        serde_json::to_writer(&mut frame, event).unwrap();
        frame.extend_from_slice(b"\n\n");
        frame
    }

    #[test]
    fn a_text_delta_frame_is_the_bytes_serde_writes() {
        let deltas = [
            "hello ",
            "",
            "\"quoted\" \\ back/slash",
            "line\nbreak\r\ttab \u{0} \u{1f} \u{7f}",
            "héllo ✓ 日本語 🎉",
            "</script><!--",
        ];
        for (content_index, delta) in deltas.into_iter().enumerate() {
            let event = ThreadStreamEvent::ItemUpdated {
                item_id: "msg_019ad2c3e4f5a0123456789abcdef".into(),
                update: ThreadItemUpdate::ContentPartTextDelta {
                    content_index: content_index * 1_000,
                    delta: delta.into(),
                },
            };
            let frame = encode(&event);
            assert_eq!(
                String::from_utf8_lossy(&frame),
                String::from_utf8_lossy(&by_serde(&event))
            );
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(crate::chatkit::fuzz::CASES))]

        #[test]
        fn any_text_delta_frame_is_the_bytes_serde_writes(id in ".{0,40}", delta in ".{0,40}") {
            let event = ThreadStreamEvent::ItemUpdated {
                item_id: id,
                update: ThreadItemUpdate::ContentPartTextDelta { content_index: 0, delta },
            };
            let (ours, serde) = (encode(&event), by_serde(&event));
            proptest::prop_assert_eq!(ours.as_ref(), serde.as_slice());
        }
    }

    #[test]
    fn other_events_go_through_serde() {
        let event = ThreadStreamEvent::ItemUpdated {
            item_id: "msg_1".into(),
            update: ThreadItemUpdate::WidgetStreamingTextValueDelta {
                component_id: "c".into(),
                delta: "d".into(),
                done: false,
            },
        };
        assert_eq!(encode(&event).as_ref(), by_serde(&event).as_slice());
        let error = ThreadStreamEvent::stream_error(true);
        assert_eq!(encode(&error).as_ref(), by_serde(&error).as_slice());
    }
}
