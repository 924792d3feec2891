use io::{io_select, Queue};

fn main() {
    let runtime = io::Runtime::builder().threads(1).build().unwrap();
    let queue: Queue<u32> = Queue::new(1);
    let _ = runtime.run(|io| io_select!(io, item = queue.select_get() => item));
}
