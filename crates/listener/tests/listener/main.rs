//! The listener crate's one integration-test binary: the real server on loopback, spoken to
//! with raw HTTP so every header can be forged.

mod abuse;
mod client;
mod contract;
mod pairing;
mod sockets;
mod tab;
