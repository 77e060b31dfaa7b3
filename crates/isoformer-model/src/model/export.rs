//! Export: every parameter under its PyTorch checkpoint name, for saving trained models.
//!
//! How each parameter maps to a checkpoint tensor is not written out by hand (the encoders
//! transpose some tensors at load): a second model is built from a source whose values are
//! their own element indices, and its parameters, read back, say which checkpoint element each
//! parameter element came from. A parameter that is not a plain copy of checkpoint elements
//! (anything computed at load) is an error, never a silent mis-save.

use std::cell::RefCell;

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::Tensor;

use crate::config::IsoformerConfig;
use crate::weights::{LoadProblem, Loader, TensorSource, ValuesError};

use super::isoformer::Isoformer;
use super::layout::Layout;

/// f32 holds integers exactly below 2^24: element indices go in 23-bit digits, one build per digit.
const DIGIT_BITS: usize = 23;

/// `(checkpoint name, shape, values)` of one tensor.
pub type NamedTensor = (String, Vec<usize>, Vec<f32>);

/// Why a model could not be exported under checkpoint names.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExportError {
    #[error("model has no head layers")]
    NoHead,
    #[error("building the index model: {0:?}")]
    IndexModel(Vec<LoadProblem>),
    #[error("{index} parameters in the index model, {model} in the model")]
    ParameterCount { index: usize, model: usize },
    #[error("parameter {parameter}: {index} elements in the index model, {model} in the model")]
    ElementCount { parameter: usize, index: usize, model: usize },
    #[error("parameter {parameter} is not a plain copy of checkpoint values (index element {value})")]
    NotACopy { parameter: usize, value: f32 },
    #[error("checkpoint names hold {names} values, the model {model}")]
    Size { names: usize, model: usize },
    #[error("checkpoint element {0} is claimed twice or out of range")]
    Claimed(usize),
}

impl Isoformer {
    /// Every parameter under its checkpoint name in [`Layout::standard`], in PyTorch's layout
    /// (Linear `[out, in]`): what `model.safetensors` holds, so that [`Isoformer::load`] reads
    /// back exactly these values (used to save trained models). See the module doc for how.
    pub fn named_tensors(&self, cfg: &IsoformerConfig) -> Result<Vec<NamedTensor>, ExportError> {
        let ours = collect_params(self);
        let total: usize = ours.iter().map(Vec::len).sum();
        let (names, index) = self.checkpoint_index(cfg, &ours)?;
        let size: usize = names.last().map(|(_, s, o)| o + s.iter().product::<usize>()).unwrap_or(0);
        if size != total {
            return Err(ExportError::Size { names: size, model: total });
        }
        let mut flat = vec![f32::NAN; size];
        let mut seen = vec![false; size];
        for (vals, idx) in ours.iter().zip(&index) {
            for (v, &i) in vals.iter().zip(idx) {
                if i >= size || seen[i] {
                    return Err(ExportError::Claimed(i));
                }
                seen[i] = true;
                flat[i] = *v;
            }
        }
        Ok(names
            .into_iter()
            .map(|(n, shape, off)| {
                let len: usize = shape.iter().product();
                (n, shape, flat[off..off + len].to_vec())
            })
            .collect())
    }

    /// The checkpoint names the standard layout asks for, in order with their offsets, and for
    /// each element of each parameter in `ours` the checkpoint element it was loaded from.
    fn checkpoint_index(&self, cfg: &IsoformerConfig, ours: &[Vec<f32>]) -> Result<(Vec<(String, Vec<usize>, usize)>, Vec<Vec<usize>>), ExportError> {
        let device = self.head.layers.first().ok_or(ExportError::NoHead)?.weight.device().without_autodiff();
        let layout = Layout::standard(cfg, &self.head_hidden(), self.head.outputs());
        let total: usize = ours.iter().map(Vec::len).sum();
        let digits = if total == 0 { 1 } else { (usize::BITS - (total - 1).leading_zeros()).div_ceil(DIGIT_BITS as u32).max(1) as usize };
        let mut index: Vec<Vec<usize>> = ours.iter().map(|p| vec![0usize; p.len()]).collect();
        let mut names = Vec::new();
        for digit in 0..digits {
            let probe = IndexSource::new(digit);
            let mut l = Loader::new(&probe, &device);
            let model = Self::build(&mut l, cfg, &layout);
            if l.has_problems() {
                return Err(ExportError::IndexModel(l.into_problems()));
            }
            let values = collect_params(&model);
            if values.len() != ours.len() {
                return Err(ExportError::ParameterCount { index: values.len(), model: ours.len() });
            }
            for (parameter, (vals, idx)) in values.iter().zip(index.iter_mut()).enumerate() {
                add_digit(parameter, vals, idx, digit)?;
            }
            if digit == 0 {
                names = probe.requested.into_inner();
            }
        }
        Ok((names, index))
    }
}

/// Add one 23-bit digit, read from the index model's parameter values `vals`, to `idx`.
fn add_digit(parameter: usize, vals: &[f32], idx: &mut [usize], digit: usize) -> Result<(), ExportError> {
    if vals.len() != idx.len() {
        return Err(ExportError::ElementCount { parameter, index: vals.len(), model: idx.len() });
    }
    for (v, i) in vals.iter().zip(idx.iter_mut()) {
        let d = *v as usize;
        if *v < 0.0 || v.fract() != 0.0 || (d as f32) != *v || d >= 1 << DIGIT_BITS {
            return Err(ExportError::NotACopy { parameter, value: *v });
        }
        *i |= d << (DIGIT_BITS * digit);
    }
    Ok(())
}

/// Every float parameter's values, in visiting order.
fn collect_params<M: Module>(m: &M) -> Vec<Vec<f32>> {
    struct Collect(Vec<Vec<f32>>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let data = param.val().into_data().convert::<f32>();
            self.0.push(data.try_to_vec::<f32>().expect("f32 parameter data"));
        }
    }
    let mut c = Collect(Vec::new());
    m.visit(&mut c);
    c.0
}

/// A generative source whose values are their own global element index (one 23-bit digit of
/// it), recording the names and shapes asked for, in order, with their offsets.
struct IndexSource {
    digit: usize,
    requested: RefCell<Vec<(String, Vec<usize>, usize)>>,
}

impl IndexSource {
    fn new(digit: usize) -> Self {
        Self { digit, requested: RefCell::new(Vec::new()) }
    }
}

impl TensorSource for IndexSource {
    fn names(&self) -> Vec<String> {
        Vec::new()
    }
    fn shape(&self, _name: &str) -> Option<Vec<usize>> {
        None
    }
    fn values(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, ValuesError> {
        let mut r = self.requested.borrow_mut();
        if r.iter().any(|(n, _, _)| n == name) {
            return Err(ValuesError::Repeated);
        }
        let off = r.last().map(|(_, s, o)| o + s.iter().product::<usize>()).unwrap_or(0);
        let n: usize = shape.iter().product();
        r.push((name.to_string(), shape.to_vec(), off));
        Ok((off..off + n).map(|i| ((i >> (DIGIT_BITS * self.digit)) & ((1 << DIGIT_BITS) - 1)) as f32).collect())
    }
}
