//! Finding the first byte of a small set in a byte string, sixteen bytes at a time: the inner
//! loops of the event-stream decoder (line ends) and of the JSON field scanner (the bytes that
//! end a run of plain string content).
//!
//! On x86_64 the blocks are tested with SSE2, which every x86_64 processor has (so no run-time
//! detection is needed); elsewhere, and for the last bytes of a string, one byte at a time.
//! Each finder's unit test compares it with the plain byte-at-a-time answer.

/// The first position in `bytes` whose byte `is_special` accepts, testing sixteen bytes at a
/// time with `block` (which must flag, in its 16-bit mask, exactly the bytes `is_special`
/// accepts) while sixteen remain.
#[inline(always)]
fn find(
    bytes: &[u8],
    block: impl Fn(&[u8; 16]) -> u32,
    is_special: impl Fn(u8) -> bool,
) -> Option<usize> {
    let mut at = 0;
    while let Some(chunk) = bytes.get(at..at + 16) {
        let mask = block(chunk.try_into().expect("a 16-byte slice"));
        if mask != 0 {
            return Some(at + mask.trailing_zeros() as usize);
        }
        at += 16;
    }
    bytes[at..]
        .iter()
        .position(|&b| is_special(b))
        .map(|i| at + i)
}

#[cfg(target_arch = "x86_64")]
mod block {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };

    #[inline(always)]
    fn load(chunk: &[u8; 16]) -> __m128i {
        // SAFETY: SSE2 is part of x86_64; the load reads exactly the 16 bytes of `chunk`, with
        // no alignment required.
        unsafe { _mm_loadu_si128(chunk.as_ptr().cast()) }
    }

    #[inline(always)]
    fn mask(flags: __m128i) -> u32 {
        // SAFETY: SSE2 is part of x86_64.
        unsafe { _mm_movemask_epi8(flags) as u32 }
    }

    /// The CR and LF bytes of `chunk`, one bit each.
    #[inline(always)]
    pub(super) fn line_ends(chunk: &[u8; 16]) -> u32 {
        let x = load(chunk);
        // SAFETY: SSE2 is part of x86_64; these are register operations.
        mask(unsafe {
            _mm_or_si128(
                _mm_cmpeq_epi8(x, _mm_set1_epi8(b'\n' as i8)),
                _mm_cmpeq_epi8(x, _mm_set1_epi8(b'\r' as i8)),
            )
        })
    }

    /// The bytes of `chunk` that are not ASCII (the high bit set), one bit each.
    #[inline(always)]
    pub(super) fn non_ascii(chunk: &[u8; 16]) -> u32 {
        mask(load(chunk))
    }

    /// The `"`, `\` and control (below 0x20) bytes of `chunk`, one bit each.
    #[inline(always)]
    pub(super) fn string_ends(chunk: &[u8; 16]) -> u32 {
        let x = load(chunk);
        // SAFETY: SSE2 is part of x86_64; these are register operations. A byte is below 0x20
        // when its unsigned minimum with 0x1f is itself.
        mask(unsafe {
            _mm_or_si128(
                _mm_or_si128(
                    _mm_cmpeq_epi8(x, _mm_set1_epi8(b'"' as i8)),
                    _mm_cmpeq_epi8(x, _mm_set1_epi8(b'\\' as i8)),
                ),
                _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(0x1f)), x),
            )
        })
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod block {
    #[inline(always)]
    fn mask(chunk: &[u8; 16], is_special: impl Fn(u8) -> bool) -> u32 {
        chunk
            .iter()
            .enumerate()
            .fold(0, |mask, (i, &b)| mask | (u32::from(is_special(b)) << i))
    }

    pub(super) fn line_ends(chunk: &[u8; 16]) -> u32 {
        mask(chunk, super::is_line_end)
    }

    pub(super) fn non_ascii(chunk: &[u8; 16]) -> u32 {
        mask(chunk, |b| !b.is_ascii())
    }

    pub(super) fn string_ends(chunk: &[u8; 16]) -> u32 {
        mask(chunk, super::ends_plain_string)
    }
}

fn is_line_end(b: u8) -> bool {
    b == b'\n' || b == b'\r'
}

fn ends_plain_string(b: u8) -> bool {
    b == b'"' || b == b'\\' || b < 0x20
}

/// The position of the first CR or LF in `bytes`, and whether a byte before it (before the
/// end when there is none) is not ASCII: both in one pass.
#[inline]
pub(crate) fn line_end_and_width(bytes: &[u8]) -> (Option<usize>, bool) {
    let mut at = 0;
    let mut wide = false;
    while let Some(chunk) = bytes.get(at..at + 16) {
        let chunk = chunk.try_into().expect("a 16-byte slice");
        let (ends, high) = (block::line_ends(chunk), block::non_ascii(chunk));
        if ends != 0 {
            let end = ends.trailing_zeros();
            wide |= high & ((1 << end) - 1) != 0;
            return (Some(at + end as usize), wide);
        }
        wide |= high != 0;
        at += 16;
    }
    // The last bytes, fewer than sixteen: as the last sixteen of the string when it has as
    // many, the bits of those already tested shifted out.
    if at < bytes.len() && bytes.len() >= 16 {
        let start = bytes.len() - 16;
        let chunk = bytes[start..].try_into().expect("a 16-byte slice");
        let skip = at - start;
        let (ends, high) = (
            block::line_ends(chunk) >> skip,
            block::non_ascii(chunk) >> skip,
        );
        if ends != 0 {
            let end = ends.trailing_zeros();
            wide |= high & ((1 << end) - 1) != 0;
            return (Some(at + end as usize), wide);
        }
        return (None, wide | (high != 0));
    }
    for (i, &b) in bytes[at..].iter().enumerate() {
        if is_line_end(b) {
            return (Some(at + i), wide);
        }
        wide |= !b.is_ascii();
    }
    (None, wide)
}

/// The length of the run of bytes at the start of `bytes` that a JSON string holds as they
/// are (not `"`, `\` or a control character), or `None` when the run reaches the end.
#[inline]
pub(crate) fn plain_string_run(bytes: &[u8]) -> Option<usize> {
    find(bytes, block::string_ends, ends_plain_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every finder against the byte-at-a-time answer: each byte value at each position of
    /// runs of several lengths (blocks and tails), and pseudo-random bytes weighted towards
    /// the values that matter.
    #[test]
    fn the_block_finders_find_the_first_special_byte() {
        let naive = |bytes: &[u8], special: fn(u8) -> bool| bytes.iter().position(|&b| special(b));
        let check = |bytes: &[u8]| {
            let end = naive(bytes, is_line_end);
            let before = &bytes[..end.unwrap_or(bytes.len())];
            assert_eq!(
                line_end_and_width(bytes),
                (end, !before.is_ascii()),
                "{bytes:?}"
            );
            assert_eq!(
                plain_string_run(bytes),
                naive(bytes, ends_plain_string),
                "{bytes:?}"
            );
        };
        for len in 0..40 {
            for pos in 0..len {
                for byte in 0..=255u8 {
                    let mut bytes = vec![b'a'; len];
                    bytes[pos] = byte;
                    check(&bytes);
                    // A second special byte after the first must not hide it.
                    if pos + 1 < len {
                        bytes[pos + 1] = b'"';
                        check(&bytes);
                    }
                }
            }
        }
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let pool = [
            b'"',
            b'\\',
            b'\n',
            b'\r',
            0x1f,
            0x20,
            0x21,
            0x7f,
            0x80,
            0xff,
            0x00,
            b'a',
            0x5c ^ 0x80,
            0x0a ^ 0x80,
        ];
        for _ in 0..50_000 {
            let len = (seed % 70) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    if seed % 8 == 0 {
                        pool[(seed >> 8) as usize % pool.len()]
                    } else {
                        0x20 + (seed >> 16) as u8 % 0x5f
                    }
                })
                .collect();
            check(&bytes);
        }
    }
}
