// The seed's example 7, written the natural way: each task returns an owned String; `?` after
// each join; whatever is not joined is canceled and its String dropped by the scope.
use std::time::{Duration, Instant};

use io::{io_async, scope, Canceled, Clock, Io};

fn do_work(io: Io, flavor_text: &str) -> Result<String, Canceled> {
    let copied_string = flavor_text.to_owned();
    println!("working {copied_string}");
    let _ = io.sleep(Duration::from_secs(1), Clock::Awake);
    Ok(copied_string)
}

fn juicy_main(io: Io) -> Result<Vec<String>, Canceled> {
    scope!(io, {
        let a = io_async!(do_work(io, "hard"));
        let b = io_async!(do_work(io, "on an excuse not to drink Spezi"));
        let a_string = a.join(io)?;
        let b_string = b.join(io)?;
        println!("finished {a_string}");
        println!("finished {b_string}");
        Ok(vec![a_string, b_string])
    })
}

#[io::main]
fn main(io: Io) -> Result<(), Canceled> {
    let start = Instant::now();
    let strings = juicy_main(io)?;
    assert_eq!(strings, ["hard", "on an excuse not to drink Spezi"]);
    let elapsed = start.elapsed();
    assert!(elapsed < Duration::from_millis(1900), "took {elapsed:?}");
    Ok(())
}
