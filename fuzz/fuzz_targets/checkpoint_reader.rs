//! The path a `pytorch_model.bin` takes: the pickle global scan (which must never panic and
//! must refuse anything outside the allow-list), then pytorch-reader on what the scan accepts,
//! reading every tensor. Any panic, hang or over-allocation is a bug.
#![no_main]

#[path = "../../crates/isoformer-checkpoint/src/globals.rs"]
mod globals;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((found, _)) = globals::scan(data) {
        for (m, n) in &found {
            assert!(globals::ALLOWED.iter().any(|(am, an)| am == m && an == n), "{m}.{n} passed the scan");
        }
    }
    if let Ok(reader) = pytorch_reader::PytorchReader::from_bytes(data.to_vec(), None) {
        for t in reader.tensors().values() {
            if t.byte_len() <= 1 << 20 {
                let _ = t.read();
            }
        }
    }
});
