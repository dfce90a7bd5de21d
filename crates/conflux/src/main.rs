//! The `conflux` command line.

fn main() {
    println!("conflux");
}
