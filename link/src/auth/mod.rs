//! Frame authentication: keys in heartbeat's `authkeys` format, HMAC tags
//! (SHA-256 by default) verified in constant time, and per-peer replay windows.
//!
//! Secrets never leave this module in readable form: [`Key`]'s `Debug` prints
//! the algorithm and index only.

mod authkeys;
mod replay;

pub use authkeys::parse_authkeys;
pub use replay::{ReplayVerdict, ReplayWindow};

use hmac::{Hmac, Mac};
use subtle::ConstantTimeEq;

use crate::wire::frame::Packet;
use crate::Error;

/// A tag algorithm, as named in authkeys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// HMAC-SHA-256 (ours; the default for new configurations).
    Sha256,
    /// HMAC-SHA-1 (heartbeat's usual choice).
    Sha1,
    /// HMAC-MD5 (weak; accepted for old configs).
    Md5,
    /// CRC-32: detects line noise, proves nothing. Refused unless allowed.
    Crc,
}

impl Algorithm {
    /// Length of the tag this algorithm produces.
    pub fn tag_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 32,
            Algorithm::Sha1 => 20,
            Algorithm::Md5 => 16,
            Algorithm::Crc => 4,
        }
    }

    /// The authkeys name.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha1 => "sha1",
            Algorithm::Md5 => "md5",
            Algorithm::Crc => "crc",
        }
    }
}

/// One numbered key.
#[derive(Clone)]
pub struct Key {
    index: u8,
    algorithm: Algorithm,
    secret: Vec<u8>,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("index", &self.index)
            .field("algorithm", &self.algorithm)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl Key {
    /// A key; `index` is 1–15 as in authkeys.
    pub fn new(index: u8, algorithm: Algorithm, secret: impl Into<Vec<u8>>) -> Self {
        Key {
            index,
            algorithm,
            secret: secret.into(),
        }
    }

    /// The key number.
    pub fn index(&self) -> u8 {
        self.index
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    fn tag(&self, data: &[u8], out: &mut [u8]) {
        fn hmac<M: Mac + hmac::digest::KeyInit>(key: &[u8], data: &[u8], out: &mut [u8]) {
            // HMAC takes keys of any length, so new_from_slice cannot fail.
            let Ok(mut mac) = <M as hmac::digest::KeyInit>::new_from_slice(key) else {
                return;
            };
            mac.update(data);
            let bytes = mac.finalize().into_bytes();
            let n = out.len().min(bytes.len());
            out[..n].copy_from_slice(&bytes[..n]);
        }
        match self.algorithm {
            Algorithm::Sha256 => hmac::<Hmac<sha2::Sha256>>(&self.secret, data, out),
            Algorithm::Sha1 => hmac::<Hmac<sha1::Sha1>>(&self.secret, data, out),
            Algorithm::Md5 => hmac::<Hmac<md5::Md5>>(&self.secret, data, out),
            Algorithm::Crc => {
                let crc = crc32fast::hash(data).to_be_bytes();
                let n = out.len().min(4);
                out[..n].copy_from_slice(&crc[..n]);
            }
        }
    }
}

/// Why a frame's tag was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// The frame names a key number we do not have.
    UnknownKey(u8),
    /// The tag length does not match the key's algorithm.
    WrongTagLength,
    /// The tag does not verify: wrong key or altered frame.
    BadTag,
}

impl std::fmt::Display for AuthFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuthFailure::UnknownKey(i) => write!(f, "signed with key {i}, which authkeys lacks"),
            AuthFailure::WrongTagLength => f.write_str("tag length does not match the key"),
            AuthFailure::BadTag => f.write_str("tag does not verify (wrong key or altered frame)"),
        }
    }
}

/// The keys of a node: one signs what we send, all verify what we receive
/// (so keys can be rotated one node at a time).
#[derive(Debug, Clone)]
pub struct KeyRing {
    keys: Vec<Key>,
    active: u8,
}

impl KeyRing {
    /// A ring whose key `active` signs; it must be among `keys`.
    pub fn new(keys: Vec<Key>, active: u8) -> Result<Self, Error> {
        if !keys.iter().any(|k| k.index == active) {
            return Err(Error::config(format!(
                "the active key {active} is not defined; add a line `{active} sha256 SECRET`"
            )));
        }
        Ok(KeyRing { keys, active })
    }

    /// The key that signs outgoing frames.
    pub fn active(&self) -> &Key {
        // `new` checked that the active index exists, and keys are never removed.
        self.keys
            .iter()
            .find(|k| k.index == self.active)
            .unwrap_or(&self.keys[0])
    }

    /// Whether any key is CRC (no security).
    pub fn has_crc(&self) -> bool {
        self.keys.iter().any(|k| k.algorithm == Algorithm::Crc)
    }

    /// Fills the auth tag of an emitted frame with the active key.
    pub fn sign<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        let key = self.active();
        let mut tag = [0u8; 32];
        let len = key.algorithm.tag_len();
        key.tag(packet.signed_bytes(), &mut tag[..len]);
        let out = packet.auth_tag_mut();
        let n = out.len().min(len);
        out[..n].copy_from_slice(&tag[..n]);
    }

    /// Verifies a frame's tag in constant time.
    pub fn verify<T: AsRef<[u8]>>(&self, packet: &Packet<T>) -> Result<(), AuthFailure> {
        let index = packet.key_index();
        let key = self
            .keys
            .iter()
            .find(|k| k.index == index)
            .ok_or(AuthFailure::UnknownKey(index))?;
        let len = key.algorithm.tag_len();
        if packet.auth_tag().len() != len {
            return Err(AuthFailure::WrongTagLength);
        }
        let mut expected = [0u8; 32];
        key.tag(packet.signed_bytes(), &mut expected[..len]);
        if bool::from(expected[..len].ct_eq(packet.auth_tag())) {
            Ok(())
        } else {
            Err(AuthFailure::BadTag)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::frame::{MessageType, Repr};
    use crate::{ClusterId, Generation, NodeId, PathId};

    fn frame(ring: &KeyRing) -> Vec<u8> {
        let key = ring.active();
        let repr = Repr {
            cluster_id: ClusterId(1),
            node_id: NodeId(2),
            node_name: "n",
            generation: Generation(1),
            sequence: 1,
            path_id: PathId(0),
            msg_type: MessageType::Heartbeat,
            key_index: key.index(),
            auth_len: key.algorithm().tag_len() as u8,
            payload: &[0; 8],
        };
        let mut bytes = repr.to_vec();
        ring.sign(&mut Packet::new_unchecked(&mut bytes[..]));
        bytes
    }

    #[test]
    fn each_algorithm_signs_and_verifies() {
        for alg in [
            Algorithm::Sha256,
            Algorithm::Sha1,
            Algorithm::Md5,
            Algorithm::Crc,
        ] {
            let ring = KeyRing::new(vec![Key::new(3, alg, "s3cret")], 3).unwrap();
            let bytes = frame(&ring);
            assert_eq!(
                ring.verify(&Packet::new_checked(&bytes[..]).unwrap()),
                Ok(())
            );
            let mut altered = bytes.clone();
            altered[20] ^= 1;
            assert_eq!(
                ring.verify(&Packet::new_checked(&altered[..]).unwrap()),
                Err(AuthFailure::BadTag)
            );
        }
    }

    #[test]
    fn wrong_key_and_unknown_index_fail() {
        let ours = KeyRing::new(vec![Key::new(1, Algorithm::Sha256, "a")], 1).unwrap();
        let theirs = KeyRing::new(vec![Key::new(1, Algorithm::Sha256, "b")], 1).unwrap();
        let bytes = frame(&theirs);
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(ours.verify(&packet), Err(AuthFailure::BadTag));
        let other = KeyRing::new(vec![Key::new(2, Algorithm::Sha256, "a")], 2).unwrap();
        assert_eq!(other.verify(&packet), Err(AuthFailure::UnknownKey(1)));
    }

    #[test]
    fn hmac_sha256_matches_rfc4231_case_2() {
        let key = Key::new(1, Algorithm::Sha256, "Jefe");
        let mut out = [0u8; 32];
        key.tag(b"what do ya want for nothing?", &mut out);
        assert_eq!(out[..4], [0x5b, 0xdc, 0xc1, 0x46]);
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let key = Key::new(1, Algorithm::Sha1, "topsecret");
        assert!(!format!("{key:?}").contains("topsecret"));
    }
}
