//! Hostile-input generation for the command-line parsers' tests: a real
//! input mutated by byte replacements, insertions and deletions.

/// `count` mutants of `base`, each 1–6 edits drawn from `alphabet`, from a
/// deterministic xorshift sequence (a failure reproduces). An edit that
/// empties the input leaves `filler` instead.
pub(crate) fn mutations<'a>(
    base: &'a [u8],
    alphabet: &[u8],
    mut seed: u64,
    count: usize,
    filler: u8,
) -> impl Iterator<Item = Vec<u8>> + 'a {
    let alphabet = alphabet.to_vec();
    (0..count).map(move |_| {
        let mut bytes = base.to_vec();
        for _ in 0..1 + (seed % 6) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let at = (seed as usize) % bytes.len();
            let with = alphabet[(seed >> 32) as usize % alphabet.len()];
            match seed % 3 {
                0 => bytes[at] = with,
                1 => bytes.insert(at, with),
                _ => {
                    bytes.remove(at);
                }
            }
            if bytes.is_empty() {
                bytes.push(filler);
            }
        }
        bytes
    })
}
