//! Secure inputs/outputs (§6.7): which sections of an action's record are
//! hidden in history, directly or because its inputs read secured outputs.

use conflux_definition::{ActionDefinition, ActionKind};

use crate::state::{ActionResult, Frame, RunCtx};

pub(crate) fn apply(ctx: &RunCtx, def: &ActionDefinition, _frame: &Frame, r: &mut ActionResult) {
    let sd = def.runtime.secure_data;
    // Secure parameters are masked wherever they are used.
    let mut inputs = sd.inputs || def.reads_secure_parameters;
    let mut outputs = sd.outputs;
    // Secured outputs read by this action's inputs hide those inputs. Only an
    // action's own "outputs" setting propagates (not the outputs hidden as a
    // side effect of Secure Inputs on Compose/ParseJson/Response).
    if !inputs {
        inputs = def
            .input_references
            .iter()
            .filter_map(|n| ctx.workflow.action(n))
            .any(|src| src.runtime.secure_data.outputs);
    }
    // These actions' outputs are their inputs (or derived from them): hidden
    // inputs hide the outputs too.
    if inputs
        && matches!(
            def.kind,
            ActionKind::Compose { .. } | ActionKind::ParseJson { .. } | ActionKind::Response { .. }
        )
    {
        outputs = true;
    }
    r.secured_inputs = inputs;
    r.secured_outputs = outputs;
}
