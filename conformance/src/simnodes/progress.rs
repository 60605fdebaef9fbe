//! The progress line while nodes join: redrawn in place on a terminal, a log line every few
//! seconds otherwise.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{oneshot, watch};

use super::{Counters, ORDER};

const WIDTH: usize = 30;

pub struct Bar {
    done: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Bar {
    /// Draws the final state and ends the line.
    pub async fn finish(self) {
        let _ = self.done.send(());
        let _ = self.task.await;
    }
}

/// One line: `[#########.....] 45,000/100,000 nodes joined  2,104/s  21 s`.
pub fn line(joined: u64, total: u64, elapsed: Duration) -> String {
    let filled = if total == 0 {
        WIDTH
    } else {
        ((joined as u128 * WIDTH as u128) / total as u128) as usize
    };
    let rate = joined as f64 / elapsed.as_secs_f64().max(1e-3);
    format!(
        "[{}{}] {}/{} nodes joined  {}/s  {} s",
        "#".repeat(filled.min(WIDTH)),
        ".".repeat(WIDTH - filled.min(WIDTH)),
        thousands(joined),
        thousands(total),
        thousands(rate as u64),
        elapsed.as_secs()
    )
}

pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn spawn(counters: Arc<Counters>, total: u64, mut stopped: watch::Receiver<bool>) -> Bar {
    let (done, mut finished) = oneshot::channel();
    let task = tokio::spawn(async move {
        let started = Instant::now();
        let terminal = std::io::stderr().is_terminal();
        let every = if terminal {
            Duration::from_millis(200)
        } else {
            Duration::from_secs(5)
        };
        let draw = |end: bool| {
            let text = line(counters.registered.load(ORDER), total, started.elapsed());
            let mut err = std::io::stderr().lock();
            let _ = if terminal {
                write!(err, "\r{text}{}", if end { "\n" } else { "" })
            } else {
                writeln!(err, "{text}")
            };
            let _ = err.flush();
        };
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => draw(false),
                _ = &mut finished => break,
                _ = stopped.wait_for(|s| *s) => break,
            }
        }
        draw(true);
    });
    Bar { done, task }
}
