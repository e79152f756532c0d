//! SSE frames of a run: `data: <compact JSON>\n\n`, each serialised once. A text delta, most of
//! a turn's frames, is written out by hand: serde escapes every key and tag of an event byte by
//! byte, and for a delta that is most of the frame; here only its id and text are escaped.
//! A test holds the bytes equal to serde's.

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
    json(frame, item_id);
    frame.extend_from_slice(
        br#","update":{"type":"assistant_message.content_part.text_delta","content_index":"#,
    );
    json(frame, &content_index);
    frame.extend_from_slice(br#","delta":"#);
    json(frame, delta);
    frame.extend_from_slice(b"}}");
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
