use io::io_select;

fn main() {
    let runtime = io::Runtime::builder().threads(1).build().unwrap();
    let _: Result<(), io::Canceled> = runtime.run(|io| io_select!(io, {}));
}
