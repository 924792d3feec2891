// `#[io::main]` builds the runtime and passes its Io handle to `main`.
#[io::main]
fn main() {
    println!("hello");
}
