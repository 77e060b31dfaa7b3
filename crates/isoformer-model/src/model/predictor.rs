//! A model with its tokenizers: bytes in, predictions out.

use burn::tensor::Device;

use crate::config::{ConfigError, IsoformerConfig};
use crate::weights::{ReadAt, SafetensorsSource};

use super::files::{ModelError, ModelFiles};
use super::input::{Batch, Encoded, Example, InputError, InputErrorKind, Tokenizers};
use super::isoformer::{Isoformer, Output};

/// A model with its tokenizers: bytes in, predictions out.
pub struct Predictor {
    pub config: IsoformerConfig,
    pub model: Isoformer,
    pub tokenizers: Tokenizers,
    pub device: Device,
}

impl Predictor {
    /// Build the model from its files; the weights are read one tensor at a time (for `W` a
    /// reader, neither the file nor a second copy of it is ever whole in memory).
    pub fn from_files<W: ReadAt>(files: &ModelFiles<W>, device: &Device) -> Result<Self, ModelError> {
        let config = IsoformerConfig::from_json(&files.config_json)?;
        let tokenizers = Tokenizers::from_files(files, &config)?;
        let source = SafetensorsSource::new(&files.safetensors).map_err(ModelError::Safetensors)?;
        let model = Isoformer::load(&config, &source, device)?;
        Self::from_parts(config, tokenizers, model, device)
    }

    /// Wrap a model built elsewhere (a trainer's), after the same checks [`from_files`](Self::from_files)
    /// makes: the config's output names and target transform must have one entry per head output.
    pub fn from_parts(config: IsoformerConfig, tokenizers: Tokenizers, model: Isoformer, device: &Device) -> Result<Self, ModelError> {
        let outputs = model.head.outputs();
        let counts = [
            ("isoformer_output_names", config.isoformer_output_names.as_ref().map(Vec::len)),
            ("isoformer_target_transform", config.isoformer_target_transform.as_ref().and_then(|t| t.mean.as_ref()).map(Vec::len)),
        ];
        for (field, n) in counts {
            if let Some(n) = n.filter(|&n| n != outputs) {
                return Err(ModelError::Config(ConfigError::Field { field, message: format!("{n} entries for a head with {outputs} outputs") }));
            }
        }
        Ok(Self { config, model, tokenizers, device: device.clone() })
    }

    /// Tokenize one example (see [`Tokenizers::encode`]).
    pub fn encode(&self, ex: &Example) -> Result<Encoded, InputError> {
        self.tokenizers.encode(ex)
    }

    /// Run a batch of encoded examples (all with the same DNA length).
    pub fn forward(&self, batch: &[Encoded]) -> Result<Output, InputError> {
        let first = batch.first().ok_or_else(|| InputError::new("(batch)", InputErrorKind::EmptyBatch))?;
        if let Some(bad) = batch.iter().find(|e| e.dna_len != first.dna_len) {
            return Err(InputError::new(bad.id.clone(), InputErrorKind::MixedDnaLength { found: bad.dna_len, expected: first.dna_len }));
        }
        let b = Batch::new(batch, &self.device);
        Ok(self.model.forward(b.dna, &b.rna, &b.protein))
    }

    /// Output column names: `isoformer_output_names` when the config has them, else the 30 GTEx
    /// tissues for a 30-output head, `output_N` otherwise.
    pub fn output_names(&self) -> Vec<String> {
        let n = self.model.head.outputs();
        if let Some(names) = &self.config.isoformer_output_names {
            return names.clone();
        }
        if n == crate::TISSUES.len() {
            crate::TISSUES.iter().map(|s| s.to_string()).collect()
        } else {
            (0..n).map(|i| format!("output_{i}")).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files() -> ModelFiles {
        ModelFiles {
            config_json: include_str!("../../../../models/tiny/config.json").into(),
            safetensors: Vec::<u8>::new(),
            dna_vocab: include_str!("../../../../models/dna_vocab_list.txt").into(),
            rna_vocab: include_str!("../../../../models/rna_vocab_list.txt").into(),
            protein_vocab: include_str!("../../../../models/protein_vocab_list.txt").into(),
        }
    }

    /// A trainer's model is wrapped without reloading, under the checks `from_files` makes.
    #[test]
    fn from_parts_checks_output_counts() {
        let device = Device::flex();
        let files = files();
        let config = IsoformerConfig::from_json(&files.config_json).unwrap();
        let tokenizers = Tokenizers::from_files(&files, &config).unwrap();
        let model = |outputs| Isoformer::seeded(&config, &[], outputs, &device);
        let named = IsoformerConfig { isoformer_output_names: Some(vec!["a".into(), "b".into()]), ..config.clone() };
        let p = Predictor::from_parts(named.clone(), tokenizers.clone(), model(2), &device).unwrap();
        assert_eq!(p.output_names(), vec!["a", "b"]);
        let err = Predictor::from_parts(named, tokenizers, model(3), &device).err().expect("3 outputs for 2 names");
        assert_eq!(err.to_string(), "config.json: config field `isoformer_output_names`: 2 entries for a head with 3 outputs");
    }
}
