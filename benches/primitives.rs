//! Raw rates of the primitives that bound the identity figures (BENCHMARKS.md): Argon2id with
//! the password parameters (m = 19 MiB, t = 2, p = 1) and ES256 signing, on 1 and on all cores.
//! Run with `cargo bench --bench primitives`.

use std::time::{Duration, Instant};

fn rate(threads: usize, seconds: f64, work: impl Fn() + Send + Sync + Copy + 'static) -> f64 {
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            std::thread::spawn(move || {
                let mut n = 0u64;
                while Instant::now() < deadline {
                    work();
                    n += 1;
                }
                n
            })
        })
        .collect();
    let total: u64 = handles.into_iter().map(|h| h.join().unwrap_or(0)).sum();
    total as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    for threads in [1, cores] {
        let argon = rate(threads, 5.0, || {
            let _ = civitas_identity::password::hash_with_crate_api("sông Hồng mùa thu");
        });
        println!(
            "{{\"primitive\":\"argon2id m=19456 t=2 p=1 (crate API, allocating)\",\"threads\":{threads},\"per_s\":{argon:.1}}}"
        );
        let reused = rate(threads, 5.0, || {
            let _ = civitas_identity::password::hash_now("sông Hồng mùa thu");
        });
        println!(
            "{{\"primitive\":\"argon2id m=19456 t=2 p=1 (memory reused, as the server)\",\"threads\":{threads},\"per_s\":{reused:.1}}}"
        );
        let es256 = rate(threads, 3.0, || {
            use p256::ecdsa::signature::Signer;
            thread_local! {
                static KEY: p256::ecdsa::SigningKey =
                    <p256::ecdsa::SigningKey as p256::elliptic_curve::Generate>::try_generate().expect("key");
            }
            KEY.with(|k| {
                let _: p256::ecdsa::Signature = k.sign(b"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhZ2VuY3kiLCJleHAiOjF9");
            });
        });
        println!("{{\"primitive\":\"ES256 sign (p256, pure Rust)\",\"threads\":{threads},\"per_s\":{es256:.0}}}");
        let ring_rate = rate(threads, 3.0, || {
            thread_local! {
                static PAIR: (ring::signature::EcdsaKeyPair, ring::rand::SystemRandom) = {
                    let rng = ring::rand::SystemRandom::new();
                    let doc = ring::signature::EcdsaKeyPair::generate_pkcs8(&ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("key");
                    (ring::signature::EcdsaKeyPair::from_pkcs8(&ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref(), &rng).expect("key"), rng)
                };
            }
            PAIR.with(|(k, rng)| {
                let _ = k.sign(rng, b"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhZ2VuY3kiLCJleHAiOjF9");
            });
        });
        println!(
            "{{\"primitive\":\"ES256 sign (ring, used by the server)\",\"threads\":{threads},\"per_s\":{ring_rate:.0}}}"
        );
    }
}
