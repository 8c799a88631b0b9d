//! Hostile input for the config parsers: random bytes, and real files
//! truncated, bit-flipped, spliced and with lines shuffled. Nothing may panic,
//! and every error must name the file it is about.

use std::path::Path;

use ironbeat::config::{parse_ha_cf, validate_native};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/config");

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, seed: &[u8], pool: &[&[u8]]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for _ in 0..=rng.below(4) {
        match rng.below(6) {
            0 => b.truncate(rng.below(b.len() + 1)),
            1 if !b.is_empty() => {
                let i = rng.below(b.len());
                b[i] ^= 1 << rng.below(8);
            }
            2 if !b.is_empty() => {
                let i = rng.below(b.len());
                b[i] = rng.next() as u8;
            }
            3 => {
                let other = pool[rng.below(pool.len())];
                let at = rng.below(other.len() + 1);
                let i = rng.below(b.len() + 1);
                b.splice(i..i, other[at..].iter().take(rng.below(64)).copied());
            }
            4 => {
                let mut lines: Vec<&[u8]> = b.split(|c| *c == b'\n').collect();
                if lines.len() > 1 {
                    let (i, j) = (rng.below(lines.len()), rng.below(lines.len()));
                    lines.swap(i, j);
                }
                b = lines.join(&b'\n');
            }
            _ => {
                let i = rng.below(b.len() + 1);
                let junk = [
                    "=",
                    "\"",
                    "[",
                    "]]",
                    "\u{0}",
                    "#",
                    "ms",
                    "\t",
                    "-1",
                    "99999999999",
                    "é",
                ];
                b.splice(i..i, junk[rng.below(junk.len())].bytes());
            }
        }
    }
    b
}

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(Path::new(FIXTURES).join(path)).unwrap()
}

#[test]
fn ha_cf_parser_survives_hostile_input() {
    let seeds = [
        fixture("every-directive/ha.cf"),
        fixture("lab-node1/ha.cf"),
        fixture("debian-sample.ha.cf"),
        fixture("legacy-spellings.ha.cf"),
    ];
    let pool: Vec<&[u8]> = seeds.iter().map(Vec::as_slice).collect();
    let origin = Path::new("/etc/ha.d/ha.cf");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut errors = 0;
    for i in 0..20_000 {
        let input = if i % 4 == 0 {
            (0..rng.below(300)).map(|_| rng.next() as u8).collect()
        } else {
            let seed = pool[rng.below(pool.len())];
            mutate(&mut rng, seed, &pool)
        };
        let text = String::from_utf8_lossy(&input);
        if let Err(e) = parse_ha_cf(&text, origin) {
            errors += 1;
            assert!(e.to_string().starts_with("/etc/ha.d/ha.cf"), "{e}");
        }
    }
    assert!(errors > 1000, "mutations must produce errors ({errors})");
    for seed in &seeds {
        assert!(parse_ha_cf(&String::from_utf8_lossy(seed), origin).is_ok());
    }
}

/// The native seeds of the fuzz target: the fixture (with a `[fence]`
/// section) and the others under fuzz/seeds/native_toml.
fn native_seeds() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/native_toml");
    let mut seeds = vec![fixture("native/ironbeat.toml")];
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    seeds.extend(names.iter().map(|p| std::fs::read(p).unwrap()));
    seeds
}

#[test]
fn native_fuzz_seeds_are_valid_and_cover_fencing() {
    let origin = Path::new("ironbeat.toml");
    let seeds = native_seeds();
    for seed in &seeds {
        let text = String::from_utf8_lossy(seed);
        if let Err(e) = validate_native(&text, origin, "node1") {
            panic!("{e}\n{text}");
        }
    }
    let fencing = seeds
        .iter()
        .filter(|s| String::from_utf8_lossy(s).contains("[[fence.device]]"))
        .count();
    assert!(fencing >= 2, "seeds with a [fence] section: {fencing}");
}

#[test]
fn native_parser_survives_hostile_input() {
    let seeds = native_seeds();
    let seed = seeds[0].clone();
    let pool: Vec<&[u8]> = seeds.iter().map(Vec::as_slice).collect();
    let origin = Path::new("/etc/ironbeat/ironbeat.toml");
    let mut rng = Rng(0x51_7cc1_b727_220a);
    let mut errors = 0;
    for i in 0..10_000 {
        let input = if i % 4 == 0 {
            (0..rng.below(300)).map(|_| rng.next() as u8).collect()
        } else {
            let seed = pool[rng.below(pool.len())];
            mutate(&mut rng, seed, &pool)
        };
        let text = String::from_utf8_lossy(&input);
        if let Err(e) = validate_native(&text, origin, "node1") {
            errors += 1;
            assert!(
                e.to_string().starts_with("/etc/ironbeat/ironbeat.toml"),
                "{e}"
            );
        }
    }
    assert!(errors > 1000, "mutations must produce errors ({errors})");
    assert!(validate_native(&String::from_utf8_lossy(&seed), origin, "node1").is_ok());
}
