// `#[io::main]` wraps the program's main function.
#[io::main]
struct App;

fn main() {}
