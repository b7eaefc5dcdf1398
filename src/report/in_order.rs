//! Numbered pieces of output written on threads, handed on in order. Takes
//! how many pieces there are, how to write piece `k` into a string and
//! what to do with each; hands the pieces on, in order, on the calling
//! thread. Never holds more than a few pieces per thread, whatever the
//! count, and never writes to a sink itself.

use std::io;
use std::sync::mpsc;

/// Pieces a thread writes ahead of the one handed on: memory stays a few
/// pieces per thread however many pieces there are.
const AHEAD: usize = 2;

/// Writes pieces `0..count` and hands each, in order, to `hand_on` on the
/// calling thread. With `threads` of 2 or more, thread `t` writes every
/// `threads`-th piece from `t`, into a string it was given back (its room
/// kept); `scratch` makes each thread's own state. Thread 0 is the calling
/// thread, writing its share between handing pieces on: a thread per CPU,
/// not one more that only waits (on 2 CPUs that one was switched in and
/// out at each piece, 8,000 times for a million tasks). An error from
/// `hand_on` ends it all and is handed back; the threads stop at their next
/// piece.
pub fn write_in_order<S>(
    count: usize,
    threads: usize,
    scratch: impl Fn() -> S + Sync,
    write: impl Fn(&mut S, usize, String) -> String + Sync,
    mut hand_on: impl FnMut(usize, &str) -> io::Result<()>,
) -> io::Result<()> {
    // On one thread the calling thread writes every piece, and none starts.
    let threads = threads.min(count).max(1);
    let (scratch, write) = (&scratch, &write);
    std::thread::scope(|scope| {
        let queues: Vec<_> = (1..threads)
            .map(|first| {
                let (full, written) = mpsc::sync_channel::<String>(AHEAD);
                let (back, empty) = mpsc::channel::<String>();
                scope.spawn(move || {
                    let mut s = scratch();
                    for k in (first..count).step_by(threads) {
                        let piece = write(&mut s, k, empty.try_recv().unwrap_or_default());
                        // The caller has stopped (its error): nothing to do.
                        if full.send(piece).is_err() {
                            return;
                        }
                    }
                });
                (written, back)
            })
            .collect();
        let mut own = scratch();
        let mut mine = String::new();
        for k in 0..count {
            match (k % threads).checked_sub(1) {
                None => {
                    mine = write(&mut own, k, std::mem::take(&mut mine));
                    hand_on(k, &mine)?;
                }
                Some(t) => {
                    let (written, back) = &queues[t];
                    // A thread gone early has panicked: the scope passes it on.
                    let Ok(piece) = written.recv() else { break };
                    hand_on(k, &piece)?;
                    let _ = back.send(piece);
                }
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(count: usize, threads: usize) -> Vec<String> {
        let mut got = Vec::new();
        write_in_order(
            count,
            threads,
            || 0usize,
            |written, k, mut out| {
                *written += 1;
                out.clear();
                out.push_str(&format!("{k}:{}", "x".repeat(k % 7)));
                out
            },
            |k, piece| {
                assert!(piece.starts_with(&format!("{k}:")));
                got.push(piece.to_owned());
                Ok(())
            },
        )
        .unwrap();
        got
    }

    #[test]
    fn pieces_come_in_order_on_any_number_of_threads() {
        for count in [0, 1, 2, 3, 10, 101] {
            let one = pieces(count, 1);
            assert_eq!(one.len(), count);
            for threads in [2, 3, 4, 16] {
                assert_eq!(
                    pieces(count, threads),
                    one,
                    "{count} pieces, {threads} threads"
                );
            }
        }
    }

    #[test]
    fn an_error_handing_on_ends_it_and_is_handed_back() {
        for threads in [1, 2, 4] {
            let mut handed = 0;
            let e = write_in_order(
                1000,
                threads,
                || (),
                |_, k, _| k.to_string(),
                |k, _| {
                    handed += 1;
                    match k {
                        5 => Err(io::ErrorKind::BrokenPipe.into()),
                        _ => Ok(()),
                    }
                },
            )
            .unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
            assert_eq!(handed, 6);
        }
    }
}
