//! Which parameters train. Every parameter gets an id derived from its path, so that the
//! optimiser's moments and the clipping norm find it by name in any process; only the trained
//! parts' parameters require gradients (the others get none, and the optimiser never sees them).

use burn::module::{Module, ModuleMapper, Param, ParamId};
use burn::tensor::Tensor;
use isoformer_model::Isoformer;
use isoformer_model::weights::fnv1a64;

use crate::options::TrainParts;

/// A trained parameter: its burn field path and rank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainedParam {
    pub path: String,
    pub rank: usize,
}

/// The id of the parameter at `path`.
pub(crate) fn param_id(path: &str) -> ParamId {
    ParamId::from(fnv1a64(path))
}

/// `model` with path-derived ids and gradients required for `parts` only, and the list of
/// trained parameters in visiting order.
pub(crate) fn prepare(model: Isoformer, parts: TrainParts) -> (Isoformer, Vec<TrainedParam>) {
    let mut prep = Prepare { path: Vec::new(), parts, trained: Vec::new() };
    let model = model.map(&mut prep);
    (model, prep.trained)
}

struct Prepare {
    path: Vec<String>,
    parts: TrainParts,
    trained: Vec<TrainedParam>,
}

impl ModuleMapper for Prepare {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let path = self.path.join(".");
        let trains = self.parts.trains(&path);
        let (_, tensor, mapper) = param.consume();
        let param = Param::from_mapped_value(param_id(&path), tensor, mapper).set_require_grad(trains);
        if trains {
            self.trained.push(TrainedParam { path, rank: D });
        }
        param
    }
}
