//! Compiled-expression throughput: what an action's inputs cost per evaluation.
//!
//! Run with `cargo bench -p conflux-expr`.

use std::hint::black_box;

use conflux_expr::{functions, JsonContext, Template};
use criterion::{criterion_group, criterion_main, Criterion};

fn context() -> JsonContext {
    JsonContext::from_json(&serde_json::json!({
        "parameters": {"prefix": "order"},
        "triggerBody": {"order": {"customer": {"address": {"city": "Oslo"}}, "id": 7}},
        "variables": {"items": (0..10_000).collect::<Vec<i64>>()},
    }))
    .expect("valid context")
}

fn bench(c: &mut Criterion) {
    let host = context();
    let mut case = |name: &str, text: &str| {
        let t = Template::compile(text).expect("the benchmark expression compiles");
        t.eval(&host).expect("the benchmark expression evaluates");
        c.bench_function(name, |b| b.iter(|| black_box(&t).eval(&host)));
    };
    case("add(1,2)", "@add(1,2)");
    case(
        "member chain on triggerBody",
        "@triggerBody()?['order']?['customer']?['address']?['city']",
    );
    case(
        "interpolation with 3 holes",
        "@{parameters('prefix')}-@{triggerBody().order.id}: @{triggerBody().order.customer.address.city}",
    );
    case("length(range(0,10000))", "@length(range(0,10000))");
    case(
        "join over a 10k array",
        "@length(join(variables('items'), ','))",
    );
    if functions::lookup("formatDateTime").is_some() {
        case(
            "formatDateTime",
            "@formatDateTime('2024-03-15T13:45:30.1234567Z', 'yyyy-MM-dd HH:mm')",
        );
    }
    c.bench_function("compile interpolation", |b| {
        b.iter(|| {
            Template::compile(black_box(
                "Total: @{add(mul(2, 3), 4)} for @{triggerBody()?['order']?['id']}",
            ))
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
