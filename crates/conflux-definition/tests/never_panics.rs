//! Loading arbitrary documents never panics: every input gets a model or findings.

use conflux_definition::Workflow;
use proptest::prelude::*;
use serde_json::{json, Value};

const KEYS: &[&str] = &[
    "definition",
    "kind",
    "triggers",
    "actions",
    "type",
    "inputs",
    "runAfter",
    "expression",
    "else",
    "cases",
    "case",
    "default",
    "foreach",
    "limit",
    "count",
    "timeout",
    "retryPolicy",
    "interval",
    "runtimeConfiguration",
    "concurrency",
    "repetitions",
    "secureData",
    "properties",
    "operationOptions",
    "variables",
    "name",
    "value",
    "staticResult",
    "parameters",
    "outputs",
    "staticResults",
    "and",
    "or",
    "not",
    "equals",
    "A",
    "B",
];
const STRINGS: &[&str] = &[
    "Compose",
    "If",
    "Switch",
    "Foreach",
    "Until",
    "Scope",
    "InitializeVariable",
    "Http",
    "Response",
    "Terminate",
    "Wait",
    "Succeeded",
    "failed",
    "@add(1,",
    "@{x",
    "@body('A')",
    "PT5S",
    "P",
    "Sequential",
    "fixed",
    "A",
    "B",
    "",
];

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        (-3i64..100).prop_map(Value::from),
        proptest::sample::select(STRINGS).prop_map(Value::from),
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec((proptest::sample::select(KEYS), inner), 0..6).prop_map(
                |kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            ),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    #[test]
    fn arbitrary_documents_never_panic(doc in arb_json(), actions in arb_json()) {
        let _ = Workflow::from_json(&doc);
        let wrapped = json!({"definition": {"triggers": {"t": {"type": "Request"}}, "actions": actions}});
        let _ = Workflow::from_json_with(&wrapped, &|_| false);
    }
}
