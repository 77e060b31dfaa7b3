//! config.json: `IsoformerConfig::from_json` never panics; a config it accepts gives its
//! geometry without panicking, survives a JSON round trip unchanged, and its target transform
//! applies to every output.
#![no_main]

use isoformer_model::config::IsoformerConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(cfg) = IsoformerConfig::from_json(text) else { return };
    let enformer = cfg.enformer();
    assert_eq!(enformer.filters.len(), cfg.enformer_num_downsamples);
    let _ = (enformer.bin_size(), enformer.rel_pos_features(), enformer.out_dim());
    let _ = cfg.attended();
    let mut again = IsoformerConfig::from_json(&serde_json::to_string(&cfg).unwrap()).expect("a written config reads back");
    // serde_json without its `float_roundtrip` feature may read an f64 back one ulp off
    // (1e-24 -> 1.0000000000000001e-24): close is enough for the LayerNorm eps.
    for (a, b) in [(&mut again.nt_layer_norm_eps, cfg.nt_layer_norm_eps), (&mut again.esm_layer_norm_eps, cfg.esm_layer_norm_eps)] {
        assert!((*a - b).abs() <= b.abs() * 1e-15, "{a} read back for {b}");
        *a = b;
    }
    assert_eq!(again, cfg);
    if let Some(t) = &cfg.isoformer_target_transform {
        let outputs = t.mean.as_ref().map_or(1, Vec::len);
        for output in 0..outputs {
            let _ = t.inverse(output, t.forward(output, 1.5));
        }
    }
});
