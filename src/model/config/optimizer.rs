//! The optimizer as Keras's `{"class_name": "Adam", "config": {...}}` (its hyper-parameters
//! by Keras's names), and back.

use serde_json::{Value, json};

use super::{Obj, bad};
use crate::error::Result;
use crate::optimizers::Optimizer;

pub(super) fn optimizer_json(o: &Optimizer) -> Value {
    match *o {
        Optimizer::Adam {
            learning_rate,
            beta_1,
            beta_2,
            epsilon,
        } => json!({"class_name": "Adam", "config": {"learning_rate": learning_rate,
            "beta_1": beta_1, "beta_2": beta_2, "epsilon": epsilon}}),
        Optimizer::Sgd {
            learning_rate,
            momentum,
            nesterov,
        } => json!({"class_name": "SGD", "config": {"learning_rate": learning_rate,
            "momentum": momentum, "nesterov": nesterov}}),
        Optimizer::RmsProp {
            learning_rate,
            rho,
            momentum,
            epsilon,
        } => json!({"class_name": "RMSprop", "config": {"learning_rate": learning_rate,
            "rho": rho, "momentum": momentum, "epsilon": epsilon}}),
    }
}

pub(super) fn parse_optimizer(v: &Value) -> Result<Optimizer> {
    let o = Obj::new("the optimizer", v)?;
    let class = o.string("class_name")?;
    let c = Obj::new(format!("the {class} optimizer's config"), o.get("config")?)?;
    let lr = c.number("learning_rate")? as f32;
    Ok(match class {
        "Adam" => Optimizer::Adam {
            learning_rate: lr,
            beta_1: c.number("beta_1")?,
            beta_2: c.number("beta_2")?,
            epsilon: c.number("epsilon")? as f32,
        },
        "SGD" => Optimizer::Sgd {
            learning_rate: lr,
            momentum: c.number("momentum")? as f32,
            nesterov: c.flag("nesterov")?,
        },
        "RMSprop" => Optimizer::RmsProp {
            learning_rate: lr,
            rho: c.number("rho")?,
            momentum: c.number("momentum")? as f32,
            epsilon: c.number("epsilon")? as f32,
        },
        other => {
            return Err(bad(format!(
                "optimizer '{other}' is not one wgfit has (Adam, SGD, RMSprop)"
            )));
        }
    })
}
