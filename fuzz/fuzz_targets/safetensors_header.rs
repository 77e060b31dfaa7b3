//! The safetensors header check that runs before any tensor is read (convert, inspect).
#![no_main]

#[path = "../../crates/isoformer-model/src/safetensors_header.rs"]
mod safetensors_header;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut cursor = std::io::Cursor::new(data);
    if let Ok(h) = safetensors_header::parse_safetensors_header(&mut cursor, data.len() as u64) {
        let data_len = data.len() as u64 - h.data_start;
        for (_, _, _, (b, e)) in &h.tensors {
            assert!(b <= e && *e <= data_len, "accepted offsets outside the file");
        }
    }
});
