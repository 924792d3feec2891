use io::io_select;

fn main() {
    let runtime = io::Runtime::builder().threads(1).build().unwrap();
    let _ = runtime.run(|io| {
        io_select!(io, {
            n = 5 => n,
            () = io::after(std::time::Duration::from_millis(1)) => 0,
        })
    });
}
