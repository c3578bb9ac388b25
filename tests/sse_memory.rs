//! Memory used while decoding an event stream does not grow with the number of events.
//!
//! A counting global allocator tracks live and peak heap bytes. This file holds a single
//! test so that no other test of this binary allocates while it measures.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};

use oairun::sse::{Decoder, SseEvent};

struct CountingAllocator;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(bytes: usize) {
    let live = LIVE.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

fn shrank(bytes: usize) {
    LIVE.fetch_sub(bytes, Ordering::Relaxed);
}

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new_ptr = unsafe { System.realloc(ptr, layout, new_size) };
        if !new_ptr.is_null() {
            if new_size > layout.size() {
                grew(new_size - layout.size());
            } else {
                shrank(layout.size() - new_size);
            }
        }
        new_ptr
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

const CHUNK: usize = 4096;

/// Writes event `i` (about 200 bytes, like an Assistants `thread.message.delta`).
fn write_event(out: &mut Vec<u8>, i: usize) {
    write!(
        out,
        "event: thread.message.delta\nid: {i}\ndata: {{\"id\":\"msg_{i:08}\",\"object\":\"thread.message.delta\",\"delta\":{{\"content\":[{{\"index\":0,\"type\":\"text\",\"text\":{{\"value\":\"{}\"}}}}]}}}}\n\n",
        &"abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz"[..40 + i % 23]
    )
    .expect("writing to a Vec cannot fail");
}

/// Decodes a stream of `events` events generated on the fly and fed in 4 KiB reads, dropping
/// each event once checked. Returns the peak live heap bytes during the run, above what was
/// live when it started.
fn peak_while_decoding(events: usize) -> usize {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);

    let mut decoder = Decoder::new();
    let mut pending: Vec<u8> = Vec::with_capacity(2 * CHUNK);
    let mut received = 0;
    let mut check = |event: SseEvent| {
        assert_eq!(event.event, "thread.message.delta");
        assert_eq!(event.id.as_deref(), Some(received.to_string().as_str()));
        assert!(event.data.starts_with("{\"id\":\"msg_"), "{}", event.data);
        received += 1;
    };
    for i in 0..events {
        write_event(&mut pending, i);
        if pending.len() >= CHUNK {
            decoder.feed(&pending[..CHUNK]);
            pending.drain(..CHUNK);
            while let Some(event) = decoder.next_event() {
                check(event);
            }
        }
    }
    decoder.feed(&pending);
    while let Some(event) = decoder.next_event() {
        check(event);
    }
    assert!(!decoder.finish(), "the stream ends with a complete event");
    assert_eq!(received, events);
    drop(decoder);
    drop(pending);

    PEAK.load(Ordering::Relaxed) - base
}

#[test]
fn decoding_memory_does_not_grow_with_the_number_of_events() {
    const SLACK: usize = 64 * 1024;
    let peak_1k = peak_while_decoding(1_000);
    let peak_100k = peak_while_decoding(100_000);
    assert!(
        peak_1k > CHUNK,
        "the allocator must see the decoder's buffers (peak {peak_1k})"
    );
    assert!(
        peak_100k <= peak_1k + SLACK,
        "peak live heap grew with the number of events: {peak_1k} bytes for 1,000 events, \
         {peak_100k} bytes for 100,000"
    );
}
