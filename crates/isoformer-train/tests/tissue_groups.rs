//! tools/demo/gtex_tissue_groups.tsv (GTEx detailed tissues → IsoFormer's 30 groups, used to
//! build the demo model's targets) names only the 30 groups and covers every one of them.

use std::collections::BTreeSet;

#[test]
fn mapping_covers_exactly_the_30_groups() {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tools/demo/gtex_tissue_groups.tsv");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut groups = BTreeSet::new();
    let mut tissues = BTreeSet::new();
    for (i, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.starts_with("gtex_tissue\t") {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), 2, "{}:{}: two columns", path.display(), i + 1);
        assert!(tissues.insert(f[0]), "{}:{}: {} mapped twice", path.display(), i + 1, f[0]);
        assert!(isoformer_model::TISSUES.contains(&f[1]), "{}:{}: {} is not one of the 30 groups", path.display(), i + 1, f[1]);
        groups.insert(f[1]);
    }
    let missing: Vec<&&str> = isoformer_model::TISSUES.iter().filter(|t| !groups.contains(**t)).collect();
    assert!(missing.is_empty(), "groups without a GTEx tissue: {missing:?}");
    assert_eq!(tissues.len(), 53);
}

/// The committed demo model loads and names its outputs for what they are.
#[test]
fn demo_model_loads_with_named_psi_outputs() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/demo");
    let files = isoformer_model::ModelFiles::gather(|n| std::fs::read(dir.join(n))).unwrap();
    let p = isoformer_model::Predictor::from_files(&files, &burn::tensor::Device::flex()).unwrap();
    let names = p.output_names();
    assert_eq!(names.len(), 30);
    for (n, t) in names.iter().zip(isoformer_model::TISSUES) {
        assert_eq!(n, &format!("exon_psi:{t}"));
    }
}
