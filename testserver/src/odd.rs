//! The `odd_framing` scenario: the reference events in SSE framing that is unusual but legal
//! (WHATWG HTML, "Parsing an event stream"), cut into small chunks at awkward places.

use crate::reference_events;

/// The event whose JSON is sent as two `data:` lines, and the text its first line ends with:
/// a comma between members, after which a newline is legal JSON whitespace. (Not one of the
/// `thread.run.*` events: their data in the reference ends with an extra `}`, so is not JSON.)
const SPLIT_EVENT: &str = "thread.message.created";
const SPLIT_AFTER: &str = r#""object":"thread.message","#;
/// The delta given a non-ASCII value (2-, 3- and 4-byte UTF-8), to be split across chunks.
const PLAIN_VALUE: &str = r#""value":" weather""#;
const NON_ASCII_VALUE: &str = "\"value\":\" weather \u{2600} tr\u{e8}s \u{1f324}\"";

/// Line endings, used in turn: every kind appears many times.
const ENDINGS: [&str; 3] = ["\r\n", "\n", "\r"];
/// Sizes of the ordinary cuts, used in turn: from single bytes to a few hundred.
const STEPS: [usize; 9] = [7, 1, 23, 64, 3, 150, 11, 2, 40];

/// The events with their data as the lines sent on the wire.
fn source() -> Vec<(String, Vec<String>)> {
    reference_events()
        .into_iter()
        .map(|(name, data)| {
            if name == SPLIT_EVENT {
                let at = data
                    .find(SPLIT_AFTER)
                    .expect("the reference message has an object")
                    + SPLIT_AFTER.len();
                let (first, second) = data.split_at(at);
                (name, vec![first.to_string(), second.to_string()])
            } else if data.contains(PLAIN_VALUE) {
                (name, vec![data.replace(PLAIN_VALUE, NON_ASCII_VALUE)])
            } else {
                (name, vec![data])
            }
        })
        .collect()
}

/// What a correct decoder yields: data lines joined with LF.
pub(crate) fn events() -> Vec<(String, String)> {
    source()
        .into_iter()
        .map(|(name, lines)| (name, lines.join("\n")))
        .collect()
}

/// The logical lines of the body, without line endings.
fn lines() -> Vec<String> {
    let mut lines = vec![
        ": odd but legal framing".to_string(),
        "retry: 3000".to_string(),
        // A blank line with no data before it: dispatches nothing.
        String::new(),
    ];
    for (n, (name, data_lines)) in source().into_iter().enumerate() {
        // Every other event omits the optional space after the colon.
        let sep = if n % 2 == 1 { ":" } else { ": " };
        if n % 3 == 0 {
            lines.push(":".to_string());
        }
        lines.push(format!("id{sep}evt_{}", n + 1));
        lines.push(format!("event{sep}{name}"));
        if n % 5 == 2 {
            lines.push(": a comment between fields".to_string());
        }
        for data in data_lines {
            lines.push(format!("data{sep}{data}"));
        }
        lines.push(String::new());
    }
    lines
}

/// The body, and the offsets where a cut is awkward: inside the BOM, between the CR and LF of
/// a CRLF, inside a multi-byte character.
fn body() -> (Vec<u8>, Vec<usize>) {
    let mut body = "\u{feff}".as_bytes().to_vec();
    let mut awkward = vec![1, 2];
    let mut previous = "";
    for (i, line) in lines().iter().enumerate() {
        let mut ending = ENDINGS[i % ENDINGS.len()];
        // After a lone CR, an empty line ended by LF would read as one CRLF, and the blank
        // line that dispatches the event would vanish.
        if previous == "\r" && line.is_empty() && ending == "\n" {
            ending = "\r\n";
        }
        body.extend_from_slice(line.as_bytes());
        if ending == "\r\n" {
            awkward.push(body.len() + 1);
        }
        body.extend_from_slice(ending.as_bytes());
        previous = ending;
    }
    let text = std::str::from_utf8(&body).expect("built from strings");
    for (at, c) in text.char_indices().skip(1) {
        awkward.extend((1..c.len_utf8()).map(|k| at + k));
    }
    (body, awkward)
}

/// The body cut into chunks; `true` marks a chunk that ends at an awkward cut.
pub(crate) fn chunks() -> Vec<(Vec<u8>, bool)> {
    let (body, awkward) = body();
    let mut cuts = awkward.clone();
    let mut at = 0;
    for step in STEPS.iter().cycle() {
        at += step;
        if at >= body.len() {
            break;
        }
        cuts.push(at);
    }
    cuts.push(body.len());
    cuts.retain(|&c| c > 0 && c <= body.len());
    cuts.sort_unstable();
    cuts.dedup();
    let mut start = 0;
    cuts.into_iter()
        .map(|end| {
            let chunk = body[start..end].to_vec();
            start = end;
            (chunk, awkward.contains(&end))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn has_every_oddity() {
        let chunks = chunks();
        let body: Vec<u8> = chunks.iter().flat_map(|(c, _)| c.clone()).collect();
        assert_eq!(body, super::body().0);
        assert!(body.starts_with("\u{feff}".as_bytes()));
        let text = String::from_utf8(body).unwrap();
        assert!(text.contains("\r\n") && text.contains("\rid") && text.contains("\nid"));
        assert!(text.contains("retry: 3000") && text.contains(": a comment between fields"));
        assert!(text.contains("data:{") && text.contains("data: {"));
        // Some chunk ends in the middle of a CRLF, and some inside a multi-byte character.
        assert!(chunks.iter().any(|(c, _)| c.ends_with(b"\r")));
        assert!(chunks.iter().any(|(c, _)| std::str::from_utf8(c).is_err()));
        let events = events();
        assert_eq!(events.len(), 16);
        // The split event and the non-ASCII one are still JSON (the reference's own
        // `thread.run.*` data is not: it ends with an extra brace).
        let split = &events[5];
        assert_eq!(split.0, SPLIT_EVENT);
        assert!(split.1.contains(",\n\""));
        serde_json::from_str::<serde_json::Value>(&split.1).unwrap();
        let weather = events
            .iter()
            .find(|(_, d)| d.contains('\u{1f324}'))
            .unwrap();
        let weather: serde_json::Value = serde_json::from_str(&weather.1).unwrap();
        assert_eq!(
            weather["delta"]["content"][0]["text"]["value"],
            " weather \u{2600} tr\u{e8}s \u{1f324}"
        );
    }
}
