use io::{io_select, Queue};

fn main() {
    let queue: Queue<u32> = Queue::new(1);
    let _ = io_select!({ item = queue.select_get() => item });
}
