//! Deliberate panics for the tests that prove no panic crosses the C ABI. Compiled only into
//! the crate's own unit tests (`cfg(test)`): a thread id naming a point panics there.

/// Panics when `text` (a thread id or a request path) names `point`: `test_panic_<point>`.
pub(crate) fn panic_at(point: &str, text: &str) {
    if text.contains(&format!("test_panic_{point}")) {
        panic!("deliberate test panic at {point}");
    }
}
