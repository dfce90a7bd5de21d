//! Secure inputs/outputs (§6.7): which sections of an action's record are
//! hidden in history, directly or because its inputs read secured outputs.

use conflux_definition::{ActionDefinition, ActionKind};

use crate::state::{ActionResult, Frame, RunCtx};

pub(crate) fn apply(ctx: &RunCtx, def: &ActionDefinition, _frame: &Frame, r: &mut ActionResult) {
    let sd = def.runtime.secure_data;
    // Secure parameters are masked wherever they are used.
    let mut inputs = sd.inputs || def.reads_secure_parameters;
    let mut outputs = sd.outputs;
    // Seed 003: an action whose inputs read the outputs of a trigger or action
    // with Secure Outputs, or the (visible) outputs of one with Secure Inputs,
    // has its inputs hidden. Compose, Parse JSON and Response hide their
    // outputs along with secured inputs; what reads those hidden outputs is
    // not hidden in turn, so only a source's own settings count, and Secure
    // Inputs on those three (whose outputs are then hidden) does not spread.
    if !inputs {
        inputs = def
            .input_references
            .iter()
            .filter_map(|n| ctx.workflow().action(n))
            .any(|src| {
                src.runtime.secure_data.outputs
                    || (src.runtime.secure_data.inputs && !hides_outputs_with_inputs(src))
            })
            || (def.reads_trigger
                && ctx
                    .workflow()
                    .triggers
                    .values()
                    .any(|t| t.runtime.secure_data.outputs || t.runtime.secure_data.inputs));
    }
    // These actions' outputs are their inputs (or derived from them): hidden
    // inputs hide the outputs too.
    if inputs && hides_outputs_with_inputs(def) {
        outputs = true;
    }
    r.secured_inputs = inputs;
    r.secured_outputs = outputs;
}

/// Compose, Parse JSON and Response: outputs are their inputs (or derived
/// from them), so hidden inputs hide the outputs too.
fn hides_outputs_with_inputs(def: &ActionDefinition) -> bool {
    matches!(
        def.kind,
        ActionKind::Compose { .. } | ActionKind::ParseJson { .. } | ActionKind::Response { .. }
    )
}
